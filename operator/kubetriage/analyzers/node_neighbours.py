"""Node neighbours of healthy alerted pods: the DaemonSets the walk follows because their pods
share exactly the nodes of the incident's pods, which run and are ready
(``evidence.node_neighbours``, route ``node-neighbour``).

The node-proxy-oom-killed rule: that agent runs on the node's own network (a node-local L7
proxy, a CNI agent) and its pod on one of those nodes was OOMKilled and is not ready: the
requests to the pods cross it on their node, so they fail in front of backends that serve
every request they receive. Raise the agent's memory limit; the alerted workload is not the
fault, whatever it released. An agent failing for another reason, or failing only on other
nodes, earns nothing here.

The node-neighbour-rollout rule: the incident's workload did not change, its demand did not
rise, and the one DaemonSet whose pods on every node of its pods were replaced shortly before
the alert rolled out right before the onset: the one thing that changed under the pods (a
revision that takes the nodes' CPU or memory; requests are weights, so a neighbour using more
starves pods without any throttling). Roll that agent back. Two such agents, a rollout after
the onset, or the workload's own change earn nothing.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.demand import traffic_rose
from kubetriage.analyzers.front_proxies import oom_killed_front
from kubetriage.analyzers.onset import follows_within
from kubetriage.analyzers.shared_dependency import sole_rollout
from kubetriage.analyzers.support import item, object_source
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ChangeEvidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a node-neighbour finding is, by the evidence that earns it."""

    # The host-network agent on the node of the healthy alerted pods was OOMKilled there and
    # is not ready: below the ingress controller's OOM (0.9), which is known to front the
    # workload; this one is only known to share its node's network path.
    proxy_oom_killed: float = 0.86
    # The only agent replaced on every node of the pods rolled out right before the onset,
    # while the workload did not change and its demand did not rise: a timing argument, below
    # the readings of a failing callee or the workload's own rollout.
    rolled_out_under_pods: float = 0.74


CONFIDENCE: Final = _Confidence()


def _neighbours(evidence: Evidence) -> list[DependencyEvidence]:
    return [
        d
        for d in evidence.dependencies
        if d.routed("node-neighbour") and d.workload is not None and d.workload.kind == "DaemonSet"
    ]


def check_node_proxy_oom(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    for dependency in _neighbours(evidence):
        nodes = {r.node for r in dependency.routed("node-neighbour")}
        there = [p for p in dependency.failing_pods if dependency.pod_nodes.get(p.pod) in nodes]
        ready = dependency.ready_replicas
        if ready is None:
            ready = dependency.pods - len(dependency.failing_pods)
        front = oom_killed_front(dependency.workload, dependency.pods, ready, there, "node agent")
        if front is None:
            continue
        workload, facts, params = front
        node = next(n for p in there if (n := dependency.pod_nodes.get(p.pod)))
        shared = item(
            object_source(workload),
            f"runs on the host network of node {node}, where the workload's pods run ready",
        )
        findings.append(
            make_finding(
                "node-proxy-oom-killed",
                Category.OOM_KILLED,
                CONFIDENCE.proxy_oom_killed,
                prose.narrative(
                    f"The node agent {prose.obj(workload)} is OOMKilled on the workload's nodes",
                    "raise its memory limit",
                    because=[
                        prose.claim(
                            f"{prose.obj(workload)} runs on the host network of the nodes "
                            "where the workload's pods run ready",
                            shared,
                        ),
                        prose.claim(
                            "Its pods there were OOMKilled and are not ready, so traffic "
                            "through those nodes fails in front of healthy pods",
                            *facts,
                        ),
                    ],
                ),
                [*facts, shared],
                Action.INCREASE_MEMORY,
                workload,
                params,
            )
        )
    return findings


def _rollout(dependency: DependencyEvidence, onset: datetime) -> ChangeEvidence | None:
    """Its rollout right before ``onset``, when it runs and can be rolled back."""
    if dependency.workload is None or dependency.failing_pods:
        return None
    if dependency.workload.kind not in ACTION_TARGET_KINDS[Action.ROLLBACK]:
        return None
    return next(
        (
            c
            for c in dependency.changes
            if c.kind == "rollout" and follows_within(c.at, onset) is not None
        ),
        None,
    )


def check_node_neighbour_rollout(evidence: Evidence) -> list[Finding]:
    if traffic_rose(evidence):
        return []
    found = sole_rollout(evidence, _neighbours(evidence), _rollout)
    if found is None:
        return []
    dependency, change = found
    agent = dependency.workload
    if agent is None or change.at is None:
        return []
    nodes = {p.node for p in evidence.pods if p.node} & set(dependency.pod_nodes.values())
    rolled = item(
        object_source(agent),
        f"rollout at {change.at:%H:%M}: " + "; ".join(change.details[:3]),
    )
    shared = item(
        object_source(agent),
        f"its pods on the {prose.count(len(nodes), 'node')} of the workload's pods were "
        "replaced with it",
    )
    unchanged = item("revisions", "the workload itself did not change before the onset")
    fix = f"roll {agent.name} back" + (
        f" to revision {change.from_revision}" if change.from_revision else ""
    )
    return [
        make_finding(
            "node-neighbour-rollout",
            Category.BAD_ROLLOUT,
            CONFIDENCE.rolled_out_under_pods,
            prose.narrative(
                prose.fitting_problem(
                    [
                        f"The node agent {prose.obj(agent)} rolled out on the workload's nodes "
                        "right before it degraded",
                        f"The node agent {agent.name} rolled out under the workload's pods",
                        "A node agent rolled out under the workload's pods",
                    ],
                    fix,
                ),
                fix,
                because=[
                    prose.claim(f"{prose.obj(agent)} rolled out right before the onset", rolled),
                    prose.claim(
                        "Its new pods share every node of the workload's pods, while the "
                        "workload did not change and its demand did not rise",
                        shared,
                        unchanged,
                    ),
                ],
            ),
            [rolled, shared, unchanged],
            Action.ROLLBACK,
            agent,
            {"revision": str(change.from_revision)} if change.from_revision else {},
        )
    ]


NODE_NEIGHBOUR_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("node-proxy-oom-killed", (Category.OOM_KILLED,), check_node_proxy_oom),
    Analyzer("node-neighbour-rollout", (Category.BAD_ROLLOUT,), check_node_neighbour_rollout),
)
