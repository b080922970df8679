"""The node-failure rule: a node that is NotReady, unreachable or under pressure (conditions,
node Events, kube-state-metrics, node alerts), and pods evicted or stranded by it; nodes
that host none of the incident's pods are context and only the strongest of them is kept.
The callee-node rule: a called dependency whose replicas on one node the node controller marks
not ready, while its replicas elsewhere are untouched, fails because of that node (it supersedes
escalating to the dependency's owner); so does one whose replicas all sit on that node when the
node itself reports it is not Ready (its kubelet stopped posting status: a lone replica cannot
be compared with another, the node's own condition says it). The fix is to cordon and drain
the node.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.demand import WINDOW_SECONDS
from kubetriage.analyzers.images import pulls_out_of_disk
from kubetriage.analyzers.node_agents import node_breaking_agents, pressuring_agents
from kubetriage.analyzers.node_metrics import kernel_memory_growth
from kubetriage.analyzers.node_recovery import recovered_since
from kubetriage.analyzers.pods import own_limit_eviction
from kubetriage.analyzers.support import (
    event_fact,
    item,
    metrics_named,
    node_source,
    pod_source,
    reboot_behind_it,
    seconds_before,
)
from kubetriage.evictions import top_user_resource
from kubetriage.evidence.volume_alerts import kubelet_volume
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EXPLAINS, EvidenceItem, Finding
from kubetriage.models.object_evidence import EventEvidence, NodeEvidence, PodEvidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a node-failure finding is, by the evidence that earns it (the best signal of a
    node counts). "Elsewhere": the node hosts none of the incident's pods while others do."""

    not_ready: float = 0.9  # the node is NotReady or unreachable
    not_ready_elsewhere: float = 0.5
    pressure: float = 0.85  # a pressure condition is True (memory, disk, PIDs, network)
    pressure_elsewhere: float = 0.45
    cordoned: float = 0.4  # the node is cordoned
    evicted: float = 0.85  # a pod of the incident was evicted from it for node pressure
    stranded: float = 0.8  # a pod on it is in phase Unknown, or terminating on a down node
    event: float = 0.8  # a node Event (NodeNotReady, SystemOOM...) or an eviction Event
    # The node problem detector's kernel monitor reports, within the hour, that the node's
    # kernel or hardware fails (I/O errors, hung tasks, oopses, filesystem errors). Below
    # ``placement``'s node problem (0.82): where the incident's replicas fail only there, that
    # finding says more (which replicas, that the template runs elsewhere).
    kernel_fault: float = 0.78
    # The node's own series: its kernel's unreclaimable memory grew by gigabytes in the hour.
    kernel_memory: float = 0.8
    event_elsewhere: float = 0.5
    metric: float = 0.8  # kube_node_status_condition reports it not Ready or under pressure
    metric_elsewhere: float = 0.45
    alert: float = 0.75  # a node alert fired for it (KubeNodeNotReady, KubeletDown...)
    # A pod's pull fails there because the node's disk is full ("no space left on device"
    # unpacking the layers): the node cannot store images, whatever the image.
    pull_no_space: float = 0.85
    # The node controller marks a called dependency's replicas on one node not ready (its
    # node stops reporting) while its replicas elsewhere are not: the callee's failures are
    # that node's (above escalating to the callee's owner, 0.78-0.8).
    callee_node: float = 0.82
    # ... every replica of it is on that node, and the Node reports Ready False or Unknown.
    callee_node_down: float = 0.82
    agree_bonus: float = 0.03  # more than one signal agrees
    # The node is Ready, only under pressure, and a node agent replaced its pods there
    # shortly before the pressure began and rolled out recently (``node_agents``): the
    # agent's revision uses up the node, on every node it runs on; draining moves the load.
    # The same cap where the incident's own new revision was evicted as the largest disk
    # user (``node_agents``: it fills every node it runs on).
    agent_rollout_cap: float = 0.3  # low: one per pressured node, and their votes add up
    # The node is NotReady and a DaemonSet pod created there shortly before does not run
    # (``node_agents.node_breaking_agents``): the agent's new revision took the node down.
    agent_broke_cap: float = 0.3
    cap: float = 0.95  # the most a node-failure finding claims


CONFIDENCE: Final = _Confidence()

