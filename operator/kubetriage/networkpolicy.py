"""NetworkPolicy evaluation: does the set of policies allow a given flow, and if not, which
policy blocks it?

Pure. ``rules_of`` turns a NetworkPolicy's spec into the structured rules kept in the
evidence (``NetworkPolicyEvidence.ingress``/``egress``); ``egress_verdict`` and
``ingress_verdict`` apply the Kubernetes semantics to one flow:

- a pod is isolated for a direction only when some policy of its namespace selects it with
  that direction in ``policyTypes``; an isolated pod accepts only what some rule of one of
  those policies allows (rules are unioned, there is no deny rule);
- a rule with no peers allows every peer, with no ports every port; a peer with only a pod
  selector means pods of the policy's namespace, with only a namespace selector every pod of
  the matching namespaces, with both the matching pods of the matching namespaces;
- an ``ipBlock`` matches an endpoint whose addresses are known (a pod's ``status.podIPs``)
  when one of them lies in its CIDR and in none of its exceptions; when the addresses are
  not known, a flow allowed only by an ipBlock is reported as blocked, with that caveat.

When a flow is denied, the "blocking" policies are those that isolate the pod for that
direction: changing any of them (or adding a rule) is the fix. They are ordered closest
first: the policy with a rule that comes nearest to admitting the flow (a selector naming
the other side's pods or namespace, a port list holding the flow's port) is the one meant
for it and the one to correct, a default deny last; when no rule was written for the flow
at all, the default deny that shuts it out comes first. Ties go by name.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from kubetriage.models.network_policies import (
    LabelSelector,
    NetworkPolicyEvidence,
    PolicyPeer,
    PolicyPort,
    PolicyRule,
    SelectorRequirement,
)
from kubetriage.models.objects import as_dict as _d
from kubetriage.models.objects import dicts as _dicts

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
Direction = Literal["ingress", "egress"]


def selector_of(raw: Any) -> LabelSelector:
    body = _d(raw)
    return LabelSelector(
        match_labels={k: v for k, v in _d(body.get("matchLabels")).items() if isinstance(v, str)},
        match_expressions=[
            SelectorRequirement(
                key=str(e.get("key")),
                operator=str(e.get("operator")),
                values=[v for v in e.get("values") or [] if isinstance(v, str)],
            )
            for e in _dicts(body.get("matchExpressions"))
        ],
    )


def selects(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
    """Whether a label selector matches a set of labels (the empty selector matches all)."""
    if any(labels.get(k) != v for k, v in selector.match_labels.items()):
        return False
    for requirement in selector.match_expressions:
        present = requirement.key in labels
        value = labels.get(requirement.key)
        if requirement.operator == "In" and value not in requirement.values:
            return False
        if requirement.operator == "NotIn" and present and value in requirement.values:
            return False
        if requirement.operator == "Exists" and not present:
            return False
        if requirement.operator == "DoesNotExist" and present:
            return False
        if requirement.operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False  # an operator we do not know selects nothing, never everything
    return True


def _peer(raw: dict[str, Any]) -> PolicyPeer:
    block = _d(raw.get("ipBlock"))
    excepted = [e for e in block.get("except") or [] if isinstance(e, str)]
    cidr = block.get("cidr")
    return PolicyPeer(
        cidr=cidr if isinstance(cidr, str) else None,
        except_cidrs=excepted,
        pod_selector=selector_of(raw["podSelector"]) if "podSelector" in raw else None,
        namespace_selector=(
            selector_of(raw["namespaceSelector"]) if "namespaceSelector" in raw else None
        ),
        ip_block=(
            f"{block.get('cidr')}" + (f" except {','.join(excepted)}" if excepted else "")
            if block
            else None
        ),
    )


def _port(raw: dict[str, Any]) -> PolicyPort:
    port = raw.get("port")
    end = raw.get("endPort")
    return PolicyPort(
        protocol=str(raw.get("protocol") or "TCP"),
        port=None if port is None else str(port),
        end_port=end if isinstance(end, int) else None,
    )


def rules_of(spec: Mapping[str, Any], direction: Direction) -> list[PolicyRule]:
    """The structured ingress or egress rules of a NetworkPolicy spec."""
    peer_key = "from" if direction == "ingress" else "to"
    return [
        PolicyRule(
            peers=[_peer(p) for p in _dicts(rule.get(peer_key))],
            ports=[_port(p) for p in _dicts(rule.get("ports"))],
        )
        for rule in _dicts(spec.get(direction))
    ]


@dataclass(frozen=True)
class Endpoint:
    """One side of a flow: a pod's namespace and labels, and its namespace's labels."""

    namespace: str
    # None: the pod's labels are not known (a callee that could not be read); a pod
    # selector is then assumed to match, so a denial is one no pod of that namespace escapes.
    labels: Mapping[str, str] | None
    namespace_labels: Mapping[str, str] = field(default_factory=dict)
    # The pod's addresses (status.podIPs); empty when not known.
    ips: tuple[str, ...] = ()
    # An address no pod of the cluster network holds (a node's, a link-local resolver's
    # such as NodeLocal DNSCache's 169.254.20.10): pod and namespace selectors never match
    # it, only an ipBlock can, and no policy isolates it.
    address_only: bool = False
    # The virtual IPs of the Service the flow is sent to (its clusterIP). Policies are
    # enforced after kube-proxy rewrote it to a pod's address, so an ipBlock holding it
    # never admits the flow; the rule was written for this destination all the same.
    service_ips: tuple[str, ...] = ()

    def ns_labels(self) -> Mapping[str, str]:
        return {NAMESPACE_NAME_LABEL: self.namespace, **self.namespace_labels}


@dataclass(frozen=True)
class Flow:
    source: Endpoint
    destination: Endpoint
    port: int | None = None  # None: "on any port"
    protocol: str = "TCP"
    port_name: str | None = None  # the destination container port's name, when known


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    direction: Direction
    # The namespace whose policies decided (the source's for egress, the destination's
    # for ingress).
    namespace: str = ""
    # Policies isolating the pod for this direction (all of them when the flow is denied,
    # closest to admitting it first).
    isolating: tuple[str, ...] = ()
    # The first policy with a rule admitting the flow.
    allowed_by: str | None = None
    # A rule with an ipBlock peer might admit the flow (the other side's IPs are not known).
    ip_block_caveat: bool = False

    @property
    def blocking(self) -> tuple[str, ...]:
        return () if self.allowed else self.isolating


def _network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return None


def in_ip_block(address: str, cidr: str, excepted: Iterable[str] = ()) -> bool:
    """Whether ``address`` lies in ``cidr`` and in none of the ``excepted`` CIDRs (an
    unparsable address or CIDR matches nothing)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    block = _network(cidr)
    if block is None or ip.version != block.version or ip not in block:
        return False
    return not any(
        (net := _network(e)) is not None and ip.version == net.version and ip in net
        for e in excepted
    )


