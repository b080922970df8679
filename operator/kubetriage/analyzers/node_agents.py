"""The rollout-pressures-nodes rule: nodes hosting the incident's pods are under memory, disk or PID
pressure (the kubelet evicts its pods there, the scheduler keeps them off), and a DaemonSet
whose pods on those nodes were replaced shortly before the pressure began (the dependency
walk follows it, named by the node and its condition: ``evidence.node_plugins``) rolled out
recently. The agent's new revision uses up what the nodes lack, on every node it runs on, so
draining one node only moves the problem: roll the agent back (above the node-failure
finding for the same pressure). Under disk pressure the same holds for a Deployment or
StatefulSet whose pods there were replaced shortly before, when the kubelet's evictions name
its containers as the largest ephemeral-storage users: its new revision fills the disks.
The incident's own workload is weighed the same way (a node disk alert is answered about the
workload on the node that writes it, ``evidence.node_tenants``): rolled out recently, a pod
of its new revision evicted as the largest disk user, its pods on a node under DiskPressure.

The node-agent-broke-node rule: a node is NotReady (its kubelet reports, so this is not a
node that vanished) and a DaemonSet's pod on it was created shortly before the node went
NotReady and does not run (it exits and is restarted, or cannot start). A node agent (the CNI
plugin, kube-proxy, a CSI node plugin) that the kubelet needs to run pods takes its node down
with it when its new revision fails, as a CNI agent that removes its config on exit leaves
"cni plugin not initialized"; every node it is rolled onto goes the same way, so the
DaemonSet is rolled back, not the node drained (the node-failure finding for that node is
capped, ``nodes``).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.recency import RECENT_ROLLOUT, rollouts_within
from kubetriage.analyzers.support import item, node_source, pod_source, timestamp
from kubetriage.evictions import top_user_resource
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ChangeEvidence, ContainerEvidence, PodEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a node-agent finding is, by the evidence that earns it."""

    # A DaemonSet replaced its pods on the pressured nodes shortly before the pressure began
    # and rolled out within RECENT_ROLLOUT: above the node-failure finding for that pressure
    # (0.85, 0.88 with agreeing signals), which would drain one node of many.
    rolled_out_before_pressure: float = 0.9
    # A DaemonSet's pod created shortly before its node went NotReady does not run there:
    # above the node-failure finding for that node, which is capped when this holds.
    replaced_before_not_ready: float = 0.9


CONFIDENCE: Final = _Confidence()

_PRESSURES = frozenset({"MemoryPressure", "DiskPressure", "PIDPressure"})


def top_disk_user_eviction(warnings: list[str]) -> str | None:
    """The kubelet's eviction of one of a workload's pods for the node's disk that names its
    container as the largest ephemeral-storage user (``kubetriage.evictions``), among
    ``warnings`` of the dependency."""
    return next((w for w in warnings if top_user_resource(w) == "disk"), None)


@dataclass(frozen=True, slots=True)
class PressuringWorkload:
    """A workload whose recent rollout puts its nodes under pressure: its newest rollout, the
    node sources naming it (for the incident's own workload, its pressured nodes), the
    kubelet's eviction naming its container as the largest disk
    user (a Deployment's or StatefulSet's, or the incident's own workload's), and whether it
    is the incident's own workload rather than a followed one."""

    workload: ObjectRef
    rollout: ChangeEvidence
    named: list[str]
    eviction: str | None
    own: bool = False


def _own_disk_writer(evidence: Evidence, now: float) -> PressuringWorkload | None:
    """The incident's own workload when it rolled out within RECENT_ROLLOUT, a pod of its new
    revision was evicted by the kubelet naming its container as the largest ephemeral-storage
    user, and a node hosting its pods is under DiskPressure: its new revision fills the
    nodes' disks (an alert about a node's disk is answered about the workload writing it,
    ``evidence.node_tenants``)."""
    workload = evidence.workload
    if workload is None:
        return None
    ref = workload.ref
    rollouts = rollouts_within([c for c in evidence.changes if c.object.same_object(ref)], now)
    if not rollouts or rollouts[0].at is None:
        return None
    since = timestamp(rollouts[0].at)
    eviction = next(
        (
            p.message
            for p in evidence.pods
            if p.message
            and top_user_resource(p.message) == "disk"
            and p.created_at is not None
            and timestamp(p.created_at) >= since
        ),
        None,
    )
    hosting = {p.node for p in evidence.pods if p.node}
    named = [
        f"{n.name}, under DiskPressure"
        for n in evidence.nodes
        if n.name in hosting
        and any(c.type == "DiskPressure" and c.status == "True" for c in n.conditions)
    ]
    if eviction is None or not named:
        return None
    return PressuringWorkload(ref, rollouts[0], named, eviction.strip(), own=True)


