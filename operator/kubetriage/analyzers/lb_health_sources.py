"""The cloud-load-balancer-blocked rule: a Service whose pods a cloud load balancer reaches
directly (GKE container-native load balancing: the NEG controller records the Service's
network endpoint groups in its ``cloud.google.com/neg-status`` annotation) receives the load
balancer's health checks and proxied requests from the provider's documented source ranges
(130.211.0.0/22 and 35.191.0.0/16 for Google Cloud), not from a pod of the cluster. When the
NetworkPolicies isolating those pods admit none of these addresses, every endpoint turns
unhealthy, the load balancer answers 502 for all traffic, and a new pod's NEG readiness gate
(``cloud.google.com/load-balancer-neg-ready``) never turns true, which holds a rollout that
happens to run at the time. An SRE admits the health-check ranges in the policy; rolling the
workload back brings back neither.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import ip_network
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.policy_verdicts import pod_endpoint
from kubetriage.analyzers.support import item, pod_source
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import PodEvidence, ServiceEvidence
from kubetriage.models.objects import service_selects
from kubetriage.models.vocabulary import Action, Category
from kubetriage.networkpolicy import Endpoint, Flow, ingress_verdict


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a blocked-load-balancer finding is, by the evidence that earns it."""

    # The pods' policies admit no address of the load balancer's source ranges, and a pod's
    # NEG readiness gate reports it unhealthy in the load balancer: above a rollout that
    # coincides (0.88), which the gate itself holds.
    blocked_unhealthy: float = 0.9
    blocked: float = 0.78  # ... without the load balancer's own word on the endpoints


CONFIDENCE: Final = _Confidence()

# The annotation the GKE NEG controller writes on a Service it made endpoint groups for.
NEG_STATUS: Final = "cloud.google.com/neg-status"
# The readiness gate it adds to the pods of such a Service.
NEG_READY: Final = "cloud.google.com/load-balancer-neg-ready"
# Google Cloud's health checkers and front ends: its documented source ranges, and the
# first address of each (a policy admitting the range admits it).
GOOGLE_LB_RANGES: Final = ("130.211.0.0/22", "35.191.0.0/16")
GOOGLE_LB_SOURCES: Final = tuple(str(ip_network(r)[1]) for r in GOOGLE_LB_RANGES)


def _unhealthy(pods: list[PodEvidence]) -> EvidenceItem | None:
    for pod in pods:
        for condition in pod.conditions:
            if condition.type == NEG_READY and condition.status == "False":
                return item(
                    pod_source(pod),
                    f"{condition.type}=False {condition.reason or ''}: "
                    f"{condition.message or ''}".strip(),
                )
    return None


def _blocked(evidence: Evidence, svc: ServiceEvidence) -> tuple[list[str], list[PodEvidence]]:
    """The policies isolating the Service's pods that admit no load-balancer address, and
    the pods (empty when some address is admitted)."""
    pods = [
        p
        for p in evidence.pods
        if p.namespace == svc.namespace and svc.selector and service_selects(svc.selector, p.labels)
    ]
    if not pods:
        return [], []
    destination = pod_endpoint(evidence, pods[0])
    blocking: list[str] = []
    for address in GOOGLE_LB_SOURCES:
        source = Endpoint(namespace="", labels=None, ips=(address,), address_only=True)
        verdict = ingress_verdict(evidence.network_policies, Flow(source, destination))
        if verdict.allowed:
            return [], []
        blocking += [name for name in verdict.blocking if name not in blocking]
    return blocking, pods


def check_lb_sources_blocked(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    for svc in evidence.services:
        if NEG_STATUS not in svc.annotations:
            continue
        blocking, pods = _blocked(evidence, svc)
        if not blocking:
            continue
        ref = ObjectRef(kind="NetworkPolicy", namespace=svc.namespace, name=blocking[0])
        ranges = prose.listing(list(GOOGLE_LB_RANGES))
        isolated = item(
            f"networkpolicy/{svc.namespace}/{blocking[0]}",
            f"isolates ingress of the pods of Service {svc.name}; no rule of "
            f"{', '.join(blocking)} admits {ranges}",
        )
        negs = item(
            f"service/{svc.namespace}/{svc.name}", f"{NEG_STATUS}: {svc.annotations[NEG_STATUS]}"
        )
        facts = [isolated, negs]
        because = [
            prose.claim(
                f"A Google Cloud load balancer sends to the pods of {svc.name} directly, "
                "through network endpoint groups",
                negs,
            ),
            prose.claim(
                f"Its health checks and requests come from {ranges}, and no rule of the "
                "policies isolating those pods admits them",
                isolated,
            ),
        ]
        unhealthy = _unhealthy(pods)
        if unhealthy is not None:
            facts.append(unhealthy)
            because.append(
                prose.claim(
                    "The load balancer reports a pod unhealthy, so its readiness gate holds it",
                    unhealthy,
                )
            )
        findings.append(
            make_finding(
                "lb-sources-blocked",
                Category.NETWORK,
                CONFIDENCE.blocked_unhealthy if unhealthy is not None else CONFIDENCE.blocked,
                prose.narrative(
                    f"{prose.obj(ref)} blocks the cloud load balancer in front of {svc.name}",
                    "admit the load balancer's health-check ranges",
                    because=because,
                ),
                facts,
                Action.FIX_NETWORK,
                ref,
                {"networkPolicy": blocking[0]},
            )
        )
    return findings


LB_SOURCE_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("lb-sources-blocked", (Category.NETWORK,), check_lb_sources_blocked),
)
