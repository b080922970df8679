"""The node agents that rolled out when the API server throttles: every client of the cluster
shares the API server, and its priority and fairness (APF) queues shed load with HTTP 429
("the server has received too many requests and has asked us to try again later", as
client-go relays it) once they are full. A DaemonSet runs one client per node, so a new
revision that lists or watches more (all pods from every node instead of its own node's from
the kubelet, a shorter resync) multiplies its load by the node count, and controllers that
never changed lose their leader leases. An SRE asks "which agent rolled out just before?".

Pure; the collector (``kubetriage.evidence.agent_walk``) reads the DaemonSets of every
namespace and their ControllerRevisions only when the incident's own lines carry the API
server's throttling, and ``build_evidence`` summarises them with the same rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from kubetriage.evidence.changes import recent_rollouts
from kubetriage.evidence.index import ObjectIndex
from kubetriage.evidence.logs import scope_says
from kubetriage.models.base import ObjectRef
from kubetriage.models.neighbours import AgentRolloutEvidence
from kubetriage.models.object_evidence import LogTail
from kubetriage.models.objects import JsonDict, controller_ref
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns

# The API server shedding load, as its clients quote it: client-go's StatusReasonTooManyRequests
# message, and the body of the API server's own 429.
APISERVER_THROTTLED: Final = re.compile(
    r"(?i)(the server has received too many requests and has asked us to try again later"
    r"|too many requests, please try again later)"
)
# The kubelet's event when the CNI plugin could not give a new pod its network (the node
# agent's IP address management ran dry or failed): the agent's rollouts are then read too.
SANDBOX_NETWORK_FAILED: Final = re.compile(
    r"(?i)failed to (set ?up|setup) network for sandbox|failed to assign an IP address"
    r"|no available IP(/Prefix)? addresses"
)
# Agents kept (those that rolled out, newest first), namespaces whose revisions are read, and
# rollouts kept of each agent.
MAX_AGENTS: Final = 5
MAX_AGENT_NAMESPACES: Final = 8
_MAX_CHANGES: Final = 2


def apiserver_throttled(logs: Iterable[LogTail]) -> bool:
    """Whether the incident's own lines (``scope`` tails) say the API server sheds load."""
    return scope_says(logs, APISERVER_THROTTLED)


def sandbox_network_failed(objects: Iterable[JsonDict]) -> bool:
    """Whether an Event among ``objects`` says the CNI plugin could not set up a pod's
    network (``FailedCreatePodSandBox``)."""
    return any(
        o.get("kind") == "Event"
        and o.get("reason") == "FailedCreatePodSandBox"
        and SANDBOX_NETWORK_FAILED.search(str(o.get("message") or "")) is not None
        for o in objects
    )


def agents_wanted(logs: Iterable[LogTail], objects: Iterable[JsonDict]) -> bool:
    """Whether the node agents' rollouts are read: the API server throttles the incident's
    workload, or the CNI plugin cannot give its new pods a network."""
    return apiserver_throttled(logs) or sandbox_network_failed(objects)


def agent_namespaces(daemonsets: Iterable[JsonDict]) -> list[str]:
    """The namespaces of ``daemonsets`` whose revisions are read, by name, at most
    ``MAX_AGENT_NAMESPACES``."""
    return sorted({_ns(d) for d in daemonsets})[:MAX_AGENT_NAMESPACES]


def _same(own: JsonDict | None, daemonset: JsonDict) -> bool:
    return (
        own is not None
        and own.get("kind") == "DaemonSet"
        and (_ns(own), _name(own)) == (_ns(daemonset), _name(daemonset))
    )


def _revisions_of(daemonset: JsonDict, revisions: Iterable[JsonDict]) -> list[JsonDict]:
    return [
        r
        for r in revisions
        if r.get("kind") == "ControllerRevision"
        and _ns(r) == _ns(daemonset)
        and (owner := controller_ref(r)) is not None
        and owner.get("kind") == "DaemonSet"
        and owner.get("name") == _name(daemonset)
    ]


def _last_rollout(agent: AgentRolloutEvidence) -> float:
    at = agent.changes[0].at if agent.changes else None
    return at.timestamp() if at is not None else 0.0


def agent_rollout_summaries(
    index: ObjectIndex, logs: Iterable[LogTail], own: JsonDict | None
) -> list[AgentRolloutEvidence]:
    """The DaemonSets of ``index`` (besides the incident's own workload) with the rollouts
    their ControllerRevisions record, newest rollout first, at most ``MAX_AGENTS``; none
    unless the incident's own lines say the API server throttles or its events say the CNI
    plugin cannot set up a pod's network (``agents_wanted``)."""
    if not agents_wanted(logs, index.kind("Event")):
        return []
    namespaces = set(agent_namespaces(index.kind("DaemonSet")))
    revisions = index.kind("ControllerRevision")
    found: list[AgentRolloutEvidence] = []
    for daemonset in index.kind("DaemonSet"):
        if _ns(daemonset) not in namespaces or _same(own, daemonset):
            continue
        changes = recent_rollouts(daemonset, _revisions_of(daemonset, revisions), _MAX_CHANGES)
        if not changes:
            continue
        status = daemonset.get("status") or {}
        nodes = status.get("desiredNumberScheduled")
        found.append(
            AgentRolloutEvidence(
                ref=ObjectRef(kind="DaemonSet", namespace=_ns(daemonset), name=_name(daemonset)),
                nodes=nodes if isinstance(nodes, int) else None,
                changes=changes,
            )
        )
    found.sort(key=_last_rollout, reverse=True)
    return found[:MAX_AGENTS]
