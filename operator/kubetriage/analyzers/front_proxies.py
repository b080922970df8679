"""The proxies every request to the workload crosses first, OOM-killed: the ingress
controller serving its Ingress (``Evidence.ingress_controllers``, read through the
IngressClass) or the proxies of a Gateway a Gateway API route serving its pods attaches to
(``Evidence.gateway_proxies``). When their last runs ended OOMKilled and not all of them
are ready, requests fail or are refused before they reach the (healthy) backends, whatever
the alert is named after: raise the proxies' memory limit. Proxies that all run ready, or
fail for another reason, earn nothing here.

The ingress-controller rule is registered with the other OOM rules
(``oom.OOM_ANALYZERS``), the gateway-proxy rule in ``kubetriage.analyzers.ANALYZERS``;
pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.support import item
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.relations import PodTrouble
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a front-proxy finding is, by the evidence that earns it."""

    # The ingress controller serving the workload's Ingress has pods whose last run ended
    # OOMKilled and not all of them ready: every request through the Ingress passes that
    # proxy, so its memory limit is the cause of the backend's symptoms however healthy the
    # backend is (above the callee reading, 0.88).
    ingress_controller: float = 0.9
    # Not all of the proxies of a Gateway serving the workload's route are ready, and their
    # last runs ended OOMKilled (as for the ingress controller in front of it).
    oom_killed: float = 0.9


CONFIDENCE: Final = _Confidence()


def oom_killed_front(
    workload: ObjectRef | None, pods: int, ready: int, failing: list[PodTrouble], role: str
) -> tuple[ObjectRef, list[EvidenceItem], dict[str, str]] | None:
    """A proxy every request to the workload crosses first (an ingress controller, a
    Gateway's proxies), run by ``workload``, whose pods' last runs ended OOMKilled while not
    all ``pods`` are ready: its workload, the kills as facts (from ``role``) and the container
    to raise. None when its workload cannot take more memory or it is not so."""
    if workload is None or workload.kind not in ACTION_TARGET_KINDS[Action.INCREASE_MEMORY]:
        return None
    killed = [p for p in failing if p.last_terminated == "OOMKilled"]
    if not killed or ready >= pods:
        return None
    facts = [
        item(f"{role} {prose.obj(workload)}", f"pod {prose.pod_trouble(p)}") for p in killed[:3]
    ]
    container = killed[0].container
    return workload, facts, {"container": container} if container else {}


def check_ingress_controller_oom(evidence: Evidence) -> list[Finding]:
    """The ingress controller in front of the workload is OOMKilled: its pods' last runs
    ended OOMKilled and not all of them are ready, so requests through the Ingress fail or
    are refused before they reach the (healthy) backends. Raise the controller's memory."""
    findings: list[Finding] = []
    for controller in evidence.ingress_controllers:
        front = oom_killed_front(
            controller.workload,
            controller.pods,
            controller.ready_pods,
            controller.failing_pods,
            "ingress controller",
        )
        if front is None:
            continue
        workload, facts, params = front
        backend = next((s for s in evidence.services if s.name in controller.backends), None)
        namespace = backend.namespace if backend else workload.namespace
        source = f"ingress/{namespace}/{controller.ingress}"
        served = item(
            source,
            f"served by {controller.controller or 'its controller'} (class "
            f"{controller.ingress_class}): {controller.ready_pods} of "
            f"{prose.count(controller.pods, 'controller pod')} ready",
        )
        findings.append(
            make_finding(
                "ingress-controller-oom-killed",
                Category.OOM_KILLED,
                CONFIDENCE.ingress_controller,
                prose.narrative(
                    f"The ingress controller {prose.obj(workload)} is OOMKilled",
                    "raise its memory limit",
                    aside=f"it serves Ingress {controller.ingress}",
                    because=[
                        prose.claim(
                            f"Ingress {controller.ingress} is served by the pods of "
                            f"{prose.obj(workload)}, and not all of them are ready",
                            served,
                        ),
                        prose.claim(
                            "Their last runs ended OOMKilled, so requests through the Ingress "
                            "fail before they reach the backend pods",
                            *facts,
                        ),
                    ],
                ),
                [*facts, served],
                Action.INCREASE_MEMORY,
                workload,
                params,
            )
        )
    return findings


def check_gateway_proxy_oom(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    for proxy in evidence.gateway_proxies:
        front = oom_killed_front(
            proxy.workload, proxy.pods, proxy.ready_pods, proxy.failing_pods, "gateway proxy"
        )
        if front is None:
            continue
        workload, facts, params = front
        gateway, route = proxy.gateway, proxy.route
        served = item(
            f"{route.kind.lower()}/{route.namespace}/{route.name}",
            f"attached to {prose.obj(gateway)}, served by {proxy.ready_pods} of "
            f"{prose.count(proxy.pods, 'proxy pod')} ready",
        )
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
                params,
            )
        )
    return findings


GATEWAY_PROXY_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("gateway-proxy-oom-killed", (Category.OOM_KILLED,), check_gateway_proxy_oom),
)
