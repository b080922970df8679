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

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.dependencies import onset_follows, own_rollout_after
from kubetriage.analyzers.support import item, object_source, timestamp
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a node-network-agent finding is, by the evidence that earns it."""

    # The calls fail only from the nodes where the agent's pods do not run, and it rolled
    # out right before they began: the node-local pattern places the fault on the calling
    # nodes, above the callee's dependency-failure (0.83) read from the same failing calls.
    rolled_out_and_down: float = 0.88


CONFIDENCE: Final = _Confidence()
NAME: Final = "node-network-agent-rollout"


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


NODE_NETWORK_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(NAME, (Category.BAD_ROLLOUT,), check_node_network_agent),
)