def _ip_block_matches(peer: PolicyPeer, other: Endpoint) -> bool | None:
    """Whether the peer's ipBlock admits the endpoint; None when its addresses are unknown."""
    if peer.cidr is None or not other.ips:
        return None
    return any(in_ip_block(ip, peer.cidr, peer.except_cidrs) for ip in other.ips)


def _peer_matches(peer: PolicyPeer, policy_namespace: str, other: Endpoint) -> bool:
    if other.address_only or (peer.pod_selector is None and peer.namespace_selector is None):
        return _ip_block_matches(peer, other) is True
    if peer.namespace_selector is None:
        namespace_ok = other.namespace == policy_namespace
    else:
        namespace_ok = selects(peer.namespace_selector, other.ns_labels())
    pod_ok = (
        peer.pod_selector is None
        or other.labels is None
        or selects(peer.pod_selector, other.labels)
    )
    return namespace_ok and pod_ok


def _port_matches(port: PolicyPort, flow: Flow) -> bool:
    if port.protocol.upper() != flow.protocol.upper():
        return False
    if port.port is None or flow.port is None:
        return True
    if port.port.isdigit():
        low = int(port.port)
        high = port.end_port if port.end_port is not None else low
        return low <= flow.port <= high
    return flow.port_name is not None and port.port == flow.port_name


def _rule_allows(rule: PolicyRule, policy_namespace: str, other: Endpoint, flow: Flow) -> bool:
    peers_ok = not rule.peers or any(_peer_matches(p, policy_namespace, other) for p in rule.peers)
    ports_ok = not rule.ports or any(_port_matches(p, flow) for p in rule.ports)
    return peers_ok and ports_ok


