"""The callee-quorum rule: a dependency that runs as a group of members electing a leader
(Consul, etcd, ZooKeeper servers: a StatefulSet of several replicas) serves only while a
majority of its members run. When most of its members stay Pending because the scheduler
finds no node for them (their zonal volumes pinned where no node of their pool is left, CPU
short, a taint) and the members that do run are up but not ready, without restarts, those
are waiting for peers that never come: no leader, nothing served. The callers fail or cannot
start for it; escalating the dependency sends its owner to the running members, which are
not at fault. An SRE gets the Pending members scheduled: unschedulable / free-capacity on the
dependency's workload.

A single-replica callee that is Pending is simply down (the dependency rules escalate it),
a member that crashes has a fault of its own, and a group with a ready member left still
answers. The caller must depend on it: its failures point at it
(``dependencies.caller_fails_on``), or its pods are held before their app starts
(``dependencies.held_in_init``) while their own spec names it (a mesh sidecar's control plane
address: the init container registering the pod with it cannot finish). Registered in
``kubetriage.analyzers.ANALYZERS``; pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.dependencies import caller_fails_on, held_in_init
from kubetriage.analyzers.support import item, object_source, pod_source
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import PodEvidence
from kubetriage.models.relations import DependencyEvidence, PodTrouble
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a callee-quorum finding is, by the evidence that earns it."""

    # Most members of the callee Pending for the scheduler, the rest running unready without
    # restarts, and the caller failing on it or held at start while naming it: above the
    # dependency-down escalation of the same callee (0.86).
    quorum_unscheduled: float = 0.88


CONFIDENCE: Final = _Confidence()
NAME: Final = "callee-quorum"
# The scheduler's refusal, whatever its reasons: "0/11 nodes are available: ...".
_NO_NODE: Final = re.compile(r"(?i)\b0/\d+ nodes are available\b")


def _waiting_for_peers(trouble: PodTrouble) -> bool:
    """A member that runs, not ready, with no restart and no waiting reason: up, but not
    serving (no leader), rather than crashing or failing to start."""
    return (
        trouble.phase is None
        and trouble.container is not None
        and trouble.waiting is None
        and trouble.restarts == 0
        and trouble.last_terminated is None
    )


def _held_naming(evidence: Evidence, dependency: DependencyEvidence) -> list[PodEvidence]:
    """The incident's pods held before their app starts whose own spec (or their workload's)
    names the dependency (its args or env)."""
    workload = evidence.workload.ref if evidence.workload is not None else None

    def names(pod: PodEvidence) -> bool:
        for source in dependency.named_by:
            if source.kind not in ("args", "env"):
                continue
            if source.owner_kind == "pod" and source.owner == pod.name:
                return True
            if workload is not None and (source.owner_kind, source.owner) == (
                workload.kind,
                workload.name,
            ):
                return True
        return False

    return [p for p in evidence.pods if held_in_init(p) and names(p)]


def _quorum_lost(dependency: DependencyEvidence) -> tuple[list[PodTrouble], list[PodTrouble]]:
    """The members Pending and those running unready, when the Pending ones are a majority
    of the desired members and every other member waits for its peers; else empty lists."""
    desired = dependency.desired_replicas or 0
    if desired < 2 or dependency.ready_replicas:
        return [], []
    pending = [p for p in dependency.failing_pods if p.phase == "Pending"]
    others = [p for p in dependency.failing_pods if p.phase != "Pending"]
    if len(pending) * 2 <= desired or not all(_waiting_for_peers(p) for p in others):
        return [], []
    if len(pending) + len(others) < dependency.pods:
        return [], []  # a member that is neither failing nor ready: not what we read
    return pending, others


def check_callee_quorum(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    for dependency in evidence.dependencies:
        workload = dependency.workload
        if workload is None or workload.kind != "StatefulSet":
            continue
        pending, waiting = _quorum_lost(dependency)
        refusals = [w for w in dependency.warnings if _NO_NODE.search(w)]
        if not pending or not refusals:
            continue
        held = _held_naming(evidence, dependency)
        if not held and not caller_fails_on(evidence, dependency):
            continue
        source = object_source(workload)
        unplaced = [item(source, f"pod {prose.pod_trouble(p)}") for p in pending[:2]]
        unready = [item(source, f"pod {prose.pod_trouble(p)}") for p in waiting[:1]]
        caller: list[EvidenceItem] = [
            item(pod_source(p), "held before its app starts; its spec names the dependency")
            for p in held[:1]
        ] or [item("dependency", f"named by {', '.join(dependency.named_by_texts(2))}")]
        refusal = item("events", refusals[0])
        facts = [*unplaced, *unready, refusal, *caller]
        because = [
            prose.claim(
                f"{len(pending)} of the {dependency.desired_replicas} members of "
                f"{prose.obj(workload)} stay Pending: the scheduler finds no node for them",
                *unplaced,
                refusal,
            )
        ]
        if unready:
            because.append(
                prose.claim(
                    "The members that run are up but not ready, without restarts: they wait "
                    "for peers that never come",
                    *unready,
                )
            )
        because.append(prose.claim("The workload depends on it", *caller))
        fix = "get its Pending members scheduled"
        findings.append(
            make_finding(
                NAME,
                Category.UNSCHEDULABLE,
                CONFIDENCE.quorum_unscheduled,
                prose.narrative(
                    prose.fitting_problem(
                        [
                            f"{len(pending)} of the {dependency.desired_replicas} members of "
                            f"{prose.obj(workload)}, which the workload depends on, find no "
                            "node, so it has no quorum",
                            f"most members of {prose.obj(workload)} find no node, so it has "
                            "no quorum",
                            f"most members of {prose.obj(workload)} find no node",
                        ],
                        fix,
                    ),
                    fix,
                    because=because,
                ),
                facts,
                Action.FREE_CAPACITY,
                workload,
            )
        )
    return findings


CALLEE_QUORUM_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(NAME, (Category.UNSCHEDULABLE,), check_callee_quorum),
)
