"""Lookups that time out because one of the cluster DNS replicas sits on a node whose network
is down: the workload's name lookups fail at the resolver (timeouts, "temporary failure"), the
cluster DNS Service (found by what it serves: ``evidence.cluster_dns``) is backed by replicas
on several nodes, and on one of them the host-network agent that carries the node's pod
traffic (a CNI agent such as calico-node with its BGP peers down, kube-proxy) is not ready.
The DNS pod there stays Ready (its probes come from its own kubelet) and keeps its place
behind the Service, so the lookups the Service sends to it are lost and the callers see a
share of them time out from every node. An SRE drains that node: the replica is rescheduled
where the network works (node-failure, drain-node), above handing the resolver's owner a
Service whose other replicas answer (0.7).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.calls import caller, dependency_hits
from kubetriage.analyzers.support import item, object_source
from kubetriage.analyzers.unnamed_calls import cluster_dns_dependency
from kubetriage.dns_errors import DNS_RESOLVER_FAILURE
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a resolver-replica-on-a-broken-node finding is, by the evidence that earns it."""

    # Lookups time out at the resolver; one of the cluster DNS replicas runs on a node whose
    # host-network agent is not ready there, the others on nodes where it is.
    replica_on_broken_node: float = 0.8


CONFIDENCE: Final = _Confidence()


def _broken_agent_nodes(evidence: Evidence) -> dict[str, DependencyEvidence]:
    """The nodes where a host-network node agent followed as a node neighbour has a pod that
    does not run or is not ready, each with that agent."""
    found: dict[str, DependencyEvidence] = {}
    for dependency in evidence.dependencies:
        if dependency.workload is None or dependency.workload.kind != "DaemonSet":
            continue
        for route in dependency.routed("node-neighbour"):
            failing = {t.pod for t in dependency.failing_pods}
            if route.node and any(dependency.pod_nodes.get(p) == route.node for p in failing):
                found.setdefault(route.node, dependency)
    return found


def check_resolver_nodes(evidence: Evidence) -> list[Finding]:
    lookups = [h for h in dependency_hits(evidence) if DNS_RESOLVER_FAILURE.search(h.line)]
    dns = cluster_dns_dependency(evidence)
    if not lookups or dns is None or dns.service is None or dns.failing_pods:
        return []
    nodes = set(dns.pod_nodes.values())
    broken = _broken_agent_nodes(evidence)
    hit = sorted(nodes & broken.keys())
    if len(nodes) < 2 or len(hit) != 1:
        return []  # one replica elsewhere must answer: else the DNS itself is down
    node = hit[0]
    agent = broken[node]
    if agent.workload is None:
        return []
    service = dns.service.ref()
    replicas = sorted(p for p, n in dns.pod_nodes.items() if n == node)
    target = ObjectRef(kind="Node", name=node)
    facts = [
        item(lookups[0].source, prose.clip(lookups[0].line, 240)),
        item(
            object_source(service),
            f"replica {replicas[0]} of {prose.obj(service)} runs on node {node}; "
            f"others on {prose.listing(sorted(nodes - {node}))}",
        ),
        item(
            object_source(agent.workload),
            f"{prose.obj(agent.workload)} is not ready on node {node}",
        ),
    ]
    return [
        make_finding(
            "resolver-node",
            Category.NODE_FAILURE,
            CONFIDENCE.replica_on_broken_node,
            prose.narrative(
                f"{prose.obj(target)} cuts off the cluster DNS replica running on it",
                "drain it",
                because=[
                    prose.claim(f"The name lookups of {caller(evidence)} time out", facts[0]),
                    prose.claim(
                        f"{prose.obj(service)} sends a share of them to its replica on that node",
                        facts[1],
                    ),
                    prose.claim(
                        "The agent that carries that node's pod traffic is not ready there",
                        facts[2],
                    ),
                ],
            ),
            facts,
            Action.DRAIN_NODE,
            target,
            {"node": node},
        )
    ]


RESOLVER_NODE_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("resolver-node", (Category.NODE_FAILURE,), check_resolver_nodes),
)