# The nearness of a rule written for a flow: a selector naming one side plus anything, or an
# explicit port plus an open peer (``_nearness``).
_MEANT = 3


def _selector_score(selector: LabelSelector | None, labels: Mapping[str, str] | None) -> int:
    """2 when a non-empty selector matches (it names that side), 1 when an absent or empty
    one does (it admits everyone), 0 when it does not match."""
    if selector is None or labels is None:
        return 1
    if not selects(selector, labels):
        return 0
    return 2 if selector.match_labels or selector.match_expressions else 1


def _peer_nearness(peer: PolicyPeer, policy_namespace: str, other: Endpoint) -> int:
    if other.address_only:
        return 1  # any peer was written for some destination; none names this address
    if peer.pod_selector is None and peer.namespace_selector is None:
        # An ipBlock only: it names addresses, not this workload; unless it is the address
        # of the Service in front of it (a narrower block than "everywhere").
        return _MEANT if _names_service_ip(peer, other) else 0
    if peer.namespace_selector is None:
        namespace = 1 if other.namespace == policy_namespace else 0
    else:
        namespace = _selector_score(peer.namespace_selector, other.ns_labels())
    return namespace + _selector_score(peer.pod_selector, other.labels)


def _names_service_ip(peer: PolicyPeer, other: Endpoint) -> bool:
    """Whether the peer's ipBlock holds the Service address the flow is sent to and is not
    a block of every address (0.0.0.0/0, ::/0)."""
    network = _network(peer.cidr) if peer.cidr else None
    return (
        network is not None
        and network.prefixlen > 0
        and any(in_ip_block(ip, peer.cidr or "", peer.except_cidrs) for ip in other.service_ips)
    )


def service_ip_blocks(
    policy: NetworkPolicyEvidence, direction: Direction, other: Endpoint
) -> list[str]:
    """The ipBlock CIDRs of the policy's rules for ``direction`` that hold the address of
    the Service in front of ``other`` (``_names_service_ip``): rules that can never admit it."""
    rules = policy.ingress if direction == "ingress" else policy.egress
    return [
        p.cidr
        for rule in rules
        for p in rule.peers
        if p.cidr
        and p.pod_selector is None
        and p.namespace_selector is None
        and _names_service_ip(p, other)
    ]


def _ports_nearness(rule: PolicyRule, flow: Flow) -> int:
    """2 when the rule lists the flow's port, 1 when it lists none (any port), else 0."""
    if not rule.ports:
        return 1
    return 2 if any(_port_matches(p, flow) for p in rule.ports) else 0


def _nearness(
    policy: NetworkPolicyEvidence, direction: Direction, other: Endpoint, flow: Flow
) -> int:
    """How close the policy's best rule comes to admitting the flow; -1 without rules."""
    rules = policy.ingress if direction == "ingress" else policy.egress
    best = -1
    for rule in rules:
        peers = max((_peer_nearness(p, policy.namespace, other) for p in rule.peers), default=2)
        ports = _ports_nearness(rule, flow)
        best = max(best, peers + ports)
    return best


def _closest_first(
    isolating: Iterable[NetworkPolicyEvidence], direction: Direction, other: Endpoint, flow: Flow
) -> tuple[str, ...]:
    """The isolating policies, the one to correct first: the one whose rule names this flow
    (its peer's pods or namespace by a selector, or its port: ``_MEANT``) when there is one;
    when none does, no policy was written for this flow and the deny-all that shuts it out
    (a policy with no rule for that direction) is the one to change."""
    ranked = sorted(
        ((_nearness(p, direction, other, flow), p) for p in isolating),
        key=lambda s: (-s[0], s[1].name),
    )
    if not any(score >= _MEANT for score, _ in ranked):
        deny_alls = [s for s in ranked if s[0] < 0]
        ranked = deny_alls + [s for s in ranked if s[0] >= 0]
    return tuple(p.name for _, p in ranked)


