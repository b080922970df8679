"""NetworkPolicies as the evidence holds them: the policy (``NetworkPolicyEvidence``) with
its rules rendered for display and, structured, for ``kubetriage.networkpolicy`` to evaluate
flows (``PolicyRule``, ``PolicyPeer``, ``PolicyPort``, ``LabelSelector``). Built by
``kubetriage.evidence.summaries.network``; part of ``kubetriage.models.evidence.Evidence``.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class SelectorRequirement(BaseModel):
    key: str
    operator: str  # In | NotIn | Exists | DoesNotExist
    values: list[str] = Field(default_factory=list)


class LabelSelector(BaseModel):
    """A Kubernetes label selector; the empty selector selects everything."""

    match_labels: dict[str, str] = Field(default_factory=dict)
    match_expressions: list[SelectorRequirement] = Field(default_factory=list)


class PolicyPeer(BaseModel):
    """One ``from``/``to`` entry of a NetworkPolicy rule. A namespace selector of None with
    a pod selector means "pods of the policy's own namespace"."""

    pod_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    ip_block: str | None = None  # "10.0.0.0/8 except 10.1.0.0/16", for display
    # The same ipBlock, structured, for ``kubetriage.networkpolicy`` to match addresses.
    cidr: str | None = None
    except_cidrs: list[str] = Field(default_factory=list)


class PolicyPort(BaseModel):
    protocol: str = "TCP"
    port: str | None = None  # a number or a named port; None: every port
    end_port: int | None = None


class PolicyRule(BaseModel):
    """An ingress or egress rule: no peers means every peer, no ports every port."""

    peers: list[PolicyPeer] = Field(default_factory=list)
    ports: list[PolicyPort] = Field(default_factory=list)


class NetworkPolicyEvidence(BaseModel):
    name: str
    namespace: str
    pod_selector: dict[str, str] = Field(default_factory=dict)
    policy_types: list[str] = Field(default_factory=list)
    ingress_rules: int = 0
    egress_rules: int = 0
    selects_target: bool = False
    # Compact rendering of peers/ports, bounded; e.g. "ingress from app=frontend :8080".
    rules: list[str] = Field(default_factory=list)
    # The same rules, structured, for ``kubetriage.networkpolicy`` to evaluate flows.
    selector: LabelSelector = Field(default_factory=LabelSelector)
    ingress: list[PolicyRule] = Field(default_factory=list)
    egress: list[PolicyRule] = Field(default_factory=list)
    # The namespace of the policy this one is a propagated copy of (the hierarchical namespace
    # controller's ``hnc.x-k8s.io/inherited-from`` label; None: not a copy). The propagator
    # rewrites the copy from its source, so a correction belongs on the source.
    copy_of: str | None = None
