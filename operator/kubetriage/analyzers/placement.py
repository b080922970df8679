"""Failures that follow a node: when a workload's replicas fail only on one node while its
replicas on other nodes run, and that node reports a problem, the node is the cause.

An SRE looks at where the failing pods run before reading their logs: the same image and
config healthy on two nodes and crashing (or timing out its probes, or not getting a pod
sandbox) on a third is the third node's fault (a root
filesystem remounted read-only, a kernel or container runtime error, a problem the node
problem detector reports as a condition such as ``ReadonlyFilesystem`` or
``KernelDeadlock``). The fix is to drain that node, not to change the workload. Pressure and
NotReady conditions without such a split are ``scheduling.check_node_failure``'s case. When
the node reports nothing, it may still be the one odd node: it joined the cluster recently
from a node group (an EKS node group, GKE node pool, AKS agent pool, Karpenter NodePool)
none of the healthy replicas' nodes belong to, and a replica of the same template started
within the hour on an older node and runs, so nothing that changed over time (a config
edit read only by new pods) explains the split: the new group's node configuration (its
sysctls, image, kernel) is. A
split that follows the revision or the image digest instead (the failing replica runs a
newer ReplicaSet, or a moved tag re-pulled on a fresh or rebooted node) is a change's case,
not the node's.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.demand import WINDOW_SECONDS
from kubetriage.analyzers.node_builds import odd_node_build
from kubetriage.analyzers.node_calls import check_calls_fail_on_node
from kubetriage.analyzers.node_metrics import node_metric_problems
from kubetriage.analyzers.pods import pod_events, sandbox_stuck
from kubetriage.analyzers.support import (
    event_fact,
    item,
    metrics_named,
    node_source,
    owner_workload,
    pod_source,
    reboot_behind_it,
    seconds_before,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import EventEvidence, NodeEvidence, PodEvidence
from kubetriage.models.quantity import parse_quantity
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """What each piece of evidence earns a node-localized finding."""

    node_problem: float = 0.82  # replicas fail only on a node whose events/pods show a problem
    node_condition: float = 0.86  # ... and the node itself reports it (a condition, or its
    # own series: interface faults, a resource near exhaustion)
    # Every replica is Ready, but the ones on one node answer many times slower than the
    # rest, and that node's network interfaces count errors (or it reports a problem).
    slow_on_node: float = 0.8
    # The node reports nothing, but it is the odd one: it joined recently from a node group
    # none of the healthy replicas' nodes belong to, and a replica as young runs elsewhere.
    new_node_group: float = 0.82


CONFIDENCE: Final = _Confidence()


# What the kubelet reports about a pod whose node stalls while its container runs: probes
# that fail or time out, a sandbox that cannot be created or torn down.
_KUBELET_TROUBLE = frozenset({"Unhealthy", "FailedCreatePodSandBox", "FailedKillPod"})
# How many times such an event must repeat to be trouble rather than a start-up blip.
_REPEATED = 3


def _failing(pod: PodEvidence) -> bool:
    if pod.phase in ("Failed", "Unknown"):
        return True
    return any(
        not c.init and (c.state.state == "waiting" or (c.restart_count > 0 and c.ready is False))
        for c in pod.containers
    )


def _kubelet_trouble(evidence: Evidence, pod: PodEvidence) -> list[EventEvidence]:
    """The pod's Warning events within the window saying, again and again, that its probes
    fail or its sandbox cannot be made: the kubelet cannot reach or run it there (a probe
    failing once or twice while the pod starts is not that)."""
    return [
        e
        for e in pod_events(evidence, pod)
        if e.type == "Warning"
        and e.reason in _KUBELET_TROUBLE
        and e.count >= _REPEATED
        and (age := seconds_before(evidence, e.last_seen or e.first_seen)) is not None
        and age <= WINDOW_SECONDS
    ]


def _troubled(evidence: Evidence, pod: PodEvidence) -> bool:
    return _failing(pod) or bool(_kubelet_trouble(evidence, pod))


def _healthy(evidence: Evidence, pod: PodEvidence) -> bool:
    return (
        pod.phase == "Running"
        and bool(pod.containers)
        and all(c.ready is not False and c.restart_count == 0 for c in pod.containers if not c.init)
        and not _kubelet_trouble(evidence, pod)
    )


def _node_problems(evidence: Evidence, node: NodeEvidence) -> list[EvidenceItem]:
    """What the node itself reports: a condition other than Ready that holds (the node
    problem detector's ReadonlyFilesystem, KernelDeadlock... and the pressures), Ready not
    True, and its Warning events (a reboot it came back Ready from is not one)."""
    source = node_source(node.name)
    facts = [
        item(source, f"{c.type}=True {c.reason or ''}: {c.message or ''}")
        for c in node.conditions
        if c.type != "Ready" and c.status == "True"
    ]
    if node.ready != "True":
        facts.append(item(source, f"Ready={node.ready}"))
    facts += [
        item("events", event_fact(e))
        for e in evidence.events
        if e.involved.kind == "Node" and e.involved.name == node.name and e.type == "Warning"
        if not reboot_behind_it(e, node)
    ]
    return facts


def withdrawn_devices(node: NodeEvidence, pods: list[PodEvidence]) -> list[EvidenceItem]:
    """The devices (extended resources, ``vendor.domain/name``) ``pods`` request of which
    ``node`` counts fewer allocatable than it has: its device plugin found them unhealthy
    and withdrew them. A device fails alone, so a replica holding a healthy device of the
    same node runs while the one holding the withdrawn device fails."""
    wanted = {
        name
        for p in pods
        for c in p.containers
        for name in (*c.requests, *c.limits)
        if "/" in name and not c.init
    }
    facts = []
    for name in sorted(wanted):
        have = parse_quantity(node.capacity.get(name))
        free = parse_quantity(node.allocatable.get(name))
        if have is not None and free is not None and free < have:
            facts.append(
                item(
                    node_source(node.name),
                    f"{name}: {free:g} of {have:g} allocatable (its device plugin withdrew "
                    f"{have - free:g} as unhealthy)",
                )
            )
    return facts


def _neighbour_failures(node: NodeEvidence) -> list[EvidenceItem]:
    """Pods of other workloads on the node that stopped serving too: the node's other tenants
    failing with the incident's pods is the node's fault, not one application's."""
    return [
        item(
            f"pod/{n.namespace}/{n.name}",
            f"{n.problem} on node {node.name}"
            + (f" since {n.since:%H:%M}" if n.since else "")
            + (f" ({prose.obj(n.owner)}, another workload)" if n.owner else " (another workload)"),
        )
        for n in node.troubled_neighbours
    ]


# The labels cloud providers and node autoscalers put on a node naming the group it was
# created from, with the same configuration (image, kernel settings, instance type).
_NODE_GROUP_LABELS: Final = (
    "eks.amazonaws.com/nodegroup",
    "alpha.eksctl.io/nodegroup-name",
    "cloud.google.com/gke-nodepool",
    "kubernetes.azure.com/agentpool",
    "karpenter.sh/nodepool",
    "kops.k8s.io/instancegroup",
)


def _odd_new_node(
    evidence: Evidence,
    node: NodeEvidence,
    healthy: list[PodEvidence],
    nodes: dict[str, NodeEvidence],
) -> list[EvidenceItem]:
    """Why a node that reports nothing is still the suspect: it joined recently, from a node
    group none of the healthy replicas' nodes belong to, and a replica of the same template
    that started within the window runs on one of those (so the split is not about when the
    pods started). Empty when any part is missing."""
    joined = next(
        (
            c
            for c in evidence.changes
            if c.kind == "node" and c.object.kind == "Node" and c.object.name == node.name
        ),
        None,
    )
    if joined is None:
        return []
    young = [
        p
        for p in healthy
        if (age := seconds_before(evidence, p.created_at)) is not None and age <= WINDOW_SECONDS
    ]
    if not young:
        return []
    peers = [nodes[p.node] for p in healthy if p.node in nodes]
    for key in _NODE_GROUP_LABELS:
        group = node.labels.get(key)
        if group and peers and all(peer.labels.get(key, group) != group for peer in peers):
            others = sorted({peer.labels.get(key) or "?" for peer in peers})
            return [
                item(
                    node_source(node.name),
                    "joined the cluster"
                    + (f" at {joined.at:%H:%M}" if joined.at else " recently")
                    + f" from node group {group} ({key}); the replicas that run are on "
                    + f"{prose.listing(others)}",
                ),
                item(
                    pod_source(young[0]),
                    f"a replica started at {young[0].created_at:%H:%M} on node "
                    f"{young[0].node} and runs",
                ),
            ]
    return []


def _sandbox_failures(evidence: Evidence, node: str) -> list[EvidenceItem]:
    """The kubelet on the node saying, again and again, that it cannot create a pod sandbox
    (the container runtime or the CNI plugin: no IP address to assign, a plugin that does not
    answer). A sandbox does not depend on the pod's image or config, so the node's own fault."""
    return [
        item("events", event_fact(e))
        for pod in evidence.pods
        if pod.node == node
        for e in _kubelet_trouble(evidence, pod)
        if e.reason == "FailedCreatePodSandBox"
    ]


def check_node_localized(evidence: Evidence) -> list[Finding]:
    nodes = {n.name: n for n in evidence.nodes}
    groups: dict[str, tuple[ObjectRef, list[PodEvidence]]] = {}
    for pod in evidence.pods:
        owner = owner_workload(pod)
        if owner is not None and pod.node:
            groups.setdefault(owner.key(), (owner, []))[1].append(pod)
    findings: list[Finding] = []
    for workload, pods in groups.values():
        failing = [p for p in pods if _troubled(evidence, p)]
        healthy = [p for p in pods if _healthy(evidence, p)]
        failing_nodes = {p.node for p in failing}
        if len(failing_nodes) != 1 or not healthy:
            continue
        name = next(iter(failing_nodes))
        node = nodes.get(name or "")
        if node is None:
            continue
        devices = withdrawn_devices(node, failing)
        if (
            any(p.node == name for p in healthy)
            and not sandbox_stuck(evidence, failing)
            and not devices
        ):
            continue  # a healthy replica on the same node clears it, unless that node cannot
            # start or stop pods (its running containers are not asked anything) or withdrew
            # a device the failing replica holds (a healthy device serves the other one)
        healthy = [p for p in healthy if p.node != name]
        if not healthy:
            continue
        if not {p.owner.name for p in failing if p.owner} & {
            p.owner.name for p in healthy if p.owner
        }:
            continue  # the split follows the revision: no revision both fails and runs
        if any(
            c.kind == "image-digest" and c.object.same_object(workload) for c in evidence.changes
        ):
            continue  # or the image the node pulled
        measured = node_metric_problems(evidence, node)
        reported = (
            devices
            + _node_problems(evidence, node)
            + measured
            + _sandbox_failures(evidence, node.name)
        )
        neighbours = _neighbour_failures(node)
        odd = (
            []
            if reported or neighbours
            else _odd_new_node(evidence, node, healthy, nodes)
            or odd_node_build(evidence, node, healthy, nodes, failing)
        )
        problems = reported + neighbours + odd
        if not problems:
            continue
        target = ObjectRef(kind="Node", name=node.name)
        split = item(
            pod_source(failing[0]),
            f"fails on node {node.name} while {prose.count(len(healthy), 'replica')} of "
            f"{workload.name} on "
            f"{prose.listing(sorted({p.node or '' for p in healthy}))} run",
        )
        # A pod that runs but whose probes time out there: what the kubelet says of it.
        said = [item("events", event_fact(e)) for e in _kubelet_trouble(evidence, failing[0])[:1]]
        # The node's own word: its conditions, or its own series past a threshold.
        held = any(f.source.startswith("node/") for f in reported) or bool(measured)
        findings.append(
            make_finding(
                "node-localized",
                Category.NODE_FAILURE,
                CONFIDENCE.node_condition
                if held
                else CONFIDENCE.node_problem
                if reported or neighbours
                else CONFIDENCE.new_node_group,
                prose.narrative(
                    f"{prose.obj(target)} breaks the pods scheduled on it",
                    "drain it",
                    because=[
                        prose.claim(
                            f"Only the replicas of {prose.obj(workload)} on that node fail",
                            split,
                            *said,
                        ),
                        prose.claim("The node itself reports a problem", *reported[:2])
                        if reported
                        else prose.claim(
                            "Pods of other workloads on that node stopped serving too",
                            *neighbours[:2],
                        )
                        if neighbours
                        else prose.claim(
                            "The node is new and unlike the nodes where the replicas run",
                            *odd,
                        ),
                        prose.claim("The same pod template runs on the other nodes"),
                    ],
                ),
                [split, *said, *problems[:4]],
                Action.DRAIN_NODE,
                target,
                {"node": node.name},
            )
        )
    return findings


# How many times slower than the slowest other replica a replica must be to stand out, and
# the least latency that counts as slow at all (a 40ms replica beside 5ms ones is not trouble).
_SLOWER = 4.0
_SLOW_SECONDS = 0.25
_POD_LATENCY = "pod_latency_p99_seconds"


@dataclass(frozen=True, slots=True)
class SlowNode:
    """Replicas on one node many times slower than the same workload's replicas elsewhere,
    all Ready, on a node that shows a fault of its own (``problems``)."""

    node: NodeEvidence
    here: list[PodEvidence]
    others: list[PodEvidence]
    fastest_here: float
    slowest_other: float
    problems: list[EvidenceItem]

    def same_revision(self) -> bool:
        """A revision runs both here and elsewhere: the split follows the node, not a
        rollout (the same template answers quickly on the other nodes)."""
        here = {p.owner.name for p in self.here if p.owner}
        return bool(here & {p.owner.name for p in self.others if p.owner})


def slow_replica_nodes(evidence: Evidence) -> list[SlowNode]:
    """The nodes whose replicas answer _SLOWER times slower than the slowest replica of the
    same workload elsewhere (and slower than _SLOW_SECONDS at all) while the node shows a
    fault: its own series past a threshold, a condition, Warning events."""
    latency = {
        m.labels["pod"]: m.last
        for m in metrics_named(evidence, _POD_LATENCY)
        if m.name == _POD_LATENCY and "pod" in m.labels and m.last is not None
    }
    pods = {p.name: p for p in evidence.pods if p.name in latency and p.node}
    if len(pods) < 2:
        return []
    found: list[SlowNode] = []
    for name in sorted({p.node or "" for p in pods.values()}):
        here = [p for p in pods.values() if p.node == name]
        others = [p for p in pods.values() if p.node != name]
        slowest_other = max((latency[p.name] or 0.0) for p in others) if others else None
        fastest_here = min((latency[p.name] or 0.0) for p in here)
        if slowest_other is None or fastest_here < _SLOW_SECONDS:
            continue
        if fastest_here < _SLOWER * max(slowest_other, 1e-3):
            continue
        node = next((n for n in evidence.nodes if n.name == name), None)
        if node is None:
            continue
        problems = node_metric_problems(evidence, node) + _node_problems(evidence, node)
        if problems:  # a slow replica alone: its own trouble, not necessarily the node's
            found.append(SlowNode(node, here, others, fastest_here, slowest_other, problems))
    return found


def check_slow_replica_node(evidence: Evidence) -> list[Finding]:
    """The replicas on one node answer many times slower than the same workload's replicas
    elsewhere while every pod is Ready, and the node shows a fault of its own: the node."""
    findings: list[Finding] = []
    for slow in slow_replica_nodes(evidence):
        node, here, others, problems = slow.node, slow.here, slow.others, slow.problems
        workload = owner_workload(here[0])
        target = ObjectRef(kind="Node", name=node.name)
        split = item(
            pod_source(here[0]),
            f"p99 {prose.number(slow.fastest_here)}s on node {node.name}, at most "
            f"{prose.number(slow.slowest_other)}s for the "
            f"{prose.count(len(others), 'replica')} on "
            f"{prose.listing(sorted({p.node or '' for p in others}))}",
        )
        findings.append(
            make_finding(
                "slow-replica-node",
                Category.NODE_FAILURE,
                CONFIDENCE.slow_on_node,
                prose.narrative(
                    f"{prose.obj(target)} slows the pods scheduled on it",
                    "drain it",
                    because=[
                        prose.claim(
                            f"Only the replicas of {prose.obj(workload or target)} on that node "
                            "are slow, though all are Ready",
                            split,
                        ),
                        prose.claim("The node itself shows a fault", *problems[:2]),
                        prose.claim("The same pod template answers quickly on the other nodes"),
                    ],
                ),
                [split, *problems[:4]],
                Action.DRAIN_NODE,
                target,
                {"node": node.name},
            )
        )
    return findings


PLACEMENT_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("node-localized", (Category.NODE_FAILURE,), check_node_localized),
    Analyzer("slow-replica-node", (Category.NODE_FAILURE,), check_slow_replica_node),
    Analyzer("calls-fail-on-node", (Category.NODE_FAILURE,), check_calls_fail_on_node),
)
