"""The unschedulable rule: pods the scheduler places on no node (PodScheduled=False,
FailedScheduling), with the scheduler's reasons in a person's words (insufficient CPU or
memory, selectors and affinity, taints, cordoned nodes...), and pods a ResourceQuota or a
LimitRange keeps from being created (``policy_refusals``). Pods short of room while the node
autoscaler that should add a node for them is down are that autoscaler's symptom
(``reconcilers``). A claim that will not bind is the storage rule's case; nodes that are
down, the node-failure rule's.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.nodes import nodes_behind_pressure_taints
from kubetriage.analyzers.policy_refusals import refusal_findings
from kubetriage.analyzers.reconcilers import node_autoscaler_down
from kubetriage.analyzers.storage import UNBOUND_PVC
from kubetriage.analyzers.support import (
    event_fact,
    events_for,
    item,
    node_source,
    parse_quantity,
    pod_source,
    workload_ref,
)
from kubetriage.analyzers.uninitialized_nodes import uninitialized_constraint
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Claim, EvidenceItem, Finding
from kubetriage.models.object_evidence import NodeEvidence, PodEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure an unschedulable finding is, by the evidence that earns it."""

    named_reason: float = 0.9  # the scheduler's words give a reason known here (taints, CPU...)
    unnamed_reason: float = 0.8  # pods stay unscheduled for a reason not recognised here
    nodes_down: float = 0.7  # ... while nodes are down, not full: node-failure's case
    # ... for want of room, while the node autoscaler that would add a node for them is down
    # and has not spoken about them: its failure is the cause (reconciler-down, 0.85-0.9).
    autoscaler_down: float = 0.75


CONFIDENCE: Final = _Confidence()

# The scheduler's words for nodes that already run their maximum number of pods.
POD_SLOTS_FULL: Final = re.compile(r"(?i)too many pods")
# The scheduler's reasons, by the words a person reads in a finding.
_SCHEDULING_REASONS: dict[str, re.Pattern[str]] = {
    # First: a bound volume pins the pod to its zone, whatever the other nodes lack.
    "volume node affinity conflict": re.compile(r"(?i)volume node affinity conflict"),
    "insufficient cpu": re.compile(r"(?i)insufficient cpu"),
    "insufficient memory": re.compile(r"(?i)insufficient memory"),
    "insufficient resources": re.compile(r"(?i)insufficient [\w./-]+"),
    "node selector or affinity": re.compile(r"(?i)didn't match (pod's )?node (affinity|selector)"),
    "pod (anti-)affinity": re.compile(r"(?i)didn't (match|satisfy) pod (anti-)?affinity"),
    "untolerated taint": re.compile(r"(?i)(untolerated taint|had taint|taint\(s\))"),
    "too many pods": POD_SLOTS_FULL,
    "node unschedulable": re.compile(r"(?i)node\(s\) (were|was) unschedulable"),
    "host port conflict": re.compile(r"(?i)free ports"),
    "topology spread": re.compile(r"(?i)topology spread"),
}
# Reasons that rule out the nodes a pod is not meant for (its node selector or affinity),
# once nodes it is meant for exist.
_INTENDED_EXCLUSIONS = frozenset({"node selector or affinity"})
# Reasons that keep the pods off every node even once their claims bind: with one of them, an
# unbound claim in the same message does not make it storage's case alone.
_BESIDE_CLAIM = frozenset(
    {
        "insufficient cpu",
        "insufficient memory",
        "insufficient resources",
        "node selector or affinity",
    }
)
# The resource named in each of the scheduler's "Insufficient <resource>" reasons.
_INSUFFICIENT = re.compile(r"(?i)insufficient ([\w./-]*\w)")
_NODES_DOWN = re.compile(
    r"(?i)node\.kubernetes\.io/(not-ready|unreachable)|node\(s\) were not ready"
)