def pressuring_agents(evidence: Evidence) -> list[PressuringWorkload]:
    """The followed workloads named by a node's pressure (their pods there replaced shortly
    before it began) that rolled out within RECENT_ROLLOUT, then the incident's own workload
    when its new revision is evicted as its nodes' largest disk user (``_own_disk_writer``).
    A DaemonSet runs on every node, so its new revision is what changed on the node; a
    Deployment or StatefulSet counts only when the kubelet's disk-pressure evictions name its
    containers as the largest users: its new revision writes to the nodes' disks (a log
    level, a debug flag), and draining a node moves the writer to the next one."""
    now = timestamp(evidence.collected_at)
    found: list[PressuringWorkload] = []
    for dependency in evidence.dependencies:
        agent = dependency.workload
        named = [f"node {r.node} {r.condition}" for r in dependency.routed("node-pressure")]
        if agent is None or not named:
            continue
        eviction = top_disk_user_eviction(dependency.warnings)
        if agent.kind != "DaemonSet" and eviction is None:
            continue
        rollouts = rollouts_within(dependency.changes, now)
        if rollouts:
            kept = eviction if agent.kind != "DaemonSet" else None
            found.append(PressuringWorkload(agent, rollouts[0], named, kept))
    own = _own_disk_writer(evidence, now)
    if own is not None and not any(f.workload.same_object(own.workload) for f in found):
        found.append(own)
    return found


def check_rollout_pressures_nodes(evidence: Evidence) -> list[Finding]:
    pressured = [
        (node.name, condition.type)
        for node in evidence.nodes
        for condition in node.conditions
        if condition.type in _PRESSURES and condition.status == "True"
    ]
    if not pressured:
        return []
    findings: list[Finding] = []
    for found in pressuring_agents(evidence):
        agent, rollout, named = found.workload, found.rollout, found.named
        source = "revisions" if found.own else f"dependency {prose.obj(agent)}"
        rolled = item(source, f"rolled out {'; '.join(rollout.details[:3])}")
        nodes = [item(node_source(name), f"{kind}=True") for name, kind in pressured[:3]]
        if found.own:
            replaced = item("pods", f"its new revision's pods run on {named[0]}")
            placed = "Its new revision's pods run on the nodes under pressure"
        else:
            replaced = item(source, f"its pods were replaced before {named[0]} began")
            placed = (
                "Its pods on the nodes of this incident were replaced shortly "
                "before those nodes came under pressure"
            )
        params = {"revision": str(rollout.from_revision)} if rollout.from_revision else {}
        because = [
            prose.claim(f"{prose.obj(agent)} rolled out recently", rolled),
            prose.claim(placed, replaced, *nodes),
        ]
        facts = [rolled, replaced, *nodes]
        if found.eviction is not None:
            evicted = item("pods" if found.own else source, found.eviction)
            facts.insert(1, evicted)
            because.insert(
                1,
                prose.claim(
                    "The kubelet evicts its pods for the node's disk, naming their container "
                    "as the largest user; draining a node moves the writer to the next one",
                    evicted,
                ),
            )
        findings.append(
            make_finding(
                "rollout-pressures-nodes",
                Category.BAD_ROLLOUT,
                CONFIDENCE.rolled_out_before_pressure,
                prose.narrative(
                    f"{prose.obj(agent)}'s new revision puts its nodes under pressure",
                    "roll it back",
                    aside=prose.count(len({n for n, _ in pressured}), "node") + " under pressure",
                    because=because,
                ),
                facts,
                Action.ROLLBACK,
                agent,
                params,
            )
        )
    return findings


