"""Which ingress policy was written for a blocked flow and misses the callee's pods.

When a namespace denies ingress by default, a caller's flow is admitted only by an allow
policy that selects the callee's pods. A flow blocked there usually has such a policy, aimed
wrong: it selects only some of the Service's pods (a version or track label added to its
selector), or it selects them by a label they do not carry (the key renamed, the value kept,
as when a chart moves from ``app`` to ``app.kubernetes.io/name``). Either way the fix is that
policy's podSelector, not opening the namespace's deny-all.

Pure functions of Evidence, used by ``kubetriage.analyzers.policies``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from kubetriage import prose
from kubetriage.analyzers.support import item
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem
from kubetriage.models.network_policies import NetworkPolicyEvidence
from kubetriage.models.object_evidence import ServiceEvidence
from kubetriage.networkpolicy import Flow, ingress_verdict


@dataclass(frozen=True, slots=True)
class MisaimedAllow:
    """An allow policy written for the flow that misses the pods it should admit it to."""

    policy: NetworkPolicyEvidence
    fact: EvidenceItem  # what its podSelector selects against what the pods carry
    problem: str  # the finding's problem sentence
    fix: str  # the finding's fix
    isolated: str  # the pods the deny leaves without a rule ("the other pods", ...)


def _ingress_candidates(
    evidence: Evidence, service: ServiceEvidence
) -> list[tuple[NetworkPolicyEvidence, dict[str, str]]]:
    """The Ingress policies of the Service's namespace selecting by labels only, with those
    labels."""
    return [
        (policy, dict(policy.selector.match_labels))
        for policy in sorted(evidence.network_policies, key=lambda p: p.name)
        if policy.namespace == service.namespace
        and "Ingress" in policy.policy_types
        and not policy.selector.match_expressions
        and policy.selector.match_labels
    ]


def _admits(policy: NetworkPolicyEvidence, flow: Flow, labels: dict[str, str]) -> bool:
    """Whether ``policy`` admits ``flow`` to a pod carrying ``labels``."""
    chosen = replace(flow.destination, labels=labels)
    return ingress_verdict([policy], replace(flow, destination=chosen)).allowed


def _narrowed(evidence: Evidence, flow: Flow, service: ServiceEvidence) -> MisaimedAllow | None:
    """The policy whose podSelector holds every label of the Service's selector plus more (a
    version or track label) and admits the caller: the Service's other pods fall under the
    deny; the fix is to widen that selector."""
    for policy, labels in _ingress_candidates(evidence, service):
        if len(labels) <= len(service.selector) or any(
            labels.get(k) != v for k, v in service.selector.items()
        ):
            continue
        if not _admits(policy, flow, {**service.selector, **labels}):
            continue
        extra = {k: v for k, v in labels.items() if k not in service.selector}
        name = f"{service.namespace}/{service.name}"
        fact = item(
            f"networkpolicy/{policy.namespace}/{policy.name}",
            f"admits the flow only to pods with {prose.selector(extra)}, a subset of the "
            f"pods of Service {name} ({prose.selector(service.selector)})",
        )
        return MisaimedAllow(
            policy,
            fact,
            problem=f"selects only some pods of Service {name}",
            fix=f"widen the podSelector of {policy.name}",
            isolated="the other pods",
        )
    return None


def _renamed(labels: dict[str, str], selector: dict[str, str]) -> dict[str, str]:
    """The labels of a policy's podSelector that select the Service's pods under another key
    with the same value (``app=X`` where the pods are selected by
    ``app.kubernetes.io/name=X``): empty unless every label is either one the Service's
    selector also holds, with the same value, or such a renamed key, and at least one is."""
    values = set(selector.values())
    renamed: dict[str, str] = {}
    for key, value in labels.items():
        if key in selector:
            if selector[key] != value:
                return {}  # a different workload's value under the same key
        elif value in values:
            renamed[key] = value
        else:
            return {}
    return renamed


def _stale(evidence: Evidence, flow: Flow, service: ServiceEvidence) -> MisaimedAllow | None:
    """The policy that admits the caller to pods selected by a label key the Service's pods
    are not selected by, carrying a value of the Service's selector: written for these pods
    before their labels were renamed, it now selects none of them."""
    for policy, labels in _ingress_candidates(evidence, service):
        renamed = _renamed(labels, service.selector)
        if not renamed or not _admits(policy, flow, {**service.selector, **labels}):
            continue
        name = f"{service.namespace}/{service.name}"
        fact = item(
            f"networkpolicy/{policy.namespace}/{policy.name}",
            f"admits the flow to pods with {prose.selector(renamed)}; Service {name} selects "
            f"its pods by {prose.selector(service.selector)}",
        )
        return MisaimedAllow(
            policy,
            fact,
            problem=f"misses the pods of Service {name}",
            fix=f"correct the podSelector of {policy.name}",
            isolated="the Service's pods",
        )
    return None


def misaimed_allow(
    evidence: Evidence, flow: Flow, service: ServiceEvidence | None
) -> MisaimedAllow | None:
    """The ingress policy written for ``flow`` that misses the pods of ``service``; None
    without a Service selecting by labels or such a policy."""
    if service is None or not service.selector:
        return None
    return _narrowed(evidence, flow, service) or _stale(evidence, flow, service)
