"""The CNI-agent-rollout rule: new pods of the incident stay ContainerCreating because the CNI
plugin cannot set up their network (the kubelet's ``FailedCreatePodSandBox``: "failed to
assign an IP address to container", "failed to setup network for sandbox"), on more than one
node, and one node agent (a DaemonSet, ``Evidence.agent_rollouts``) rolled out a revision
shortly before the first such failure. The agent that hands out pod addresses on every node
changed how it does it (an add-on update that resets its warm-pool settings makes every node
hold a spare interface's worth of addresses until the subnets run dry), so draining a node or
adding capacity only moves the shortage: roll the agent back. On one node only, the node
rule (``node-localized``) answers instead.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from typing import Final

from kubetriage import prose
from kubetriage.analyzers.api_load import sole_agent_rollout
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.shared_dependency import rollout_line
from kubetriage.analyzers.support import item, object_source
from kubetriage.evidence.agent_rollouts import SANDBOX_NETWORK_FAILED
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import EventEvidence
from kubetriage.models.vocabulary import Action, Category

# The one node agent that rolled out shortly before pods on several nodes could not get a
# network: above the autoscaler's and the rollout's readings of the same shortfall.
CONFIDENCE: Final = 0.84
# Nodes the failures must span: on one node, the node itself is the suspect.
MIN_NODES: Final = 2


def _sandbox_failures(evidence: Evidence) -> list[EventEvidence]:
    return [
        e
        for e in evidence.events
        if e.reason == "FailedCreatePodSandBox"
        and e.involved.kind == "Pod"
        and SANDBOX_NETWORK_FAILED.search(e.message) is not None
    ]


def check_cni_agent_rollout(evidence: Evidence) -> list[Finding]:
    """Roll back the one DaemonSet whose rollout preceded the CNI's failures to give the
    incident's new pods a network on several nodes."""
    failures = _sandbox_failures(evidence)
    if not failures or not evidence.agent_rollouts:
        return []
    nodes_of = {p.name: p.node for p in evidence.pods if p.node}
    nodes = {nodes_of[e.involved.name] for e in failures if e.involved.name in nodes_of}
    seen = [e.first_seen for e in failures if e.first_seen is not None]
    if len(nodes) < MIN_NODES or not seen:
        return []
    onset = min(seen)
    suspect = sole_agent_rollout(evidence, onset)
    if suspect is None:
        return []
    agent, change = suspect
    target = agent.ref
    first = min(failures, key=lambda e: e.first_seen or onset)
    facts = [
        item(
            object_source(first.involved),
            f"{first.reason} x{first.count}: {prose.clip(first.message, 200)}",
        ),
        item(object_source(target), rollout_line(change)),
    ]
    text = prose.narrative(
        f"{prose.obj(target)}'s new revision leaves new pods without a network address",
        "roll it back",
        because=[
            prose.claim(
                f"The CNI plugin cannot set up the network of new pods on "
                f"{prose.count(len(nodes), 'node')}: not one node's fault",
                facts[0],
            ),
            prose.claim(
                f"The node agent {prose.obj(target)} rolled out shortly before the first "
                "failure, on every node",
                facts[1],
            ),
        ],
    )
    return [
        make_finding(
            "cni-agent-rollout",
            Category.BAD_ROLLOUT,
            CONFIDENCE,
            text,
            facts,
            Action.ROLLBACK,
            target,
            {"nodes": str(len(nodes))},
        )
    ]


CNI_AGENT_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("cni-agent-rollout", (Category.BAD_ROLLOUT,), check_cni_agent_rollout),
)