def _verdict(
    policies: Iterable[NetworkPolicyEvidence],
    direction: Direction,
    pod: Endpoint,
    other: Endpoint,
    flow: Flow,
) -> Verdict:
    kind = "Ingress" if direction == "ingress" else "Egress"
    if pod.labels is None or pod.address_only:
        # Which policies select a pod of unknown labels cannot be told, and none selects an
        # address no pod holds: no verdict against it.
        return Verdict(allowed=True, direction=direction, namespace=pod.namespace)
    isolating = [
        p
        for p in policies
        if p.namespace == pod.namespace
        and kind in p.policy_types
        and selects(p.selector, pod.labels)
    ]
    if not isolating:
        return Verdict(allowed=True, direction=direction, namespace=pod.namespace)
    caveat = False
    for policy in sorted(isolating, key=lambda p: p.name):
        rules = policy.ingress if direction == "ingress" else policy.egress
        for rule in rules:
            if _rule_allows(rule, policy.namespace, other, flow):
                return Verdict(
                    allowed=True,
                    direction=direction,
                    namespace=pod.namespace,
                    isolating=tuple(sorted(p.name for p in isolating)),
                    allowed_by=policy.name,
                )
            # An ipBlock of unknown reach might admit the peer, unless the rule's ports
            # leave the flow out whatever the address.
            ports_ok = not rule.ports or any(_port_matches(p, flow) for p in rule.ports)
            caveat = caveat or (
                ports_ok
                and any(p.ip_block and _ip_block_matches(p, other) is None for p in rule.peers)
            )
    return Verdict(
        allowed=False,
        direction=direction,
        namespace=pod.namespace,
        isolating=_closest_first(isolating, direction, other, flow),
        ip_block_caveat=caveat,
    )


def egress_verdict(policies: Iterable[NetworkPolicyEvidence], flow: Flow) -> Verdict:
    """Whether the source pod's namespace policies let it send this flow."""
    return _verdict(policies, "egress", flow.source, flow.destination, flow)


def ingress_verdict(policies: Iterable[NetworkPolicyEvidence], flow: Flow) -> Verdict:
    """Whether the destination pod's namespace policies let it receive this flow."""
    return _verdict(policies, "ingress", flow.destination, flow.source, flow)


def verdicts_by_source_address(
    policies: Iterable[NetworkPolicyEvidence], flow: Flow
) -> list[tuple[str | None, Verdict]]:
    """The ingress verdict for each address of the flow's source, one pod at a time: the
    source is often a workload of several pods (an ingress controller, a DaemonSet on host
    network) and an ipBlock may admit some of their addresses and not others, which one
    verdict over all of them would hide. Without known addresses, the one verdict (None)."""
    listed = list(policies)
    if not flow.source.ips:
        return [(None, ingress_verdict(listed, flow))]
    return [
        (ip, ingress_verdict(listed, replace(flow, source=replace(flow.source, ips=(ip,)))))
        for ip in flow.source.ips
    ]


def closed_port(
    policies: Iterable[NetworkPolicyEvidence],
    destination: Endpoint,
    port: int | None,
    port_name: str | None = None,
    protocol: str = "TCP",
) -> tuple[str, ...]:
    """The policies isolating ``destination`` for ingress when none of their rules admits
    ``port`` from any peer at all (whatever the peer, the rules' port lists leave it out):
    the port is closed to every client. Empty when some rule may admit it, or when no
    policy isolates the destination. Ordered with the policies that admit other ports first
    (the allow list written for these pods, where the port belongs), a bare deny last."""
    if destination.labels is None:
        return ()
    probe = Flow(
        source=destination,
        destination=destination,
        port=port,
        protocol=protocol,
        port_name=port_name,
    )
    isolating = [
        p
        for p in policies
        if p.namespace == destination.namespace
        and "Ingress" in p.policy_types
        and selects(p.selector, destination.labels)
    ]
    for policy in isolating:
        for rule in policy.ingress:
            if not rule.ports or any(_port_matches(p, probe) for p in rule.ports):
                return ()
    return tuple(p.name for p in sorted(isolating, key=lambda p: (not p.ingress, p.name)))


def flow_verdicts(policies: Iterable[NetworkPolicyEvidence], flow: Flow) -> list[Verdict]:
    """Egress at the source, then ingress at the destination; the flow passes only if both
    allow it. Policies of a namespace not in ``policies`` are taken as absent."""
    listed = list(policies)
    return [egress_verdict(listed, flow), ingress_verdict(listed, flow)]


# Cluster DNS as every mainstream distribution serves it.
def cluster_dns(namespace_labels: Mapping[str, str] | None = None) -> Endpoint:
    return Endpoint(
        namespace="kube-system",
        labels={"k8s-app": "kube-dns"},
        namespace_labels=dict(namespace_labels or {}),
    )
