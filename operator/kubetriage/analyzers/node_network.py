"""The node-network-agent rule: the workload's calls fail to connect (dial timeouts, refused,
no route) from its pods on some nodes while its pods on other nodes connect, and on exactly
those nodes a host-network DaemonSet pod (kube-proxy, a CNI agent: what programs a node's
Service and pod routes) does not run (the walk follows it, named by the node and the failing
line: ``DependencyEvidence.programs_failing_nodes``). A Service's virtual IP is translated on
the calling node by rules that agent writes; with the agent down, that node keeps the rules
it last wrote, so calls to any endpoint that moved since (a routine rollout of the callee)
time out there and only there. The callee is not the fault, and draining a node only moves
pods onto the next node the agent fails on.

When that DaemonSet rolled out right before the calls began to fail (a new version, flags
such as a proxy mode the nodes' kernel does not support), its new revision is the change to
undo: roll the DaemonSet back (above the callee's dependency-failure for the same calls).
A DaemonSet that rolled out long before, or whose pods there run, is not this finding.

The node-network-agent-down rule: the same split, but the agent did not roll out before the
calls began, and its pods on the workload's other nodes run: the agent is what it was
everywhere, only that node's copy cannot start (a node that joined with another image, a
kernel without what the agent's mode needs, a host port taken). The node is the odd one out:
drain it (above the correlation with the workload's own rollout, whose revision connects from
the other nodes). An agent that fails on every node it runs on earns nothing here.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.dependencies import onset_follows, own_rollout_after
from kubetriage.analyzers.support import item, object_source, timestamp
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a node-network-agent finding is, by the evidence that earns it."""

    # The calls fail only from the nodes where the agent's pods do not run, and it rolled
    # out right before they began: the node-local pattern places the fault on the calling
    # nodes, above the callee's dependency-failure (0.83) read from the same failing calls.
    rolled_out_and_down: float = 0.88
    # The calls fail only from the one node where the agent's pod does not run, while its pods
    # on the workload's other nodes run and it did not roll out: the node is the odd one, above
    # change-correlation's ``rollout`` (0.88) for the workload's own revision, which connects
    # from the other nodes.
    down_on_one_node: float = 0.89


CONFIDENCE: Final = _Confidence()
NAME: Final = "node-network-agent-rollout"
DOWN_NAME: Final = "node-network-agent-down"


def check_node_network_agent(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    for dependency in evidence.dependencies:
        agent = dependency.workload
        if agent is None or not dependency.programs_failing_nodes():
            continue
        if not dependency.failing_pods or not dependency.changes:
            continue
        if agent.kind not in ACTION_TARGET_KINDS[Action.ROLLBACK]:
            continue
        change = dependency.changes[0]
        onset = onset_follows(evidence, change)
        if onset is None or change.at is None or own_rollout_after(evidence, timestamp(change.at)):
            continue
        route = dependency.routed("node-network")[0]
        node, line_source = route.node, route.seen_in
        rolled = item(
            object_source(agent),
            f"rollout at {change.at:%H:%M}: " + "; ".join(change.details[:3]),
        )
        down = [
            item(object_source(agent), f"pod {prose.pod_trouble(p)}")
            for p in dependency.failing_pods[:2]
        ]
        failing = item(
            line_source.text if line_source else "logs", f"calls fail to connect from node {node}"
        )
        facts = [rolled, *down, failing, onset]
        fix = f"roll {agent.name} back" + (
            f" to revision {change.from_revision}" if change.from_revision else ""
        )
        findings.append(
            make_finding(
                NAME,
                Category.BAD_ROLLOUT,
                CONFIDENCE.rolled_out_and_down,
                prose.narrative(
                    prose.fitting_problem(
                        [
                            f"the node agent {prose.obj(agent)} does not run on the nodes "
                            "whose calls fail since it rolled out",
                            f"the node agent {agent.name} does not run on the nodes whose "
                            "calls fail since it rolled out",
                            "the node agent does not run where calls fail since its rollout",
                        ],
                        fix,
                    ),
                    fix,
                    because=[
                        prose.claim(f"{prose.obj(agent)} rolled out", rolled),
                        prose.claim(
                            "Its pods on the nodes of the failing calls do not run, so those "
                            "nodes keep stale Service rules",
                            *down,
                        ),
                        prose.claim(
                            "The workload's calls fail to connect only from those nodes, "
                            "right after the rollout",
                            failing,
                            onset,
                        ),
                    ],
                ),
                facts,
                Action.ROLLBACK,
                agent,
                {"revision": str(change.from_revision)} if change.from_revision else {},
            )
        )
    return findings


def _rolled_out_before_onset(evidence: Evidence, dependency: DependencyEvidence) -> bool:
    """Whether the agent's newest rollout came right before the workload's first symptom."""
    return bool(dependency.changes) and onset_follows(evidence, dependency.changes[0]) is not None


def check_node_network_agent_down(evidence: Evidence) -> list[Finding]:
    """Drain the one node whose network agent does not run, when the workload's calls fail to
    connect only from there and the agent runs, unchanged, on its other nodes."""
    findings: list[Finding] = []
    for dependency in evidence.dependencies:
        agent = dependency.workload
        routes = dependency.routed("node-network")
        if agent is None or len({r.node for r in routes}) != 1 or routes[0].node is None:
            continue
        if _rolled_out_before_onset(evidence, dependency):
            continue
        node = routes[0].node
        down = [p for p in dependency.failing_pods if dependency.pod_nodes.get(p.pod) == node]
        failing = {p.pod for p in dependency.failing_pods}
        elsewhere = {
            n for pod, n in dependency.pod_nodes.items() if n != node and pod not in failing
        }
        if not down or not elsewhere:
            continue
        target = ObjectRef(kind="Node", name=node)
        line_source = routes[0].seen_in
        facts = [
            item(object_source(agent), f"pod {prose.pod_trouble(down[0])} on node {node}"),
            item(
                object_source(agent),
                f"its pods run on {prose.count(len(elsewhere), 'other node')}",
            ),
            item(
                line_source.text if line_source else "logs",
                f"calls fail to connect from node {node} only",
            ),
        ]
        fix = "drain it"
        findings.append(
            make_finding(
                DOWN_NAME,
                Category.NODE_FAILURE,
                CONFIDENCE.down_on_one_node,
                prose.narrative(
                    prose.fitting_problem(
                        [
                            f"{prose.obj(target)} is the one node whose calls fail: the node "
                            f"agent {prose.obj(agent)} does not run there",
                            f"{prose.obj(target)} is the one node whose calls fail: "
                            f"{agent.name} does not run there",
                            f"{prose.obj(target)} does not run {agent.name}",
                        ],
                        fix,
                    ),
                    fix,
                    because=[
                        prose.claim(
                            f"{prose.obj(agent)}'s pod there does not run, so the node's Service "
                            "and pod routes are not programmed",
                            facts[0],
                        ),
                        prose.claim(
                            "The same agent runs on the other nodes and did not roll out before "
                            "the calls began to fail",
                            facts[1],
                        ),
                        prose.claim(
                            "The workload's calls fail to connect only from that node", facts[2]
                        ),
                    ],
                ),
                facts,
                Action.DRAIN_NODE,
                target,
            )
        )
    return findings


NODE_NETWORK_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(NAME, (Category.BAD_ROLLOUT,), check_node_network_agent),
    Analyzer(DOWN_NAME, (Category.NODE_FAILURE,), check_node_network_agent_down),
)