def check_unschedulable(evidence: Evidence) -> list[Finding]:
    messages: list[tuple[PodEvidence | None, str, EvidenceItem]] = []
    for pod in evidence.pods:
        if pod.phase != "Pending":
            continue
        for condition in pod.conditions:
            if condition.type == "PodScheduled" and condition.status == "False":
                text = f"{condition.reason or ''}: {condition.message or ''}"
                messages.append((pod, text, item(pod_source(pod), f"PodScheduled=False {text}")))
    pod_names = {p.name: p for p in evidence.pods}
    for event in events_for(evidence, "FailedScheduling"):
        placed = pod_names.get(event.involved.name)
        if placed is not None and placed.node:
            continue  # the scheduler has placed it since: the event is history, not the state
        messages.append((placed, event.message, item("events", event_fact(event))))

    findings: list[Finding] = []
    scheduling = [m for m in messages if not _only_volume_problem(m[1])]
    if scheduling:
        first_pod = next((p for p, _, _ in scheduling if p is not None), None)
        target = workload_ref(evidence, first_pod)
        text = " ".join(t for _, t, _ in scheduling)
        reasons = [label for label, rx in _SCHEDULING_REASONS.items() if rx.search(text)]
        if "insufficient cpu" in reasons or "insufficient memory" in reasons:
            reasons = [r for r in reasons if r != "insufficient resources"]
        pods = [p for p, _, _ in scheduling if p is not None]
        if _selected_nodes(evidence, pods):
            # Nodes the pods' selector matches exist: the nodes it rules out are not meant for
            # them, and another reason is what blocks them on the nodes that are.
            reasons.sort(key=lambda r: r in _INTENDED_EXCLUSIONS)
        pending = sum(1 for p in evidence.pods if p.phase == "Pending")
        confidence = CONFIDENCE.named_reason if reasons else CONFIDENCE.unnamed_reason
        nodes_down = (
            bool(_NODES_DOWN.search(text)) and any(n.ready != "True" for n in evidence.nodes)
        ) or bool(nodes_behind_pressure_taints(evidence, text))
        if nodes_down:
            confidence = CONFIDENCE.nodes_down
        elif node_autoscaler_down(evidence):
            confidence = CONFIDENCE.autoscaler_down
        if target is not None and target.kind in ACTION_TARGET_KINDS[Action.FREE_CAPACITY]:
            facts = [fact for _, _, fact in scheduling[:4]]
            stuck = prose.count(pending, "pod") if pending else "Pods"
            fix = _SCHEDULING_FIX_WORDS.get(reasons[0] if reasons else "", "free capacity")
            # The headline names the first reasons only (as many as fit); the claim below
            # lists them all.
            stuck_pending = f"{stuck} of {prose.obj(target)} {prose.be(pending or 2)} stuck Pending"
            problem = prose.fitting_problem(
                [f"{stuck_pending} on {prose.listing(reasons[:n])}" for n in (2, 1) if reasons]
                + [stuck_pending],
                fix,
            )
            explanation = prose.claim(
                _SCHEDULING_FIXES.get(reasons[0] if reasons else "", _ANY_FIT)
            )
            constraint = _binding_constraint(evidence, pods, reasons, text)
            if constraint is not None:
                tail, fix, explanation, marks = constraint
                # A long object name costs the detail (in the claims anyway), not the sentence.
                problem = prose.fitting_problem(
                    [
                        f"{stuck} of {prose.obj(target)} {prose.be(pending or 2)} stuck "
                        f"Pending: {tail}",
                        f"{stuck} of {prose.obj(target)} {prose.be(pending or 2)} stuck Pending",
                    ],
                    fix,
                )
                facts = [*facts, *marks]
            because = [
                prose.claim(
                    f"The scheduler finds no node for {stuck.lower()} of {prose.obj(target)}"
                    + (f": {prose.listing(reasons)}" if reasons else ""),
                    *facts[:2],
                ),
                explanation,
            ]
            if nodes_down:
                because.append(
                    prose.claim(
                        "Some nodes are not ready or under pressure, which may be the real cause"
                    )
                )
            findings.append(
                make_finding(
                    "unschedulable",
                    Category.UNSCHEDULABLE,
                    confidence,
                    prose.narrative(problem, fix, because=because),
                    facts,
                    Action.FREE_CAPACITY,
                    target,
                    {"reason": ", ".join(reasons) or "unschedulable"},
                )
            )
    findings.extend(refusal_findings(evidence))
    return findings


# Why a pod does not fit, in the scheduler's terms, and what a person does about it.
_ANY_FIT = "No node satisfies the pod's requests and constraints"
_SCHEDULING_FIXES = {
    "insufficient cpu": "The nodes' allocatable CPU is already requested by other pods",
    "insufficient memory": "The nodes' allocatable memory is already requested by other pods",
    "insufficient resources": "The nodes lack a resource the pods request",
    "node selector or affinity": "No node has the labels the pods' selector or affinity ask for",
    "pod (anti-)affinity": "The pods' (anti-)affinity rules exclude every node",
    "untolerated taint": "The nodes carry taints the pods do not tolerate",
    "too many pods": "The nodes already run their maximum number of pods",
    "node unschedulable": "The nodes are cordoned",
    "host port conflict": "The host port the pods ask for is taken on every node",
    "topology spread": "The topology spread constraint cannot be met",
    "volume node affinity conflict": (
        "The pods' bound volumes are pinned to a zone or node where no schedulable node is left"
    ),
}
_SCHEDULING_FIX_WORDS = {
    "insufficient cpu": "add nodes or lower the CPU requests",
    "insufficient memory": "add nodes or lower the memory requests",
    "node selector or affinity": "fix the node selector or label a node",
    "untolerated taint": "add a toleration or untaint a node",
    "node unschedulable": "uncordon a node or add one",
    "host port conflict": "add a node or drop the host port",
    "volume node affinity conflict": "add a node in the volume's zone",
}


