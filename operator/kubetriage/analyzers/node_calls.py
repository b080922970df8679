"""Outbound calls that fail only from one node: every replica of a workload runs, only the
ones on one node log failing calls (timeouts, refusals) while the same revision runs on other
nodes (none of whose log tails, where read, report such a call), and that node's own series
report a fault on its way out. The callee is the same for every replica; what differs is
where the calls leave from (a node whose cloud NAT ran out of source ports, whose conntrack
table is full, whose interfaces drop packets): drain the node.

Split from ``kubetriage.analyzers.placement`` (failures that follow a node), which registers
it among ``PLACEMENT_ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import make_finding
from kubetriage.analyzers.calls import dependency_hits
from kubetriage.analyzers.node_metrics import outbound_faults
from kubetriage.analyzers.support import item, owner_workload, pod_source
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import PodEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """What the evidence earns a calls-fail-on-node finding."""

    # Every replica runs, but only the ones on one node log failing calls while replicas
    # elsewhere log none, and that node's own series report a fault in its path out (its
    # NAT source ports exhausted, its conntrack table full, its interfaces erring).
    calls_fail_on_node: float = 0.8


CONFIDENCE: Final = _Confidence()


def check_calls_fail_on_node(evidence: Evidence) -> list[Finding]:
    """The replicas on one node log failing calls (timeouts, refusals) while every pod runs,
    the same revision runs on other nodes (none of whose log tails, where read, report such a
    call) and that node's own series report a fault on its way out: the node. The callee is
    the same for every replica; what differs is where the calls leave from (a node whose cloud
    NAT ran out of source ports, whose conntrack table is full, whose interfaces drop
    packets)."""
    hits = dependency_hits(evidence)
    calls = {(h.log.namespace, h.log.pod): h for h in reversed(hits)}  # each pod's first
    logged = {(t.namespace, t.pod) for t in evidence.logs if t.lines and not t.previous}
    groups: dict[str, tuple[ObjectRef, list[PodEvidence]]] = {}
    for pod in evidence.pods:
        owner = owner_workload(pod)
        if owner is not None and pod.node and pod.phase == "Running":
            groups.setdefault(owner.key(), (owner, []))[1].append(pod)
    nodes = {n.name: n for n in evidence.nodes}
    findings: list[Finding] = []
    for workload, pods in groups.values():
        failing = [p for p in pods if (p.namespace, p.name) in calls]
        where = {p.node for p in failing}
        node = nodes.get(next(iter(where)) or "") if len(where) == 1 else None
        if node is None:
            continue
        here = [p for p in pods if p.node == node.name]
        if any((p.namespace, p.name) in logged - calls.keys() for p in here):
            continue  # a replica on that node calls out fine: not the node's path
        elsewhere = [p for p in pods if p.node != node.name]
        if not {p.owner.name for p in failing if p.owner} & {
            p.owner.name for p in elsewhere if p.owner
        }:
            continue  # no replica of the failing revision runs elsewhere
        measured = outbound_faults(evidence, node)
        if not measured:
            continue  # the calls' host may be down for everyone: the node must say it too
        clean = [p for p in elsewhere if (p.namespace, p.name) in logged]
        others = prose.listing(sorted({p.node or "" for p in (clean or elsewhere)}))
        target = ObjectRef(kind="Node", name=node.name)
        split = item(
            pod_source(failing[0]),
            f"{prose.count(len(failing), 'replica')} of {workload.name} on node {node.name} "
            + (
                f"log failing calls while {prose.count(len(clean), 'replica')} on {others} log none"
                if clean
                else f"log failing calls; {prose.count(len(elsewhere), 'replica')} run on {others}"
            ),
        )
        call = calls[(failing[0].namespace, failing[0].name)]
        quoted = item(call.source, prose.clip(call.line, 240))
        findings.append(
            make_finding(
                "calls-fail-on-node",
                Category.NODE_FAILURE,
                CONFIDENCE.calls_fail_on_node,
                prose.narrative(
                    f"{prose.obj(target)} breaks the outbound calls of the pods on it",
                    "drain it",
                    because=[
                        prose.claim(
                            f"The failing calls of {prose.obj(workload)} come from the replicas "
                            "on that node",
                            split,
                            quoted,
                        ),
                        prose.claim(
                            "The node's own series report a fault on its way out", *measured[:2]
                        ),
                        prose.claim("The same revision runs on the other nodes"),
                    ],
                ),
                [split, quoted, *measured[:3]],
                Action.DRAIN_NODE,
                target,
                {"node": node.name},
            )
        )
    return findings