# A node agent's pod created this long before its node went NotReady is "what changed on the
# node"; created earlier, it is the node's steady state. The slack after: the node's Ready
# condition flips a heartbeat after the agent's first exit, its Event may be stamped first.
AGENT_CREATED_BEFORE = timedelta(hours=6)
AGENT_CREATED_AFTER = timedelta(minutes=2)
# Waiting reasons of a container that is merely being started, not failing.
_STARTING = frozenset({"ContainerCreating", "PodInitializing"})


def _not_running(container: ContainerEvidence) -> bool:
    """A container that does not run: it exits and is restarted, or waits on a failure."""
    if container.ready:
        return False
    waiting = container.state.state == "waiting" and container.state.reason not in _STARTING
    return container.restart_count > 0 or waiting


def node_breaking_agents(evidence: Evidence) -> list[tuple[str, ObjectRef, PodEvidence]]:
    """(node, DaemonSet, its pod there) for each NotReady node whose DaemonSet pod was created
    shortly before the node went NotReady (its first NodeNotReady Event; without one, within
    RECENT_ROLLOUT of the collection) and does not run."""
    now = timestamp(evidence.collected_at)
    found: list[tuple[str, ObjectRef, PodEvidence]] = []
    for node in evidence.nodes:
        if node.ready != "False":
            continue
        marks = [
            timestamp(e.first_seen)
            for e in evidence.events
            if e.reason == "NodeNotReady"
            and e.involved.kind == "Node"
            and e.involved.name == node.name
            and e.first_seen is not None
        ]
        since = min(marks) if marks else None
        for pod in evidence.pods:
            owner = pod.owner
            if pod.node != node.name or owner is None or owner.kind != "DaemonSet":
                continue
            if pod.created_at is None or not any(_not_running(c) for c in pod.containers):
                continue
            created = timestamp(pod.created_at)
            if since is not None:
                fresh = (
                    -AGENT_CREATED_AFTER.total_seconds()
                    <= since - created
                    <= AGENT_CREATED_BEFORE.total_seconds()
                )
            else:
                fresh = 0 <= now - created <= RECENT_ROLLOUT.total_seconds()
            if fresh:
                found.append((node.name, owner, pod))
    return found


def check_node_agent_broke_node(evidence: Evidence) -> list[Finding]:
    by_agent: dict[tuple[str, str], list[tuple[str, ObjectRef, PodEvidence]]] = {}
    for entry in node_breaking_agents(evidence):
        agent = entry[1]
        by_agent.setdefault((agent.namespace or "", agent.name), []).append(entry)
    findings: list[Finding] = []
    for entries in by_agent.values():
        agent = entries[0][1]
        nodes = sorted({node for node, _, _ in entries})
        pods = [
            item(
                pod_source(pod),
                f"created {pod.created_at:%Y-%m-%d %H:%M} on {node}, "
                + prose.listing(
                    f"container {c.name} not running"
                    + (f" ({c.state.reason})" if c.state.reason else "")
                    + (f", {prose.count(c.restart_count, 'restart')}" if c.restart_count else "")
                    for c in pod.containers
                    if _not_running(c)
                ),
            )
            for node, _, pod in entries[:3]
            if pod.created_at is not None
        ]
        down = [item(node_source(node), "Ready=False") for node in nodes[:3]]
        findings.append(
            make_finding(
                "node-agent-broke-node",
                Category.BAD_ROLLOUT,
                CONFIDENCE.replaced_before_not_ready,
                prose.narrative(
                    f"{prose.obj(agent)}'s new pods fail and take their nodes down",
                    "roll it back",
                    aside=prose.count(len(nodes), "node") + " NotReady",
                    because=[
                        prose.claim(
                            f"{prose.obj(agent)}'s pods were replaced shortly before their "
                            "nodes went NotReady, and do not run",
                            *pods,
                        ),
                        prose.claim(
                            "A node agent the kubelet needs takes its node down when it fails; "
                            "every node its new revision reaches goes the same way, so draining "
                            "one node moves nothing",
                            *down,
                        ),
                    ],
                ),
                [*pods, *down],
                Action.ROLLBACK,
                agent,
                {},
            )
        )
    return findings


NODE_AGENT_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("rollout-pressures-nodes", (Category.BAD_ROLLOUT,), check_rollout_pressures_nodes),
    Analyzer("node-agent-broke-node", (Category.BAD_ROLLOUT,), check_node_agent_broke_node),
)
