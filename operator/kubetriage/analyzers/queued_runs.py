"""The queued-run rule: a Job a batch queue holds, suspended with no pod, because its queue
does not reserve quota for it.

Kueue suspends each Job submitted to one of its queues and unsuspends it only once the
Job's Workload has quota reserved in its ClusterQueue (``evidence.workload_queues``). A run
held that way never starts: nothing is Pending, the scheduler has nothing to say, and what
the run should have produced goes stale (an index, an export, a report) while the workloads
serving it stay healthy. An SRE paged for the stale output finds the run suspended since it
was created and reads the queue's reason on its Workload: ``QuotaReserved=False``, with the
message naming the resource whose quota does not cover the request. The pods cannot get
room through the queue: the quota must grow (or the request shrink) for them to run, so the
finding is ``unschedulable``, free capacity for the CronJob whose run it is (its template is
where the request lives; the run is replaced), else the Job.

Only a Job held at least ``HELD_FOR`` (a Workload waiting its turn briefly is a queue
working), still suspended, and only while the incident's own pods are ready (a failing pod
of the incident's tells its own story).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.session_affinity import ready
from kubetriage.analyzers.support import is_run_of, item, object_source
from kubetriage.evidence.workload_queues import QUOTA_RESERVED, WORKLOAD_API
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import GenericObjectEvidence, PodCondition
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a queued-run finding is, by the evidence that earns it."""

    # The queue has held the Job's Workload without reserving quota for HELD_FOR or longer,
    # the Job is still suspended and the incident's own pods are ready: above the no-pattern
    # escalation (0.2), below a failing pod's own reason (a config error's 0.95).
    held: float = 0.8


CONFIDENCE: Final = _Confidence()
NAME: Final = "queued-run"

# How long a Workload waits without quota before the wait is the incident.
HELD_FOR: Final = timedelta(minutes=30)

# The Job condition the Job controller sets while the Job is suspended.
_SUSPENDED: Final = "Suspended"


def _is_workload(obj: GenericObjectEvidence) -> bool:
    return obj.ref.kind == WORKLOAD_API[2] and (obj.ref.api_version or "").startswith(
        f"{WORKLOAD_API[0]}/"
    )


def _condition(obj: GenericObjectEvidence, kind: str, status: str) -> PodCondition | None:
    return next((c for c in obj.conditions if c.type == kind and c.status == status), None)


def check_queued_run(evidence: Evidence) -> list[Finding]:
    if not all(ready(p) for p in evidence.pods):
        return []
    others = evidence.other_objects
    jobs = {(o.ref.namespace, o.ref.name): o for o in others if o.ref.kind == "Job"}
    cron_jobs = [o.ref for o in others if o.ref.kind == "CronJob"]
    for workload in (o for o in others if _is_workload(o)):
        waiting = _condition(workload, QUOTA_RESERVED, "False")
        since = waiting.last_transition_time if waiting is not None else None
        if waiting is None or since is None or evidence.collected_at - since < HELD_FOR:
            continue
        owner = workload.fields.get("ownerName")
        if workload.fields.get("ownerKind") != "Job" or owner is None:
            continue
        job = jobs.get((workload.ref.namespace, owner))
        if job is None or _condition(job, _SUSPENDED, "True") is None:
            continue
        target = next((c for c in cron_jobs if is_run_of(job.ref, c)), job.ref)
        held = prose.duration((evidence.collected_at - since).total_seconds())
        reason = item(
            object_source(workload.ref),
            f"{QUOTA_RESERVED}=False"
            + (f" ({waiting.reason})" if waiting.reason else "")
            + f" for {held}"
            + (f": {prose.quote(waiting.message)}" if waiting.message else ""),
        )
        suspended = item(object_source(job.ref), f"{_SUSPENDED}=True, no pod created")
        run = prose.obj(job.ref)
        return [
            make_finding(
                NAME,
                Category.UNSCHEDULABLE,
                CONFIDENCE.held,
                prose.narrative(
                    f"{run} never started: its queue holds it without quota for {held}",
                    "raise the queue's quota or lower the run's request",
                    because=[
                        prose.claim(
                            f"The queue has not reserved quota for {run}'s Workload", reason
                        ),
                        prose.claim(
                            f"{run} stays suspended until the queue admits it, so none of "
                            "its pods exists to be scheduled",
                            suspended,
                        ),
                    ],
                ),
                [reason, suspended],
                Action.FREE_CAPACITY,
                target,
            )
        ]
    return []


QUEUED_RUN_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(NAME, (Category.UNSCHEDULABLE,), check_queued_run),
)
