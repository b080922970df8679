"""The proxy in front of the workload runs out of CPU: the proxies of a Gateway or Istio
waypoint its traffic crosses (``Evidence.gateway_proxies``) or the ingress controller serving
its Ingress (a dependency that fronts it), whose own CPU series the operator reads as it reads
a called workload's (``callee_cpu_throttled_ratio``, ``callee_cpu_usage_cores``). Every request
waits in that proxy before it reaches the workload, so when the proxy's containers are
throttled by their CPU limit (their usage pinned at it, or throttled in most CFS periods) the
callers see the latency while the workload's own pods answer fast. An SRE then gives the proxy
more room: scale it out (the proxy's load spreads over replicas; raising its limit also
helps), whatever the alert is named after.

When the proxy's CPU use rose within the window, the load grew into the limit (a flash sale, a
campaign): that is saturation, and the fix leads with replicas. The incident's own throttled
containers are the cpu-throttling rule's; a proxy with no throttling earns nothing here.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.cfs import (
    HEAVILY_THROTTLED_SHARE,
    PINNED_SHARE,
    THROTTLED_SHARE,
    of_workload,
    throttle_ratios,
    workload_throttle_shares,
)
from kubetriage.analyzers.support import item
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a saturated-proxy finding is, by the evidence that earns it."""

    # A proxy every request crosses uses its CPU limit (usage at PINNED_SHARE of it or more)
    # and is throttled, while the workload behind it is not: above the workload's own
    # saturation reading (0.55), which sees only the load passing through.
    pinned: float = 0.8
    # ... and its CPU use rose within the window: the load grew into the limit.
    grew_bonus: float = 0.05
    # No usage series or no known limit: throttled in HEAVILY_THROTTLED_SHARE of its periods.
    throttled: float = 0.72


CONFIDENCE: Final = _Confidence()

# The per-pod CPU use of the followed workloads (``query_templates``).
CALLEE_USAGE: Final = "callee_cpu_usage_cores"


@dataclass(frozen=True, slots=True)
class _Proxy:
    ref: ObjectRef
    role: str
    pods: int
    cpu_limits: dict[str, float]


def _proxies(evidence: Evidence) -> list[_Proxy]:
    """The proxies in the request path in front of the workload, with their CPU limits."""
    found: list[_Proxy] = []
    for proxy in evidence.gateway_proxies:
        if proxy.workload is not None:
            role = f"proxy of {prose.obj(proxy.gateway)}"
            found.append(_Proxy(proxy.workload, role, proxy.pods, proxy.cpu_limits))
    for dep in evidence.dependencies:
        ref = dep.workload
        if dep.fronts_workload() and ref is not None and all(p.ref != ref for p in found):
            found.append(_Proxy(ref, "ingress controller", dep.pods, {}))
    return [p for p in found if p.ref.kind in ACTION_TARGET_KINDS[Action.SCALE_OUT]]


def _usage(evidence: Evidence, ref: ObjectRef) -> list[MetricSummary]:
    return [m for m in evidence.metrics if m.name == CALLEE_USAGE and of_workload(m, ref)]


def check_saturated_proxy(evidence: Evidence) -> list[Finding]:
    """A proxy every request to the workload crosses is throttled at its CPU limit while the
    workload's own containers are not: scale the proxy out."""
    if any(share >= THROTTLED_SHARE for share in throttle_ratios(evidence).values()):
        return []  # the workload's own limit speaks first (cpu-throttling)
    for proxy in _proxies(evidence):
        shares = workload_throttle_shares(evidence, proxy.ref)
        if not shares:
            continue
        container, share = max(shares.items(), key=lambda s: s[1])
        if share < THROTTLED_SHARE:
            continue
        usage = _usage(evidence, proxy.ref)
        used = max((m.last for m in usage if m.last is not None), default=None)
        limit = proxy.cpu_limits.get(container)
        pinned = used is not None and limit is not None and used >= PINNED_SHARE * limit
        if not pinned and share < HEAVILY_THROTTLED_SHARE:
            continue
        grew = any(m.trend == "rising" for m in usage)
        facts: list[EvidenceItem] = [
            item(
                "metrics",
                f"{prose.percent(share)} of CFS periods throttled for {proxy.ref.name} "
                f"container {container}",
            )
        ]
        if used is not None:
            facts.append(
                item(
                    "metrics",
                    f"{proxy.ref.name} uses {prose.cpu(used)} per pod"
                    + (f" of its {prose.cpu(limit)} limit" if limit is not None else "")
                    + (", up within the window" if grew else ""),
                )
            )
        confidence = CONFIDENCE.pinned + (CONFIDENCE.grew_bonus if grew else 0.0)
        replicas = max(proxy.pods, 1) * 2
        return [
            make_finding(
                "saturated-proxy",
                Category.RESOURCE_SATURATION,
                confidence if pinned else CONFIDENCE.throttled,
                prose.narrative(
                    f"{prose.obj(proxy.ref)}, the {proxy.role} in front of the workload, "
                    "runs out of CPU",
                    f"scale it out to {replicas} replicas",
                    aside="or raise its CPU limit",
                    because=[
                        prose.claim(
                            f"Every request to the workload crosses {prose.obj(proxy.ref)} "
                            f"first ({proxy.role})"
                        ),
                        prose.claim(
                            f"It is throttled in {prose.percent(share)} of its CFS periods"
                            + (" and uses its whole CPU limit" if pinned else ""),
                            *facts,
                        ),
                        prose.claim(
                            "A proxy that waits for CPU queues every request, so callers see "
                            "the latency while the workload's own pods answer"
                            + (" as before; its load grew into the limit" if grew else "")
                        ),
                    ],
                ),
                facts,
                Action.SCALE_OUT,
                proxy.ref,
                {"replicas": str(replicas), "container": container},
            )
        ]
    return []


SATURATED_PROXY_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("saturated-proxy", (Category.RESOURCE_SATURATION,), check_saturated_proxy),
)
