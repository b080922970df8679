"""The verdict of the NetworkPolicies on one flow, and the finding that names the policy
blocking it. Shared by every rule that evaluates flows (``kubetriage.analyzers.policies`` for
the workload's own calls and lookups, ``scaler_policies``, ``api_egress``,
``lb_health_sources``): a flow is blocked when a policy isolating one of its ends leaves no
rule for it (``kubetriage.networkpolicy``); a flow through a Service is judged on the ports
the Service lands on (its targetPorts, or the ambient mesh's tunnel port), since policies see
the packet after kube-proxy rewrote it. The finding names the blocking policy, or the allow
policy that would admit the flow but is aimed wrong (``allow_policies``), notes an allow rule
naming the Service's virtual address (which admits nothing), and is less sure when an
ipBlock might admit the flow.

Pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.allow_policies import MisaimedAllow
from kubetriage.analyzers.ambient_tunnel import tunnelled
from kubetriage.analyzers.base import make_finding
from kubetriage.analyzers.support import item
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import PodEvidence, ServiceEvidence
from kubetriage.models.vocabulary import Action, Category
from kubetriage.networkpolicy import Endpoint, Flow, Verdict, flow_verdicts, service_ip_blocks


@dataclass(frozen=True, slots=True)
class _Confidence:
    """What a policy finding's caveat takes off the confidence its rule gives it."""

    ip_block_penalty: float = 0.15  # an ipBlock might admit it (a peer pod without known IPs)


CONFIDENCE: Final = _Confidence()


def blocked(evidence: Evidence, flow: Flow) -> Verdict | None:
    """The first verdict of the evidence's policies that denies ``flow``; None if allowed."""
    for verdict in flow_verdicts(evidence.network_policies, flow):
        if not verdict.allowed:
            return verdict
    return None


def blocked_to_service(
    evidence: Evidence, flow: Flow, service: ServiceEvidence | None
) -> Verdict | None:
    """The verdict denying a flow through ``service``: policies see the pods' ports (the
    Service's targetPorts), not the port clients dial, so the flow is checked on each port
    the Service lands on and is blocked only when no one of them is allowed. A policy that
    admits the Service's port but not its targetPort blocks it. Without known pod ports,
    the flow is checked on any port."""
    if (tunnel := tunnelled(flow)) is not None:
        # Both ends in the ambient mesh: the pods receive the flow on the tunnel's port.
        return blocked(evidence, tunnel)
    ports = [p for p in service.pod_ports if p.number is not None] if service else []
    if not ports:
        return blocked(evidence, flow)
    denied: list[Verdict] = []
    for port in ports:
        verdict = blocked(evidence, replace(flow, port=port.number, port_name=port.name))
        if verdict is None:
            return None
        denied.append(verdict)
    return denied[0]


def policy_finding(
    evidence: Evidence,
    verdict: Verdict,
    what: str,
    facts: list[EvidenceItem],
    confidence: float,
    symptom: str = "The workload's calls fail the way dropped packets do",
    misaimed: MisaimedAllow | None = None,
    destination: Endpoint | None = None,
) -> Finding:
    if misaimed is not None:
        policy = misaimed.policy
        ref = ObjectRef(kind="NetworkPolicy", namespace=policy.namespace, name=policy.name)
        return make_finding(
            "network-policy",
            Category.NETWORK,
            confidence,
            prose.narrative(
                f"{prose.obj(ref)} {misaimed.problem}",
                misaimed.fix,
                aside=verdict.direction,
                because=[
                    prose.claim(
                        f"No rule of the policies isolating {misaimed.isolated} allows {what}",
                        misaimed.fact,
                    ),
                    prose.claim(symptom, *facts[:2]),
                ],
            ),
            [misaimed.fact, *facts],
            Action.FIX_NETWORK,
            ref,
            {"networkPolicy": policy.name},
        )
    policy = next(
        p
        for p in evidence.network_policies
        if p.name == verdict.blocking[0] and p.namespace == verdict.namespace
    )
    ref = ObjectRef(kind="NetworkPolicy", namespace=policy.namespace, name=policy.name)
    source = f"networkpolicy/{policy.namespace}/{policy.name}"
    facts = [
        item(
            source,
            f"isolates {verdict.direction} of the pods it selects and no rule of "
            f"{', '.join(verdict.blocking)} allows {what}",
        ),
        *facts,
    ]
    if verdict.ip_block_caveat:
        confidence -= CONFIDENCE.ip_block_penalty
    because = [
        prose.claim(f"No rule of the policies isolating the pods allows {what}", facts[0]),
        prose.claim(symptom, *facts[1:3]),
    ]
    blocks = service_ip_blocks(policy, verdict.direction, destination) if destination else []
    if blocks:
        named = item(source, f"allows ipBlock {prose.listing(blocks)}, the Service's clusterIP")
        facts.append(named)
        because.append(
            prose.claim(
                "Its rule names the Service's virtual address; policies apply after kube-proxy "
                "rewrote it to a pod's address, so the rule admits nothing",
                named,
            )
        )
    return make_finding(
        "network-policy",
        Category.NETWORK,
        confidence,
        prose.narrative(
            f"{prose.obj(ref)} blocks {what}",
            f"allow it in {policy.name}",
            aside=verdict.direction,
            because=because,
        ),
        facts,
        Action.FIX_NETWORK,
        ref,
        {"networkPolicy": policy.name},
    )


def pod_endpoint(evidence: Evidence, pod: PodEvidence) -> Endpoint:
    """The flow endpoint of ``pod``: its namespace, labels, namespace labels and addresses."""
    return Endpoint(
        namespace=pod.namespace,
        labels=pod.labels,
        namespace_labels=evidence.namespace_labels.get(pod.namespace, {}),
        ips=tuple(pod.ips),
    )
