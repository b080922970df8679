"""The agent-overloads-the-API-server rule: the incident's workload is throttled by the API
server (HTTP 429, "the server has received too many requests", in its own lines; a controller
then fails to renew its leader lease and exits), it did not change itself, and exactly one
node agent (a DaemonSet, ``Evidence.agent_rollouts``) rolled out a revision that changes how
it runs (image, args, env, resources) right before the onset, or one controller's (a
Deployment's) new revision raised its API client's rate limits then. The API server is shared by
every client of the cluster; a DaemonSet's new revision asks it once per node, so listing or
watching more (every pod of the cluster instead of its node's, a shorter resync) fills the
priority-and-fairness queues and the API server sheds everyone's requests. An SRE rolls the
agent back; restarting the throttled controller or escalating to its owners treats the
surface.

Silent when the workload changed too, when no agent or several agents rolled out within the
onset window, or when the agent's change touched nothing that decides its calls.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.onset import earliest_onset
from kubetriage.analyzers.shared_dependency import load_rollout, own_changed, rollout_line
from kubetriage.analyzers.support import grep_logs, item, object_source
from kubetriage.evidence.agent_rollouts import APISERVER_THROTTLED
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.neighbours import AgentRolloutEvidence
from kubetriage.models.object_evidence import ChangeEvidence
from kubetriage.models.vocabulary import Action, Category

# The one node agent that rolled out right before the API server began throttling the
# unchanged workload: above the workload's own crash loop with no cause of its own (0.6) and
# a dependency's timeouts (0.5), below another caller's rollout named by a shared Service's
# own load (0.92).
CONFIDENCE: Final = 0.82


def sole_agent_rollout(
    evidence: Evidence, onset: datetime
) -> tuple[AgentRolloutEvidence, ChangeEvidence] | None:
    """The one node agent (``Evidence.agent_rollouts``) whose rollout within the onset window
    changed how it works, with that rollout; None when none or several did."""
    suspects = [
        (agent, change)
        for agent in evidence.agent_rollouts
        if (change := load_rollout(agent.ref, agent.changes, onset)) is not None
    ]
    return suspects[0] if len(suspects) == 1 else None


def check_agent_api_load(evidence: Evidence) -> list[Finding]:
    """Roll back the one DaemonSet whose rollout preceded the API server's throttling of the
    incident's unchanged workload."""
    if not evidence.agent_rollouts:
        return []
    onset = earliest_onset(evidence)
    hits = grep_logs(evidence.logs, APISERVER_THROTTLED, limit=1)
    if onset is None or not hits or own_changed(evidence, onset):
        return []
    suspect = sole_agent_rollout(evidence, onset)
    if suspect is None:
        return []
    agent, change = suspect
    target = agent.ref
    nodes = f"; it runs on {prose.count(agent.nodes, 'node')}" if agent.nodes else ""
    facts = [
        item(hits[0].source, hits[0].line),
        item(object_source(target), rollout_line(change) + nodes),
    ]
    text = prose.narrative(
        f"{prose.obj(target)}'s new revision overloads the API server, which throttles the "
        "workload",
        "roll it back",
        because=[
            prose.claim("The API server refuses the workload's requests: too many", facts[0]),
            prose.claim(_suspect_claim(target), facts[1]),
        ],
    )
    return [
        make_finding(
            "agent-api-load",
            Category.BAD_ROLLOUT,
            CONFIDENCE,
            text,
            facts,
            Action.ROLLBACK,
            target,
            {},
        )
    ]


def _suspect_claim(target: ObjectRef) -> str:
    """Why the rollout is the suspect: a node agent asks once per node; a controller's new
    revision raised its API client's rate limits (``kubetriage.evidence.api_clients``)."""
    if target.kind == "DaemonSet":
        return (
            f"The node agent {prose.obj(target)} rolled out right before, while the workload "
            "did not change; it asks the API server once per node"
        )
    return (
        f"{prose.obj(target)} rolled out right before, raising its API client's rate limits, "
        "while the workload did not change"
    )


API_LOAD_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("agent-api-load", (Category.BAD_ROLLOUT,), check_agent_api_load),
)