def _binding_constraint(
    evidence: Evidence, pods: list[PodEvidence], reasons: list[str], text: str
) -> tuple[str, str, Claim, list[EvidenceItem]] | None:
    """The one constraint behind the scheduler's reasons that a person acts on, when the
    evidence shows it: (headline tail, fix, explanation, facts). An extended resource the
    pods request that no schedulable node their selector matches advertises is not freed by
    any eviction or uncordon; a cordoned node the pods'
    selector matches is lifted by uncordoning it, whatever the other nodes report; a request
    above every node's allocatable is not met by more nodes of the same size."""
    missing = _unadvertised(evidence, pods, text) if "insufficient resources" in reasons else None
    if missing is not None:
        resource, names = missing
        marks = [item(node_source(n), f"allocatable has no {resource}") for n in names[:2]]
        return (
            f"{prose.count(len(names), 'node')} it may use "
            f"{'advertise' if len(names) > 1 else 'advertises'} no {resource}",
            "check the device plugin on its nodes",
            prose.claim(
                f"The nodes meant for these pods report no {resource} at all, so no amount of "
                "freeing makes room: whatever advertises it on them (a device plugin) is not "
                "registering it",
                *marks,
            ),
            marks,
        )
    cordoned = _cordoned_matches(evidence, pods) if "node unschedulable" in reasons else []
    if cordoned:
        names = [n.name for n in cordoned]
        marks = [item(node_source(n), "node is cordoned (unschedulable)") for n in names[:2]]
        return (
            f"{prose.count(len(names), 'node')} its selector matches {prose.be(len(names))} "
            "cordoned",
            f"uncordon {names[0]}" if len(names) == 1 else "uncordon them",
            prose.claim(
                f"Among the nodes the pods' selector matches, {prose.listing(names)} "
                f"{prose.be(len(names))} cordoned",
                *marks,
            ),
            marks,
        )
    if "untolerated taint" in reasons and (waiting := uninitialized_constraint(evidence, text)):
        return waiting
    oversized = _larger_than_any_node(evidence, pods, reasons)
    if oversized is not None:
        asked, largest = oversized
        return (
            f"requests {asked}, more than any node has ({largest})",
            "lower it or add a larger node type",
            prose.claim("No node could hold the pod even empty, so more such nodes will not help"),
            [],
        )
    return None


def _memory_words(value: float) -> str:
    return f"{prose.memory(value)} memory"


def _larger_than_any_node(
    evidence: Evidence, pods: list[PodEvidence], reasons: list[str]
) -> tuple[str, str] | None:
    """A resource the scheduler finds insufficient whose request, for one pending pod, is
    above the allocatable of the largest schedulable node: (request, largest), in words."""
    for resource, render in (("memory", _memory_words), ("cpu", prose.cpu)):
        if f"insufficient {resource}" not in reasons:
            continue
        sizes = [
            parse_quantity(n.allocatable.get(resource)) or 0.0
            for n in evidence.nodes
            if not n.unschedulable
        ]
        largest = max(sizes, default=0.0)
        if not largest:
            continue
        for pod in pods:
            asked = sum(
                parse_quantity(c.requests.get(resource)) or 0.0
                for c in pod.containers
                if not c.init
            )
            if asked > largest:
                return render(asked), render(largest)
    return None


def _unadvertised(
    evidence: Evidence, pods: list[PodEvidence], text: str
) -> tuple[str, list[str]] | None:
    """An extended resource (``vendor.domain/name``) the scheduler finds insufficient and a
    pending pod requests, and the schedulable nodes matching that pod's node selector, none
    of which advertises any of it (absent or zero allocatable): (resource, node names)."""
    for resource in dict.fromkeys(m.lower() for m in _INSUFFICIENT.findall(text)):
        if "/" not in resource:
            continue  # cpu, memory, pods, ephemeral-storage: the node always has them
        for pod in pods:
            if not any(
                parse_quantity(c.requests.get(resource) or c.limits.get(resource))
                for c in pod.containers
            ):
                continue
            matching = [
                n
                for n in evidence.nodes
                if not n.unschedulable
                and n.ready == "True"
                and all(n.labels.get(k) == v for k, v in pod.node_selector.items())
            ]
            if matching and not any(parse_quantity(n.allocatable.get(resource)) for n in matching):
                return resource, [n.name for n in matching]
    return None


def _selected_nodes(evidence: Evidence, pods: list[PodEvidence]) -> list[NodeEvidence]:
    """The nodes whose labels satisfy a pending pod's node selector (none without one)."""
    selectors = [p.node_selector for p in pods if p.node_selector]
    return [
        n
        for n in evidence.nodes
        if any(all(n.labels.get(k) == v for k, v in sel.items()) for sel in selectors)
    ]


def _cordoned_matches(evidence: Evidence, pods: list[PodEvidence]) -> list[NodeEvidence]:
    """The cordoned nodes whose labels satisfy a pending pod's node selector."""
    return [n for n in _selected_nodes(evidence, pods) if n.unschedulable]


def _only_volume_problem(message: str) -> bool:
    """A scheduling failure caused by an unbound claim is storage's case."""
    if not UNBOUND_PVC.search(message):
        return False
    return not any(_SCHEDULING_REASONS[label].search(message) for label in _BESIDE_CLAIM)


SCHEDULING_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("unschedulable", (Category.UNSCHEDULABLE,), check_unschedulable),
)
