"""Checks that a CronJob's Job whose own pods are gone (its activeDeadlineSeconds or backoff
limit deleted them, a TTL cleaned them up) is read through the CronJob's other runs: every run
comes from the same template, so the newest runs' pods show how the runs fail, and the fix
aims at the CronJob.

Real: ``sibling_runs`` and ``build_evidence`` on API-shaped dicts, ``is_run_of``, and the
analyzer registry on the Evidence.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kubetriage.analyzers.support import is_run_of
from kubetriage.evidence.build import build_evidence
from kubetriage.evidence.index import MAX_SIBLING_RUNS, sibling_runs, stamped_runs
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.models.base import ObjectRef
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import analyze, assert_leads

NS = "finance"
CRON = "reconcile"
FAILED = f"{CRON}-29919420"  # the alerted run: deadline exceeded, its pod deleted
ACTIVE = f"{CRON}-29919450"  # the next run, its pod waiting on the image
IMAGE = "registry.example/fin/reconcile:2026.11.20-1"
PULL_ERROR = (
    f'failed to pull and unpack image "{IMAGE}": failed to resolve reference "{IMAGE}": '
    "unexpected status: 401 Unauthorized"
)


def _owner(kind: str, name: str, uid: str) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": kind, "name": name, "uid": uid, "controller": True}


def _job(name: str, created: str, *, cron: str | None = CRON, cron_uid: str = "cj") -> Any:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": NS,
        "uid": f"uid-{name}",
        "creationTimestamp": created,
    }
    if cron is not None:
        meta["ownerReferences"] = [_owner("CronJob", cron, cron_uid)]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": {
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": f"uid-{name}"}},
            "template": {"spec": {"containers": [{"name": "app", "image": IMAGE}]}},
        },
        "status": {},
    }


def _pulling_pod(job: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{job}-q7w2k",
            "namespace": NS,
            "labels": {"batch.kubernetes.io/controller-uid": f"uid-{job}"},
            "ownerReferences": [_owner("Job", job, f"uid-{job}")],
        },
        "spec": {"containers": [{"name": "app", "image": IMAGE}], "nodeName": "node-1"},
        "status": {
            "phase": "Pending",
            "containerStatuses": [
                {
                    "name": "app",
                    "image": IMAGE,
                    "ready": False,
                    "restartCount": 0,
                    "state": {"waiting": {"reason": "ImagePullBackOff", "message": PULL_ERROR}},
                }
            ],
        },
    }


def _cron_job(uid: str = "cj") -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": CRON, "namespace": NS, "uid": uid},
        "spec": {"schedule": "*/30 * * * *", "jobTemplate": {"spec": {}}},
    }


def _completed(job: dict[str, Any]) -> dict[str, Any]:
    job["status"] = {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}
    return job


def _evidence(objects: list[dict[str, Any]], target: ObjectRef | None = None) -> Any:
    return build_evidence(
        objects,
        [],
        target=target or ObjectRef(kind="Job", namespace=NS, name=FAILED),
        alerts=[],
        title="KubeJobFailed",
        description=None,
        now=datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
        limits=EvidenceLimits(),
    )


def test_sibling_runs_are_the_same_cronjobs_other_jobs_newest_first() -> None:
    failed = _job(FAILED, "2026-11-20T09:00:00Z")
    older = [_job(f"{CRON}-2991{i}000", f"2026-11-1{i}T02:00:00Z") for i in range(5)]
    active = _job(ACTIVE, "2026-11-20T09:30:00Z")
    by_hand = _job(f"{CRON}-manual-1", "2026-11-20T09:40:00Z", cron=None)
    other_cron = _job("payouts-29919450", "2026-11-20T09:45:00Z", cron="payouts")
    successor = _job(f"{CRON}-29919455", "2026-11-20T09:50:00Z", cron_uid="recreated")
    runs = sibling_runs(failed, [failed, *older, active, by_hand, other_cron, successor])
    assert runs[0] is active
    assert len(runs) == MAX_SIBLING_RUNS
    assert all(r is not failed and r not in (by_hand, other_cron, successor) for r in runs)


def test_a_job_no_cronjob_controls_has_no_sibling_runs() -> None:
    alone = _job(FAILED, "2026-11-20T09:00:00Z", cron=None)
    assert sibling_runs(alone, [alone, _job(ACTIVE, "2026-11-20T09:30:00Z")]) == []


def test_is_run_of_follows_the_cronjob_naming_contract() -> None:
    cron = ObjectRef(kind="CronJob", namespace=NS, name=CRON)
    assert is_run_of(ObjectRef(kind="Job", namespace=NS, name=ACTIVE), cron)
    assert not is_run_of(ObjectRef(kind="Job", namespace=NS, name=f"{CRON}-manual-1"), cron)
    assert not is_run_of(ObjectRef(kind="Job", namespace="other", name=ACTIVE), cron)
    assert not is_run_of(ObjectRef(kind="Job", namespace=NS, name="payouts-29919450"), cron)
    assert not is_run_of(ObjectRef(kind="Job", namespace=NS, name=ACTIVE), None)


def test_a_run_whose_pods_are_gone_is_diagnosed_from_the_next_runs_pod() -> None:
    objects = [
        _job(FAILED, "2026-11-20T09:00:00Z"),
        _job(ACTIVE, "2026-11-20T09:30:00Z"),
        _pulling_pod(ACTIVE),
    ]
    ev = _evidence(objects)
    assert [p.name for p in ev.pods] == [f"{ACTIVE}-q7w2k"]
    cronjob = ObjectRef(kind="CronJob", namespace=NS, name=CRON)
    assert_leads(analyze(ev), Category.IMAGE_PULL, Action.FIX_IMAGE, cronjob)


def test_a_run_with_pods_of_its_own_is_not_mixed_with_other_runs() -> None:
    # Near miss: the alerted run still has its pod, so the other runs' pods stay out.
    own = _pulling_pod(FAILED)
    objects = [
        _job(FAILED, "2026-11-20T09:00:00Z"),
        _job(ACTIVE, "2026-11-20T09:30:00Z"),
        own,
        _pulling_pod(ACTIVE),
    ]
    assert [p.name for p in _evidence(objects).pods] == [own["metadata"]["name"]]


def test_a_job_made_by_hand_does_not_borrow_other_jobs_pods() -> None:
    # Near miss: no CronJob owns the alerted Job; a same-prefixed Job's pods are not its runs.
    objects = [
        _job(FAILED, "2026-11-20T09:00:00Z", cron=None),
        _job(ACTIVE, "2026-11-20T09:30:00Z"),
        _pulling_pod(ACTIVE),
    ]
    assert _evidence(objects).pods == []


def test_stamped_runs_lead_with_the_newest_unfinished_run() -> None:
    done_late = _completed(_job(f"{CRON}-29919470", "2026-11-20T09:50:00Z"))
    waiting = _job(ACTIVE, "2026-11-20T09:30:00Z")
    done_early = _completed(_job(FAILED, "2026-11-20T09:00:00Z"))
    by_hand = _job(f"{CRON}-manual-1", "2026-11-20T09:55:00Z", cron=None)
    other_cron = _job("payouts-29919450", "2026-11-20T09:45:00Z", cron="payouts")
    predecessor = _job(f"{CRON}-29919400", "2026-11-20T08:40:00Z", cron_uid="deleted")
    jobs = [done_early, waiting, done_late, by_hand, other_cron, predecessor]
    assert stamped_runs(_cron_job(), jobs) == [waiting, done_late, done_early]


def test_only_a_cronjob_has_stamped_runs() -> None:
    job = _job(FAILED, "2026-11-20T09:00:00Z")
    assert stamped_runs(job, [job, _job(ACTIVE, "2026-11-20T09:30:00Z")]) == []
    assert stamped_runs(None, [job]) == []


def test_an_alert_on_the_cronjob_reads_the_pods_of_its_waiting_run() -> None:
    # The alert names the CronJob itself (its last success is stale); the run still waiting
    # holds the pod that says why, while the completed run before it is history.
    objects = [
        _cron_job(),
        _completed(_job(FAILED, "2026-11-20T09:00:00Z")),
        _job(ACTIVE, "2026-11-20T09:30:00Z"),
        _pulling_pod(ACTIVE),
    ]
    cronjob = ObjectRef(kind="CronJob", namespace=NS, name=CRON)
    ev = _evidence(objects, cronjob)
    assert [p.name for p in ev.pods] == [f"{ACTIVE}-q7w2k"]
    assert_leads(analyze(ev), Category.IMAGE_PULL, Action.FIX_IMAGE, cronjob)


def test_a_cronjob_that_never_ran_has_no_pods() -> None:
    # Near miss: no Job of its own; another CronJob's run is not borrowed.
    objects = [
        _cron_job(),
        _job("payouts-29919450", "2026-11-20T09:30:00Z", cron="payouts"),
        _pulling_pod("payouts-29919450"),
    ]
    assert _evidence(objects, ObjectRef(kind="CronJob", namespace=NS, name=CRON)).pods == []
