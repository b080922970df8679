"""Checks the unclaimed-pod rule: a Pending pod naming a scheduler other than the default one,
with no PodScheduled condition at all after a while (or while an earlier run of the same
CronJob already failed on its deadline), is unschedulable on its workload's template
(free-capacity on the CronJob); a pod some scheduler tried and could not fit, a pod of the
default scheduler, a pod just created with no failed runs, and a bound pod leave it silent.

Real: the analyzer registry over Evidence models from ``tests.support.evidence``.
"""

from __future__ import annotations

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import PodCondition, WorkloadEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import ago, analyze, container, event, evidence, pod

CRON = ObjectRef(kind="CronJob", namespace="batch", name="export")
EARLIER = ObjectRef(kind="Job", namespace="batch", name="export-29919450")
NEWEST = ObjectRef(kind="Job", namespace="batch", name="export-29919480")


def _evidence(
    *,
    scheduler: str = "volcano-batch",
    minutes: float = 10,
    conditions: list[PodCondition] | None = None,
    node: str | None = None,
    deadline: bool = False,
) -> Evidence:
    waiting = pod(
        "export-29919480-7kq2x",
        container("export", ready=False),
        namespace="batch",
        replica_set=None,
        phase="Pending",
        node=node,
        conditions=conditions or [],
        created_at=ago(minutes),
        scheduler_name=scheduler,
    ).model_copy(update={"owner": NEWEST})
    events = []
    if deadline:
        events.append(
            event(
                "DeadlineExceeded",
                "Job was active longer than specified deadline",
                name=EARLIER.name,
                kind="Job",
                namespace="batch",
            )
        )
    return evidence(
        target=EARLIER,
        workload=WorkloadEvidence(ref=EARLIER, controller=CRON),
        pods=[waiting],
        events=events,
    )


def _found(ev: Evidence) -> list[Finding]:
    return [f for f in analyze(ev).findings if f.analyzer == "unclaimed-pod"]


def test_a_pod_no_scheduler_claims_is_fixed_on_its_cronjob_template() -> None:
    (found,) = _found(_evidence())
    assert (found.category, found.action, found.target) == (
        Category.UNSCHEDULABLE,
        Action.FREE_CAPACITY,
        CRON,
    )
    assert "volcano-batch" in found.summary


def test_a_fresh_pod_counts_when_an_earlier_run_ran_out_its_deadline() -> None:
    (found,) = _found(_evidence(minutes=0, deadline=True))
    assert found.target == CRON
    assert len(found.evidence) == 2


def test_a_fresh_pod_without_failed_runs_is_left_alone() -> None:
    assert _found(_evidence(minutes=0.5)) == []


def test_a_pod_its_scheduler_tried_to_place_is_left_alone() -> None:
    tried = [PodCondition(type="PodScheduled", status="False", reason="Unschedulable")]
    assert _found(_evidence(conditions=tried)) == []


def test_a_pod_of_the_default_scheduler_is_left_alone() -> None:
    assert _found(_evidence(scheduler="default-scheduler")) == []


def test_a_bound_pod_is_left_alone() -> None:
    assert _found(_evidence(node="worker-1")) == []
