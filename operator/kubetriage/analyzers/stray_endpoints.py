"""Stray endpoints: a Service whose selector also matches the pods of another workload that
does not serve its port. The endpoints controller lists every ready pod the selector
matches, so a selector of one broad label (``app: catalog``) written before a second
workload with the same label existed starts sending a share of the connections to pods
that refuse them; every pod is Ready and the failure shows only as a fraction of errors
(retried by a proxy, mostly hidden). An SRE lists the Service's endpoints, sees pods of two
workloads behind it and the second one declaring none of the Service's target ports; the
fix is the Service's selector (add the label that tells the workloads apart), not either
workload. A named targetPort the stray pods do not declare is not this case: the endpoints
controller skips them.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.calls import service_fact
from kubetriage.analyzers.support import item, owner_workload, pod_source, service_source
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import PodEvidence, ServiceEvidence
from kubetriage.models.objects import service_selects
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a stray-endpoints finding is."""

    # The Service selects ready pods of two workloads and one of them declares none of its
    # numeric target ports while the other does.
    stray_workload: float = 0.8


CONFIDENCE: Final = _Confidence()


def _numeric_targets(svc: ServiceEvidence) -> set[str]:
    """The Service's target ports given as numbers ("http:80->8080/TCP" -> "8080")."""
    return {p.target for p in svc.ports if p.target is not None and p.target.isdigit()}


def _declares(pods: list[PodEvidence], port: str) -> bool:
    return any(p_port.answers(port) for p in pods for c in p.containers for p_port in c.ports)


def _ready(pod: PodEvidence) -> bool:
    return pod.phase == "Running" and all(c.ready for c in pod.containers if not c.init)


def _by_workload(
    svc: ServiceEvidence, evidence: Evidence
) -> dict[str, tuple[ObjectRef, list[PodEvidence]]]:
    """The ready pods the Service's selector matches, grouped by the workload owning them."""
    groups: dict[str, tuple[ObjectRef, list[PodEvidence]]] = {}
    for pod in evidence.pods:
        if pod.namespace != svc.namespace or not service_selects(svc.selector, pod.labels):
            continue
        owner = owner_workload(pod)
        if owner is None or not _ready(pod):
            continue
        groups.setdefault(owner.key(), (owner, []))[1].append(pod)
    return groups


def check_stray_endpoints(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    for svc in evidence.services:
        if svc.type == "ExternalName" or not svc.selector:
            continue
        targets = _numeric_targets(svc)
        groups = _by_workload(svc, evidence)
        if not targets or len(groups) < 2:
            continue
        serving = [
            (ref, pods) for ref, pods in groups.values() if any(_declares(pods, t) for t in targets)
        ]
        # Pods that declare their ports, none of them a target: they listen elsewhere (pods
        # that declare none may still listen on the target port).
        stray = [
            (ref, pods)
            for ref, pods in groups.values()
            if any(c.ports for p in pods for c in p.containers)
            and not any(_declares(pods, t) for t in targets)
        ]
        if not serving or not stray:
            continue
        ref = svc.ref()
        port = prose.listing(sorted(targets))
        stray_ref, stray_pods = stray[0]
        declared = sorted({port.text for p in stray_pods for c in p.containers for port in c.ports})
        split = item(
            service_source(svc),
            f"selector {prose.selector(svc.selector)} matches "
            + "; ".join(
                f"{prose.count(len(pods), 'ready pod')} of {w.kind} {w.name}"
                for w, pods in groups.values()
            ),
        )
        stray_fact = item(
            pod_source(stray_pods[0]),
            f"declares {prose.listing(declared)}, not {port}",
        )
        findings.append(
            make_finding(
                "stray-endpoints",
                Category.NETWORK,
                CONFIDENCE.stray_workload,
                prose.narrative(
                    f"{prose.obj(ref)} also sends traffic to the pods of {prose.obj(stray_ref)}",
                    "narrow its selector to the workload that serves it",
                    aside=f"selector {prose.selector(svc.selector)}",
                    because=[
                        prose.claim(
                            f"Its selector matches the ready pods of "
                            f"{prose.count(len(groups), 'workload')}, so all of them are its "
                            "endpoints",
                            split,
                        ),
                        prose.claim(
                            f"The pods of {prose.obj(stray_ref)} do not expose port {port}, so "
                            "the connections sent to them are refused",
                            stray_fact,
                        ),
                        prose.claim(
                            f"The pods of {prose.obj(serving[0][0])} serve port {port}",
                            service_fact(svc),
                        ),
                    ],
                ),
                [split, stray_fact, service_fact(svc)],
                Action.FIX_NETWORK,
                ref,
                {"service": svc.name},
            )
        )
    return findings


STRAY_ENDPOINT_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("stray-endpoints", (Category.NETWORK,), check_stray_endpoints),
)
