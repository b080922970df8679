"""Pods no scheduler claims: a pod that names a scheduler other than the default one
(``spec.schedulerName``: a batch scheduler such as Volcano, YuniKorn or a second
kube-scheduler profile) stays Pending without a word when no running scheduler answers to that
name (a typo, the scheduler's Deployment name instead of its scheduler name, a scheduler that
was uninstalled). The default scheduler ignores the pod, and the named one does not exist, so
nobody records even a failed attempt: the pod has no ``PodScheduled`` condition and no
FailedScheduling event, unlike a pod that a scheduler tried and could not fit. An SRE who
sees a Pending pod with no scheduling condition at all reads its ``schedulerName`` and fixes
the workload's template (or the scheduler); more nodes would not help.

A scheduler takes a moment to get to a new pod, so the pod must have waited ``UNCLAIMED``,
or an earlier run of the same workload must already have failed on its deadline (a Job's
DeadlineExceeded: its pods waited the whole deadline).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.support import (
    event_fact,
    involved_workload,
    item,
    pod_source,
    seconds_before,
    workload_ref,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import DEFAULT_SCHEDULER, EventEvidence, PodEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure an unclaimed-pod finding is."""

    # A Pending pod naming a non-default scheduler has had no PodScheduled condition for
    # UNCLAIMED or longer.
    unclaimed: float = 0.82
    # A younger such pod, while an earlier run of the same workload failed on its deadline.
    unclaimed_runs_expired: float = 0.78


CONFIDENCE: Final = _Confidence()

# How long a pod may wait for a scheduler to record its first attempt (a scheduler sets
# PodScheduled, True or False, within seconds of a pod's creation).
UNCLAIMED: Final = timedelta(minutes=2)

# A Job's event when it was active longer than its activeDeadlineSeconds.
_DEADLINE_EXCEEDED: Final = "DeadlineExceeded"


def _unclaimed(pod: PodEvidence) -> bool:
    """A Pending, unbound pod naming a non-default scheduler that has no PodScheduled
    condition: no scheduler has looked at it."""
    return (
        pod.phase == "Pending"
        and pod.node is None
        and not pod.deleting
        and pod.scheduler_name != DEFAULT_SCHEDULER
        and not any(c.type == "PodScheduled" for c in pod.conditions)
    )


def _expired_runs(evidence: Evidence, target: ObjectRef) -> list[EventEvidence]:
    """Warning events of runs of ``target`` (its Jobs, or the Job itself) that exceeded
    their deadline."""
    found = []
    for event in evidence.events:
        if event.type != "Warning" or event.reason != _DEADLINE_EXCEEDED:
            continue
        owner = involved_workload(evidence, event.involved)
        if owner is not None and owner.same_object(target):
            found.append(event)
    return found


def check_unclaimed_pods(evidence: Evidence) -> list[Finding]:
    for pod in evidence.pods:
        target = workload_ref(evidence, pod)
        if not _unclaimed(pod) or target is None:
            continue
        waited = seconds_before(evidence, pod.created_at)
        expired = _expired_runs(evidence, target)
        aged = waited is not None and waited >= UNCLAIMED.total_seconds()
        if not aged and not expired:
            continue
        waiting = item(
            pod_source(pod),
            f"Pending, no PodScheduled condition, schedulerName {pod.scheduler_name}"
            + (f", created {prose.duration(waited)} ago" if waited is not None else ""),
        )
        facts: list[EvidenceItem] = [waiting]
        claims = [
            prose.claim(
                f"Pod {pod.name} asks for the scheduler {pod.scheduler_name!r} and no "
                "scheduler has recorded even a failed attempt to place it",
                waiting,
            )
        ]
        if expired:
            ran_out = item("events", event_fact(expired[0]))
            facts.append(ran_out)
            claims.append(
                prose.claim("An earlier run waited out its whole deadline the same way", ran_out)
            )
        return [
            make_finding(
                "unclaimed-pod",
                Category.UNSCHEDULABLE,
                CONFIDENCE.unclaimed if aged else CONFIDENCE.unclaimed_runs_expired,
                prose.narrative(
                    f"pods of {prose.obj(target)} stay Pending: no scheduler answers to "
                    f"{pod.scheduler_name!r}",
                    "name a running scheduler in its template",
                    because=claims,
                ),
                facts,
                Action.FREE_CAPACITY,
                target,
                {"schedulerName": pod.scheduler_name},
            )
        ]
    return []


SCHEDULER_NAME_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("unclaimed-pod", (Category.UNSCHEDULABLE,), check_unclaimed_pods),
)
