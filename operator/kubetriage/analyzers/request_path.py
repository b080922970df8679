"""The request-path rule: a hop in front of the workload (the backend an alerted Ingress
sends to, followed to the workload that serves it: ``DependencyEvidence.in_request_path``,
a proxy, an autoscaler's interceptor, an API gateway) is throttled by its own CPU limit while
the alert says requests are slow or failing. Every request crosses that hop, so its CFS quota
stalls them all, whatever the application behind it does: ``cpu-throttling``, raise the
hop's CPU limit, as an SRE does after following the Ingress rule to the workload serving it.
A proxy or cache whose mounted configuration routes to the workload's Service (an nginx or
Varnish in front of an origin) is such a hop too: its compression and TLS work grow with the
traffic, and a limit that fit the night stalls every request of the morning ramp.
A hop whose autoscaler runs its maximum of replicas (or says it is limited by it) while
requests are slow or failing is short of replicas for all the traffic it carries:
``resource-saturation``, raise its maximum (``request-path-saturation``). The ingress
controller serving the workload's Ingress (``DependencyEvidence.fronts_workload``) is such a
hop too when the workload's own pods all run and are ready: a controller shared by many
tenants and held at its maximum by one tenant's traffic slows every host behind it. A hop
that is neither throttled nor at its maximum adds nothing.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.cfs import (
    HEAVILY_THROTTLED_SHARE,
    THROTTLED_SHARE,
    workload_throttle_shares,
)
from kubetriage.analyzers.demand import alerted_strain
from kubetriage.analyzers.metrics import throttled_callees
from kubetriage.analyzers.pods import pod_failing
from kubetriage.analyzers.saturation import at_maximum, maxed_autoscaler_item, scaling_limited
from kubetriage.analyzers.support import item
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a throttled request-path hop finding is, by the evidence that earns it."""

    # A hop every request crosses is throttled in THROTTLED_SHARE of its CFS periods or more
    # while a latency or error alert fires: above a called workload's throttling (0.75).
    throttled: float = 0.8
    heavily_bonus: float = 0.05  # ... in HEAVILY_THROTTLED_SHARE of its periods or more
    # A hop every request crosses runs its autoscaler's maximum of replicas while a latency
    # or error alert fires (as for the workload's own autoscaler, 0.8) ...
    at_maximum: float = 0.8
    limited_bonus: float = 0.05  # ... and the autoscaler reports ScalingLimited


CONFIDENCE: Final = _Confidence()


def _throttled_hops(evidence: Evidence) -> list[tuple[ObjectRef, str, float, EvidenceItem]]:
    """The hops every request crosses that their CPU limit throttles in THROTTLED_SHARE of
    their CFS periods or more, most throttled first: (workload, container, share, why it is
    in the path): an alerted Ingress's backend (a followed dependency) and a proxy or cache a
    mounted file routes to the workload's Service (``CallerEvidence.fronts``)."""
    found: list[tuple[ObjectRef, str, float, EvidenceItem]] = [
        (
            ref,
            container,
            share,
            item("dependency", f"{ref.display()} serves the {dep.named_by[0].text}"),
        )
        for dep, ref, container, share in throttled_callees(evidence)
        if dep.in_request_path()
    ]
    for caller in evidence.callers:
        ref = caller.ref
        if not caller.fronts() or ref.kind not in ACTION_TARGET_KINDS[Action.INCREASE_CPU]:
            continue
        shares = workload_throttle_shares(evidence, ref)
        container = max(shares, key=lambda c: shares[c], default=None)
        if container is None or shares[container] < THROTTLED_SHARE:
            continue
        if any(f[0] == ref for f in found):
            continue
        routes = f"routes to {prose.obj(caller.callee)}: {caller.naming_texts()[0]}"
        path = item(f"{ref.kind.lower()}/{ref.namespace}/{ref.name}", routes)
        found.append((ref, container, shares[container], path))
    return sorted(found, key=lambda f: -f[2])


def check_request_path_throttling(evidence: Evidence) -> list[Finding]:
    strain = alerted_strain(evidence)
    if not strain:
        return []
    for ref, container, share, path in _throttled_hops(evidence)[:1]:
        heavily = share >= HEAVILY_THROTTLED_SHARE
        throttled = item(
            "metrics",
            f"{prose.percent(share)} of CFS periods throttled for {ref.name}"
            + (f" container {container}" if container else ""),
        )
        return [
            make_finding(
                "request-path-throttling",
                Category.CPU_THROTTLING,
                CONFIDENCE.throttled + (CONFIDENCE.heavily_bonus if heavily else 0.0),
                prose.narrative(
                    f"{prose.obj(ref)}, in the request path, is throttled by its CPU limit",
                    f"raise the CPU limit of {prose.obj(ref)}",
                    because=[
                        prose.claim("Requests are slow or failing", *strain),
                        prose.claim("Every request crosses it before the application", path),
                        prose.claim(
                            f"The kernel throttles it in {prose.percent(share)} of its CFS periods",
                            throttled,
                        ),
                    ],
                ),
                [throttled, path, *strain],
                Action.INCREASE_CPU,
                ref,
                {"container": container} if container else {},
            )
        ]
    return []


def check_request_path_saturation(evidence: Evidence) -> list[Finding]:
    strain = alerted_strain(evidence)
    if not strain:
        return []
    for dep in evidence.dependencies:
        ref = dep.workload
        if ref is None or not (dep.in_request_path() or _fronts_healthy_pods(evidence, dep)):
            continue
        if ref.kind not in ACTION_TARGET_KINDS[Action.SCALE_OUT]:
            continue
        hpa = next((h for h in dep.autoscalers if at_maximum(h)), None)
        if hpa is None:
            continue
        limited = scaling_limited(hpa)
        maxed = maxed_autoscaler_item(hpa, limited)
        role = "is the" if dep.fronts_workload() else "serves the"
        path = item("dependency", f"{ref.display()} {role} {dep.named_by[0].text}")
        return [
            make_finding(
                "request-path-saturation",
                Category.RESOURCE_SATURATION,
                CONFIDENCE.at_maximum + (CONFIDENCE.limited_bonus if limited else 0.0),
                prose.narrative(
                    f"{prose.obj(ref)}, in the request path, is at its autoscaler's maximum of "
                    f"{prose.count(hpa.max_replicas, 'replica')}",
                    f"raise the maximum to {hpa.max_replicas * 2}",
                    because=[
                        prose.claim("Requests are slow or failing", *strain),
                        prose.claim("Every request crosses it before the application", path),
                        prose.claim("It runs as many replicas as it may", maxed),
                    ],
                ),
                [maxed, path, *strain],
                Action.SCALE_OUT,
                ref,
                {"replicas": str(hpa.max_replicas * 2), "hpa": hpa.name},
            )
        ]
    return []


def _fronts_healthy_pods(evidence: Evidence, dep: DependencyEvidence) -> bool:
    """The ingress controller serving the workload's Ingress (every request crosses it first)
    while the workload's own pods all run and are ready: the slowness is not theirs to explain.
    A controller shared by many tenants runs out of replicas for all of them at once."""
    pods = [p for p in evidence.pods if p.containers]
    return dep.fronts_workload() and bool(pods) and not any(pod_failing(p) for p in pods)


REQUEST_PATH_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("request-path-throttling", (Category.CPU_THROTTLING,), check_request_path_throttling),
    Analyzer(
        "request-path-saturation", (Category.RESOURCE_SATURATION,), check_request_path_saturation
    ),
)
