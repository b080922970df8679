"""The node-agent rule: nodes hosting the incident's pods are under memory, disk or PID
pressure (the kubelet evicts its pods there, the scheduler keeps them off), and a DaemonSet
whose pods on those nodes were replaced shortly before the pressure began (the dependency
walk follows it, named by the node and its condition: ``evidence.node_plugins``) rolled out
recently. The agent's new revision uses up what the nodes lack, on every node it runs on, so
draining one node only moves the problem: roll the agent back (above the node-failure
finding for the same pressure).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.support import RECENT_ROLLOUT, item, timestamp
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ChangeEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a node-agent finding is, by the evidence that earns it."""

    # A DaemonSet replaced its pods on the pressured nodes shortly before the pressure began
    # and rolled out within RECENT_ROLLOUT: above the node-failure finding for that pressure
    # (0.85, 0.88 with agreeing signals), which would drain one node of many.
    rolled_out_before_pressure: float = 0.9


CONFIDENCE: Final = _Confidence()

_PRESSURES = frozenset({"MemoryPressure", "DiskPressure", "PIDPressure"})


def pressuring_agents(evidence: Evidence) -> list[tuple[ObjectRef, ChangeEvidence, list[str]]]:
    """The followed DaemonSets named by a node's pressure (their pods there replaced shortly
    before it began) that rolled out within RECENT_ROLLOUT: (the DaemonSet, its newest
    rollout, the node sources naming it)."""
    now = timestamp(evidence.collected_at)
    found: list[tuple[ObjectRef, ChangeEvidence, list[str]]] = []
    for dependency in evidence.dependencies:
        agent = dependency.workload
        named = [s for s in dependency.named_by if s.startswith("node ")]
        if agent is None or agent.kind != "DaemonSet" or not named:
            continue
        rollouts = [
            c
            for c in dependency.changes
            if c.kind == "rollout"
            and c.at is not None
            and now - timestamp(c.at) <= RECENT_ROLLOUT.total_seconds()
        ]
        if rollouts:
            found.append((agent, rollouts[0], named))
    return found


def check_node_agent_rollout(evidence: Evidence) -> list[Finding]:
    pressured = [
        (node.name, condition.type)
        for node in evidence.nodes
        for condition in node.conditions
        if condition.type in _PRESSURES and condition.status == "True"
    ]
    if not pressured:
        return []
    findings: list[Finding] = []
    for agent, rollout, named in pressuring_agents(evidence):
        source = f"dependency {prose.obj(agent)}"
        rolled = item(source, f"rolled out {'; '.join(rollout.details[:3])}")
        nodes = [item(f"node/{name}", f"{kind}=True") for name, kind in pressured[:3]]
        replaced = item(source, f"its pods were replaced before {named[0]} began")
        params = {"revision": str(rollout.from_revision)} if rollout.from_revision else {}
        findings.append(
            make_finding(
                "node-agent-rollout",
                Category.BAD_ROLLOUT,
                CONFIDENCE.rolled_out_before_pressure,
                prose.narrative(
                    f"{prose.obj(agent)}'s new revision puts its nodes under pressure",
                    "roll it back",
                    aside=prose.count(len({n for n, _ in pressured}), "node") + " under pressure",
                    because=[
                        prose.claim(f"{prose.obj(agent)} rolled out recently", rolled),
                        prose.claim(
                            "Its pods on the nodes of this incident were replaced shortly "
                            "before those nodes came under pressure",
                            replaced,
                            *nodes,
                        ),
                    ],
                ),
                [rolled, replaced, *nodes],
                Action.ROLLBACK,
                agent,
                params,
            )
        )
    return findings


NODE_AGENT_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("node-agent-rollout", (Category.BAD_ROLLOUT,), check_node_agent_rollout),
)
