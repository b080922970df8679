"""Part of the routing rule (``kubetriage.analyzers.routing``): the ingress controller behind
an Ingress (read through its IngressClass, often in a namespace of its own) that the backend
pods' NetworkPolicies do not admit, wholly or at some of its pods' addresses only (an ipBlock
written for the controller's nodes that a node in another subnet falls outside of). Each
controller address is a flow of its own (``networkpolicy.verdicts_by_source_address``).

Pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import make_finding
from kubetriage.analyzers.support import item
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ServiceEvidence
from kubetriage.models.objects import service_selects as _selects
from kubetriage.models.relations import IngressControllerEvidence
from kubetriage.models.vocabulary import Action, Category
from kubetriage.networkpolicy import Endpoint, Flow, verdicts_by_source_address


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure an ingress-controller admission finding is, by the evidence that earns it."""

    # The backend pods of an Ingress are isolated for ingress and no rule admits the pods of
    # the Ingress's controller (read through its IngressClass): every request is dropped.
    controller_blocked: float = 0.86
    # ... the pods of the controller at some addresses only: one policy's rule (an ipBlock)
    # admits its other pods, so that rule was written for the controller and misses these
    # addresses (a node in a new subnet); the requests they forward are dropped.
    controller_partly_blocked: float = 0.86


CONFIDENCE: Final = _Confidence()


def _endpoint(
    evidence: Evidence, namespace: str, labels: dict[str, str], ips: list[str]
) -> Endpoint:
    return Endpoint(
        namespace=namespace,
        labels=labels,
        namespace_labels=evidence.namespace_labels.get(namespace, {}),
        ips=tuple(ips),
    )


def ingress_controller_blocked(evidence: Evidence) -> list[Finding]:
    """An Ingress's controller whose pods the backend pods' NetworkPolicies do not admit:
    the requests it forwards are dropped (the controller answers 502/504)."""
    findings: list[Finding] = []
    for controller in evidence.ingress_controllers:
        if controller.namespace is None or not controller.labels:
            continue
        source = _endpoint(evidence, controller.namespace, controller.labels, controller.ips)
        for svc in evidence.services:
            if svc.name not in controller.backends or not svc.selector:
                continue
            selected = [
                p
                for p in evidence.pods
                if p.namespace == svc.namespace and _selects(svc.selector, p.labels)
            ]
            for pod in selected[:1]:
                destination = _endpoint(evidence, pod.namespace, pod.labels, pod.ips)
                verdicts = verdicts_by_source_address(
                    evidence.network_policies, Flow(source=source, destination=destination)
                )
                denied = [(ip, v) for ip, v in verdicts if not v.allowed]
                if not denied:
                    continue
                admitting = next((v.allowed_by for _, v in verdicts if v.allowed_by), None)
                if admitting is None:
                    findings.append(
                        _controller_finding(evidence, controller, svc, denied[0][1].blocking)
                    )
                else:
                    findings.append(
                        _controller_partly_admitted(
                            controller, svc, admitting, [ip for ip, _ in denied if ip]
                        )
                    )
                break
            if findings:
                return findings
    return findings


def _controller_finding(
    evidence: Evidence,
    controller: IngressControllerEvidence,
    svc: ServiceEvidence,
    blocking: tuple[str, ...],
) -> Finding:
    ref = ObjectRef(kind="NetworkPolicy", namespace=svc.namespace, name=blocking[0])
    served = item(
        f"ingress/{svc.namespace}/{controller.ingress}",
        f"served by {controller.controller} (class {controller.ingress_class}); "
        f"{prose.count(controller.pods, 'controller pod')} in namespace {controller.namespace}",
    )
    isolated = item(
        f"networkpolicy/{svc.namespace}/{blocking[0]}",
        f"isolates ingress of the pods of Service {svc.name}; no rule of "
        f"{', '.join(blocking)} admits pods of namespace {controller.namespace}",
    )
    controller_ref = ObjectRef(kind="Ingress", namespace=svc.namespace, name=controller.ingress)
    return make_finding(
        "network",
        Category.NETWORK,
        CONFIDENCE.controller_blocked,
        prose.narrative(
            f"{prose.obj(ref)} blocks the ingress controller's traffic",
            f"admit namespace {controller.namespace}",
            aside=f"{prose.obj(controller_ref)} is served from namespace {controller.namespace}",
            because=[
                prose.claim(
                    f"{prose.obj(controller_ref)} is served by controller pods in namespace "
                    f"{controller.namespace}",
                    served,
                ),
                prose.claim(
                    f"No rule of the policies isolating the pods of {svc.name} admits them, so "
                    "every request the controller forwards is dropped",
                    isolated,
                ),
            ],
        ),
        [isolated, served],
        Action.FIX_NETWORK,
        ref,
        {"networkPolicy": blocking[0]},
    )


def _controller_partly_admitted(
    controller: IngressControllerEvidence, svc: ServiceEvidence, policy: str, denied: list[str]
) -> Finding:
    ref = ObjectRef(kind="NetworkPolicy", namespace=svc.namespace, name=policy)
    controller_ref = ObjectRef(kind="Ingress", namespace=svc.namespace, name=controller.ingress)
    addresses = prose.listing(denied)
    admits = item(
        f"networkpolicy/{svc.namespace}/{policy}",
        f"admits the {controller.controller} pods of namespace {controller.namespace} at some "
        f"addresses; none of its rules admits {addresses}",
    )
    served = item(
        f"ingress/{svc.namespace}/{controller.ingress}",
        f"served by {prose.count(controller.pods, 'controller pod')} in namespace "
        f"{controller.namespace} at {prose.listing(controller.ips)}",
    )
    return make_finding(
        "network",
        Category.NETWORK,
        CONFIDENCE.controller_partly_blocked,
        prose.narrative(
            f"{prose.obj(ref)} admits only some of the ingress controller's pods",
            "admit the addresses of its other pods too",
            aside=f"{prose.obj(controller_ref)} is served from namespace {controller.namespace}",
            because=[
                prose.claim(
                    f"{prose.obj(controller_ref)} is served by controller pods in namespace "
                    f"{controller.namespace}",
                    served,
                ),
                prose.claim(
                    f"{prose.obj(ref)} admits the controller's other pods, so its rule was "
                    f"written for the controller, but not the pods at {addresses}: the requests "
                    "they forward to the pods of "
                    f"{svc.name} are dropped",
                    admits,
                ),
            ],
        ),
        [admits, served],
        Action.FIX_NETWORK,
        ref,
        {"networkPolicy": policy},
    )