_NODE_PRESSURE_EVICTION = re.compile(
    r"(?i)the node (was|had) (low on resource|condition)[: ]*\[?(?P<resource>[\w-]+)"
)
_PRESSURES = ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")
# The temporary problems node-problem-detector's kernel monitor reports as Warning events on
# the Node (its kernel-monitor.json reasons): the disk, memory or kernel under the node fails,
# whatever runs on it.
_KERNEL_FAULTS: Final = frozenset(
    {"IOError", "TaskHung", "KernelOops", "Ext4Error", "MemoryReadError", "XFSErrors"}
)
_PRESSURE_WORDS = {
    "MemoryPressure": "under memory pressure",
    "DiskPressure": "under disk pressure",
    "PIDPressure": "out of process IDs",
    "NetworkUnavailable": "without a network",
}


def nodes_short_of_memory(evidence: Evidence, pods: list[PodEvidence]) -> bool:
    """Whether a node under ``pods`` shows the signs of running out of memory itself: its
    MemoryPressure condition, or a SystemOOM or NodeHasInsufficientMemory event (the kernel's
    global OOM killer, not a container's cgroup limit)."""
    nodes = {n.name: n for n in evidence.nodes}
    names = {p.node for p in pods if p.node is not None}
    pressed = any(
        c.type == "MemoryPressure" and c.status == "True"
        for n in names
        if n in nodes
        for c in nodes[n].conditions
    )
    oom_events = any(
        e.involved.kind == "Node"
        and e.involved.name in names
        and e.reason in ("SystemOOM", "NodeHasInsufficientMemory")
        for e in evidence.events
    )
    return pressed or oom_events


# The taints the node lifecycle controller puts on a node under pressure, by the condition
# behind each: the scheduler names them when it keeps pods off such a node.
_PRESSURE_TAINT = re.compile(r"(?i)node\.kubernetes\.io/(?P<kind>disk|memory|pid)-pressure")
_TAINT_CONDITIONS = {"disk": "DiskPressure", "memory": "MemoryPressure", "pid": "PIDPressure"}


def nodes_behind_pressure_taints(evidence: Evidence, text: str) -> set[str]:
    """The nodes reporting a pressure whose taint the scheduler's words (``text``) name: the
    nodes that keep those pods off by their own failure, not for lack of capacity."""
    wanted = {_TAINT_CONDITIONS[m["kind"].lower()] for m in _PRESSURE_TAINT.finditer(text)}
    return {
        n.name
        for n in evidence.nodes
        if any(c.type in wanted and c.status == "True" for c in n.conditions)
    }


def _scheduling_words(evidence: Evidence) -> str:
    """What the scheduler says about the incident's pods it does not place."""
    texts = [
        c.message or ""
        for p in evidence.pods
        if p.phase == "Pending"
        for c in p.conditions
        if c.type == "PodScheduled" and c.status == "False"
    ]
    texts += [e.message for e in evidence.events if e.reason == "FailedScheduling"]
    return " ".join(texts)


def kernel_fault(evidence: Evidence, event: EventEvidence) -> bool:
    """Whether ``event`` is the node problem detector reporting, within the hour, a fault of
    the Node's kernel or hardware (a Warning of one of its kernel monitor's reasons)."""
    age = seconds_before(evidence, event.last_seen or event.first_seen)
    return (
        event.involved.kind == "Node"
        and event.type == "Warning"
        and event.reason in _KERNEL_FAULTS
        and age is not None
        and age <= WINDOW_SECONDS
    )


def cordon_fact(node: str) -> EvidenceItem:
    """The fact that a node is cordoned."""
    return item(node_source(node), "node is cordoned (unschedulable)")


def _node_ref(name: str) -> ObjectRef:
    return ObjectRef(kind="Node", name=name)


