"""The gateway-proxy rule: the proxies of a Gateway in front of the workload (a Gateway API
route serving its pods attaches to that Gateway: ``Evidence.gateway_proxies``) are
OOM-killed and not all of them are ready. Every request to the workload crosses those pods
first, so requests fail or are refused before they reach the (healthy) backends, whatever
the alert is named after: raise the proxies' memory limit, as for an ingress controller
(``oom.check_ingress_controller_oom``). Proxies that all run ready, or fail for another
reason, earn nothing here.

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
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a gateway-proxy finding is, by the evidence that earns it."""

    # Not all of the proxies of a Gateway serving the workload's route are ready, and their
    # last runs ended OOMKilled (as for the ingress controller in front of it, 0.9).
    oom_killed: float = 0.9


CONFIDENCE: Final = _Confidence()


def check_gateway_proxy_oom(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    for proxy in evidence.gateway_proxies:
        workload = proxy.workload
        if workload is None or workload.kind not in ACTION_TARGET_KINDS[Action.INCREASE_MEMORY]:
            continue
        killed = [p for p in proxy.failing_pods if p.last_terminated == "OOMKilled"]
        if not killed or proxy.ready_pods >= proxy.pods:
            continue
        gateway, route = proxy.gateway, proxy.route
        served = item(
            f"{route.kind.lower()}/{route.namespace}/{route.name}",
            f"attached to {prose.obj(gateway)}, served by {proxy.ready_pods} of "
            f"{prose.count(proxy.pods, 'proxy pod')} ready",
        )
        facts = [
            item(f"gateway proxy {prose.obj(workload)}", f"pod {prose.pod_trouble(p)}")
            for p in killed[:3]
        ]
        container = killed[0].container
        findings.append(
            make_finding(
                "gateway-proxy-oom-killed",
                Category.OOM_KILLED,
                CONFIDENCE.oom_killed,
                prose.narrative(
                    f"The proxies of {prose.obj(gateway)}, {prose.obj(workload)}, are OOMKilled",
                    "raise their memory limit",
                    aside=f"they serve {prose.obj(route)}",
                    because=[
                        prose.claim(
                            f"{prose.obj(route)} sends the workload's traffic through "
                            f"{prose.obj(gateway)}, whose proxies are not all ready",
                            served,
                        ),
                        prose.claim(
                            "Their last runs ended OOMKilled, so requests fail before they "
                            "reach the backend pods",
                            *facts,
                        ),
                    ],
                ),
                [*facts, served],
                Action.INCREASE_MEMORY,
                workload,
                {"container": container} if container else {},
            )
        )
    return findings


GATEWAY_PROXY_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("gateway-proxy-oom-killed", (Category.OOM_KILLED,), check_gateway_proxy_oom),
)
