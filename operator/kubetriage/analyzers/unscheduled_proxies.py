"""The proxies every request to the workload crosses first, none of them scheduled: the
proxies of a Gateway a route serving its pods attaches to, or of the Istio waypoint its
Services use (``Evidence.gateway_proxies``). When not one of them is ready and they all sit
Pending without a container to wait on (the scheduler has not placed them: taints, node
selectors, capacity), requests fail in front of healthy backends whatever the alert is named
after: the fix is to let the proxies' pods fit (tolerations, selectors, capacity), on the
proxies' workload. Proxies of which one runs ready, or that fail for another reason (an
image, a crash), earn nothing here.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.support import item
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.relations import PodTrouble
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure an unscheduled-proxy finding is, by the evidence that earns it."""

    # Every proxy in front of the workload is Pending unscheduled: no request reaches the
    # backends, so the proxies' placement is the cause however healthy the backend is (as
    # OOMKilled proxies in front of it, 0.9).
    unscheduled: float = 0.9


CONFIDENCE: Final = _Confidence()


def _unscheduled(trouble: PodTrouble) -> bool:
    """A pod the scheduler has not placed: Pending with no container waiting to start."""
    return trouble.phase == "Pending" and trouble.waiting is None and trouble.container is None


def check_unscheduled_proxies(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    for proxy in evidence.gateway_proxies:
        workload = proxy.workload
        if workload is None or workload.kind not in ACTION_TARGET_KINDS[Action.FREE_CAPACITY]:
            continue
        pending = [p for p in proxy.failing_pods if _unscheduled(p)]
        if proxy.ready_pods or not pending or len(pending) < len(proxy.failing_pods):
            continue
        gateway, bound = proxy.gateway, proxy.route
        facts = [
            item(f"gateway proxy {prose.obj(workload)}", f"pod {p.pod} Pending, not scheduled")
            for p in pending[:3]
        ]
        served = item(
            f"{bound.kind.lower()}/{bound.namespace}/{bound.name}",
            f"sends its traffic through {prose.obj(gateway)}: 0 of "
            f"{prose.count(proxy.pods, 'proxy pod')} ready",
        )
        findings.append(
            make_finding(
                "gateway-proxy-unscheduled",
                Category.UNSCHEDULABLE,
                CONFIDENCE.unscheduled,
                prose.narrative(
                    f"The proxies of {prose.obj(gateway)}, {prose.obj(workload)}, are not "
                    "scheduled",
                    "let their pods fit (tolerations, node selectors, capacity)",
                    aside=f"they carry the traffic of {prose.obj(bound)}",
                    because=[
                        prose.claim(
                            f"{prose.obj(bound)} sends the workload's traffic through "
                            f"{prose.obj(gateway)}, and none of its proxies is ready",
                            served,
                        ),
                        prose.claim(
                            "Their pods are Pending without being placed on a node, so "
                            "requests fail before they reach the backend pods",
                            *facts,
                        ),
                    ],
                ),
                [*facts, served],
                Action.FREE_CAPACITY,
                workload,
                {"gateway": gateway.name},
            )
        )
    return findings


UNSCHEDULED_PROXY_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("gateway-proxy-unscheduled", (Category.UNSCHEDULABLE,), check_unscheduled_proxies),
)