def check_node_failure(evidence: Evidence) -> list[Finding]:
    # A node whose pressure taint keeps the incident's pending pods off it is theirs too.
    implicated = nodes_behind_pressure_taints(evidence, _scheduling_words(evidence))
    hosting = {p.node for p in evidence.pods if p.node} | implicated
    # node name -> (confidence, facts)
    found: dict[str, tuple[float, list[EvidenceItem]]] = {}

    def note(node: str, confidence: float, fact: EvidenceItem) -> None:
        best, facts = found.get(node, (0.0, []))
        found[node] = (max(best, confidence), [*facts, fact])

    for node in evidence.nodes:
        ours = node.name in hosting or not hosting
        source = node_source(node.name)
        if node.ready in ("False", "Unknown"):
            condition = next((c for c in node.conditions if c.type == "Ready"), None)
            detail = f" ({condition.reason}: {condition.message})" if condition else ""
            confidence = CONFIDENCE.not_ready if ours else CONFIDENCE.not_ready_elsewhere
            note(node.name, confidence, item(source, f"Ready={node.ready}{detail}"))
        for condition in node.conditions:
            if condition.type in _PRESSURES and condition.status == "True":
                note(
                    node.name,
                    CONFIDENCE.pressure if ours else CONFIDENCE.pressure_elsewhere,
                    item(source, f"{condition.type}=True {condition.message or ''}"),
                )
        if node.unschedulable and ours:
            note(node.name, CONFIDENCE.cordoned, cordon_fact(node.name))
        for fact in kernel_memory_growth(evidence, node):
            note(node.name, CONFIDENCE.kernel_memory if ours else CONFIDENCE.event_elsewhere, fact)
    for pod in evidence.pods:
        if pod.node is None:
            continue
        if pod.reason == "Evicted" and not own_limit_eviction(pod.message):
            match = _NODE_PRESSURE_EVICTION.search(pod.message or "")
            if match or "node" in (pod.message or "").lower():
                note(pod.node, CONFIDENCE.evicted, item(pod_source(pod), f"Evicted: {pod.message}"))
        elif pod.phase == "Unknown" or (pod.deleting and _node_down(evidence, pod.node)):
            fact = item(pod_source(pod), f"phase {pod.phase}, terminating")
            note(pod.node, CONFIDENCE.stranded, fact)
    for full, fact in pulls_out_of_disk(evidence).items():
        note(full, CONFIDENCE.pull_no_space, fact)
    for event in evidence.events:
        node_name: str | None = None
        if event.involved.kind == "Node" and event.reason in (
            "NodeNotReady",
            "NodeHasDiskPressure",
            "NodeHasInsufficientMemory",
            "NodeHasInsufficientPID",
            "EvictionThresholdMet",
            "SystemOOM",
            "Rebooted",
            "KubeletNotReady",
        ):
            node_name = event.involved.name
            reported = next((n for n in evidence.nodes if n.name == node_name), None)
            if reported is not None and reboot_behind_it(event, reported):
                continue  # it rebooted once and reports Ready again: not failing now
            if recovered_since(event, evidence.events, reported):
                continue  # the kubelet reported the condition's end since
        elif kernel_fault(evidence, event):
            node_name = event.involved.name
            ours = node_name in hosting or not hosting
            confidence = CONFIDENCE.kernel_fault if ours else CONFIDENCE.event_elsewhere
            note(node_name, confidence, item("events", event_fact(event)))
            continue
        elif event.reason == "Evicted" and own_limit_eviction(event.message):
            continue  # the pod outgrew its own storage limit: not the node's failure
        elif event.reason in ("Evicted", "NodeNotReady", "TaintManagerEviction"):
            evicted = next((p for p in evidence.pods if p.name == event.involved.name), None)
            if evicted is not None and evicted.node:
                node_name = evicted.node
            else:
                match = re.search(r"(?i)node \"?([\w.-]+)\"?", event.message)
                node_name = match.group(1) if match else None
        if node_name:
            ours = node_name in hosting or not hosting
            confidence = CONFIDENCE.event if ours else CONFIDENCE.event_elsewhere
            note(node_name, confidence, item("events", event_fact(event)))
    for metric in metrics_named(evidence, "kube_node_status_condition"):
        match = re.search(r'node="([^"]+)"', metric.query)
        node_name = metric.labels.get("node") or (match.group(1) if match else None)
        condition_type = metric.labels.get("condition")
        if node_name is None or condition_type is None or metric.last is None:
            continue
        broken = (condition_type in _PRESSURES and metric.last >= 1) or (
            condition_type == "Ready" and metric.last < 1
        )
        if broken:
            ours = node_name in hosting or not hosting
            note(
                node_name,
                CONFIDENCE.metric if ours else CONFIDENCE.metric_elsewhere,
                item(
                    "metrics",
                    f"kube_node_status_condition {condition_type} on {node_name}: {metric.last:g}",
                ),
            )
    for alert in evidence.alerts:
        name = alert.labels.get("alertname", "")
        node_label = alert.labels.get("node") or alert.labels.get("instance")
        if kubelet_volume(alert.labels.get("mountpoint") or "") is not None:
            continue  # a pod's volume mounted on the node, not the node's own disk
        if (
            name
            in (
                "KubeNodeNotReady",
                "KubeNodeUnreachable",
                "NodeFilesystemAlmostOutOfSpace",
                "KubeletDown",
                "NodeMemoryHighUtilization",
            )
            and node_label
        ):
            fact = item("alert", f"{name} for {node_label}")
            note(node_label.split(":")[0], CONFIDENCE.alert, fact)

    # A node whose only signal is its cordon is being drained, or was left so, and is
    # otherwise healthy: draining it again moves nothing (what holds a drain is a workload's
    # disruption budget, ``kubetriage.analyzers.disruption_budgets``).
    for name in [n for n, (_, facts) in found.items() if facts == [cordon_fact(n)]]:
        del found[name]
    # Nodes that host none of the incident's pods are context, not the cause: keep only the
    # strongest of them so several weak ones cannot add up to outweigh the real finding.
    if hosting:
        elsewhere = sorted((n for n in found if n not in hosting), key=lambda n: -found[n][0])
        for name in elsewhere[1:]:
            del found[name]
    findings: list[Finding] = []
    agents = pressuring_agents(evidence)
    # Where the incident's own new revision was evicted as the largest disk user, the node
    # only reclaimed the disk that revision filled: draining it moves the writer on.
    writer_evicted = {
        p.node
        for p in evidence.pods
        if any(a.own for a in agents) and top_user_resource(p.message or "") == "disk"
    }
    broken_by_agent = {node for node, _, _ in node_breaking_agents(evidence)}
    for node_name, (confidence, facts) in found.items():
        affected = sum(1 for p in evidence.pods if p.node == node_name)
        if len(facts) > 1:
            confidence = min(confidence + CONFIDENCE.agree_bonus, CONFIDENCE.cap)
        seen_node = next((n for n in evidence.nodes if n.name == node_name), None)
        down = (
            [
                _PRESSURE_WORDS[c.type]
                for c in seen_node.conditions
                if c.type in _PRESSURES and c.status == "True"
            ]
            if seen_node
            else []
        )
        if seen_node is not None and seen_node.ready != "True":
            down.insert(0, "NotReady" if seen_node.ready == "False" else "unreachable")
            if node_name in broken_by_agent:
                confidence = min(confidence, CONFIDENCE.agent_broke_cap)
        elif (down and agents) or node_name in writer_evicted:
            confidence = min(confidence, CONFIDENCE.agent_rollout_cap)
        state = f"is {prose.listing(down)}" if down else "is failing"
        because = [prose.claim(f"{prose.obj(_node_ref(node_name))} {state}", *facts[:2])]
        if len(facts) > 2:
            because.append(
                prose.claim("Other signals from the node and its pods agree", *facts[2:4])
            )
        if affected:
            because.append(
                prose.claim(
                    f"{prose.count(affected, 'pod')} of this incident {prose.be(affected)} "
                    "scheduled there; draining the node moves its pods to healthy nodes"
                )
            )
        elif node_name in implicated:
            because.append(
                prose.claim(
                    "Its pressure taint keeps this incident's pending pods off it, so the "
                    "capacity they lack is the capacity the node's failure took away"
                )
            )
        else:
            because.append(
                prose.claim(
                    "None of this incident's pods run there now (evicted or rescheduled), so "
                    "the node is the likely cause, not a bystander"
                    if not hosting
                    else "None of this incident's pods run there; it is context, not the cause"
                )
            )
        findings.append(
            make_finding(
                "node-failure",
                Category.NODE_FAILURE,
                confidence,
                prose.narrative(
                    f"{prose.obj(_node_ref(node_name))} {state}",
                    "cordon and drain it",
                    aside=f"{prose.count(affected, 'pod')} of this incident there"
                    if affected
                    else "",
                    because=because,
                ),
                facts,
                Action.DRAIN_NODE,
                _node_ref(node_name),
                {"node": node_name},
            )
        )
    return findings


# A followed dependency's warning about one of its pods that the node lifecycle controller
# raises when the pod's node stops reporting (``DependencyEvidence.warnings`` lines).
_NODE_LIFECYCLE_WARNING = re.compile(r"^Pod/(?P<pod>\S+) NodeNotReady\b")


def _down_fact(
    evidence: Evidence, dependency: DependencyEvidence, name: str
) -> EvidenceItem | None:
    """The Node's own word that it is down (its Ready condition False or Unknown), as the
    dependency's summary read it or as the Node in view says, or None."""
    if (said := dependency.down_nodes.get(name)) is not None:
        return item(node_source(name), f"Ready={said}")
    node = next((n for n in evidence.nodes if n.name == name), None)
    if node is None or node.ready == "True":
        return None
    ready = next((c for c in node.conditions if c.type == "Ready"), None)
    why = (ready.message or ready.reason or "") if ready is not None else ""
    return item(node_source(name), f"Ready={node.ready}" + (f": {why}" if why else ""))


def check_callee_node(evidence: Evidence) -> list[Finding]:
    """A dependency's replicas fail because their node does: the node controller marks those
    on one node not ready, its replicas on other nodes stay untouched (or it has none
    elsewhere and the node reports itself not Ready). Escalating to the callee's owner would
    hand them a node problem; draining the node moves the replicas."""
    findings: list[Finding] = []
    for dependency in evidence.dependencies:
        marked = [
            (m["pod"], warning)
            for warning in dependency.warnings
            if (m := _NODE_LIFECYCLE_WARNING.match(warning))
        ]
        nodes = {dependency.pod_nodes[pod] for pod, _ in marked if pod in dependency.pod_nodes}
        elsewhere = [p for p, n in dependency.pod_nodes.items() if n not in nodes]
        callee = dependency.ref or dependency.workload
        if len(nodes) != 1 or callee is None:
            continue
        node_name = next(iter(nodes))
        down = None if elsewhere else _down_fact(evidence, dependency, node_name)
        if not elsewhere and down is None:
            continue
        ref = _node_ref(node_name)
        where = f"{callee.kind.lower()}/{callee.namespace}/{callee.name}"
        marked_fact = item(where, marked[0][1])
        if down is not None:
            spared = down
            confidence = CONFIDENCE.callee_node_down
            unaffected = (
                f"All its replicas run on {prose.obj(ref)}, which reports itself not Ready: "
                "the calls fail on the node, not in the dependency; draining moves its replicas"
            )
        else:
            spared = item(
                where, f"replica {elsewhere[0]} on node {dependency.pod_nodes[elsewhere[0]]}"
            )
            confidence = CONFIDENCE.callee_node
            unaffected = (
                "Its replicas on other nodes are not affected, so the calls fail "
                "on the node, not in the dependency; draining moves its replicas"
            )
        findings.append(
            make_finding(
                "callee-node",
                Category.NODE_FAILURE,
                confidence,
                prose.narrative(
                    f"{prose.obj(ref)} keeps failing under the replicas of {prose.obj(callee)}",
                    "cordon and drain it",
                    because=[
                        prose.claim(
                            f"The node controller marks the replicas of {prose.obj(callee)} on "
                            f"{prose.obj(ref)} not ready: their node stops reporting",
                            marked_fact,
                        ),
                        prose.claim(unaffected, spared),
                    ],
                ),
                [marked_fact, spared],
                Action.DRAIN_NODE,
                ref,
                {
                    "node": node_name,
                    EXPLAINS: f"{callee.kind}/{callee.namespace or ''}/{callee.name}",
                },
            )
        )
    return findings


def _node_down(evidence: Evidence, name: str) -> bool:
    node: NodeEvidence | None = next((n for n in evidence.nodes if n.name == name), None)
    return node is not None and node.ready != "True"


NODE_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("node-failure", (Category.NODE_FAILURE,), check_node_failure),
    Analyzer("callee-node", (Category.NODE_FAILURE,), check_callee_node),
)
