"""Checks the queued-run rule: a Job a batch queue (Kueue) has held suspended for long, its
Workload's quota not reserved, while the incident's own pods are ready, is unschedulable and
its CronJob (else the Job) needs capacity; evidence built by the real builder from raw
objects (the Workload's owner is summarised among the other objects). Near misses: a Workload
waiting briefly, one whose quota is reserved, a Job no longer suspended, a failing pod of the
incident's own, an object of another API group named Workload.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from kubetriage.analyzers.queued_runs import NAME, check_queued_run
from kubetriage.models.base import ObjectRef
from kubetriage.models.vocabulary import Action, Category
from kubetriage.replay.cases import load_case
from kubetriage.replay.session import replay_case
from kubetriage.settings import Settings
from tests.support.built import built, deployment_manifest
from tests.support.evidence import NOW

_NS = "search"
_JOB = "embed-refresh-29919300"
_CRON_UID = "3d0d24c3-89f3-b318-3d55-e01eb229b215"
_JOB_UID = "d2d0dd5d-6388-82c3-325f-b769d2885de8"
_API = ObjectRef(kind="Deployment", namespace=_NS, name="search-api")


def _at(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cron_job() -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "embed-refresh", "namespace": _NS, "uid": _CRON_UID},
        "spec": {"schedule": "0 7 * * *"},
    }


def _job(*, suspended: bool = True, owned: bool = True) -> dict[str, Any]:
    refs = [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "embed-refresh",
             "uid": _CRON_UID, "controller": True}] if owned else []  # fmt: skip
    condition = {"type": "Suspended", "status": "True" if suspended else "False",
                 "reason": "JobSuspended", "lastTransitionTime": _at(180)}  # fmt: skip
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": _JOB, "namespace": _NS, "uid": _JOB_UID, "ownerReferences": refs},
        "spec": {"suspend": suspended, "parallelism": 4},
        "status": {"active": 0, "conditions": [condition]},
    }


def _workload(
    *, reserved: str = "False", since: float = 180, api: str = "kueue.x-k8s.io/v1beta1"
) -> dict[str, Any]:
    message = "couldn't assign flavors to pod set main: insufficient quota for nvidia.com/gpu"
    return {
        "apiVersion": api,
        "kind": "Workload",
        "metadata": {
            "name": f"job-{_JOB}-c2f1e",
            "namespace": _NS,
            "ownerReferences": [
                {"apiVersion": "batch/v1", "kind": "Job", "name": _JOB, "uid": _JOB_UID,
                 "controller": True}
            ],
        },
        "spec": {"queueName": "search", "active": True},
        "status": {
            "conditions": [
                {"type": "QuotaReserved", "status": reserved, "reason": "Pending",
                 "message": message, "lastTransitionTime": _at(since)}
            ]
        },
    }  # fmt: skip


def _pod(*, ready: bool = True) -> dict[str, Any]:
    state = {"running": {}} if ready else {"waiting": {"reason": "CrashLoopBackOff"}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "search-api-6c8d9f7b54-2xwq9", "namespace": _NS,
                     "labels": {"app": "search-api"}},
        "spec": {"containers": [{"name": "api", "image": "registry.example/api:3"}]},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [{"name": "api", "ready": ready, "state": state,
                                   "restartCount": 0 if ready else 5}],
        },
    }  # fmt: skip


def _findings(*objects: dict[str, Any], ready: bool = True) -> list[Any]:
    api = deployment_manifest("search-api", _NS, ("api", "registry.example/api:3"))
    return check_queued_run(built([api, _pod(ready=ready), *objects], _API))


def test_a_run_held_by_its_queue_needs_capacity_for_its_cron_job() -> None:
    found = _findings(_cron_job(), _job(), _workload())
    assert [(f.analyzer, f.category, f.action) for f in found] == [
        (NAME, Category.UNSCHEDULABLE, Action.FREE_CAPACITY)
    ]
    assert found[0].target.same_object(
        ObjectRef(kind="CronJob", namespace=_NS, name="embed-refresh")
    )
    assert any("insufficient quota" in e.fact for e in found[0].evidence)


def test_a_job_of_no_cron_job_is_the_target_itself() -> None:
    found = _findings(_job(owned=False), _workload())
    assert [(f.target.kind, f.target.name) for f in found] == [("Job", _JOB)]


def test_a_queue_working_or_a_run_let_go_is_no_finding() -> None:
    assert _findings(_cron_job(), _job(), _workload(since=10)) == []
    assert _findings(_cron_job(), _job(), _workload(reserved="True")) == []
    assert _findings(_cron_job(), _job(suspended=False), _workload()) == []
    assert _findings(_cron_job(), _job(), _workload(api="example.com/v1")) == []


def test_a_failing_pod_of_the_incidents_own_tells_its_own_story() -> None:
    assert _findings(_cron_job(), _job(), _workload(), ready=False) == []


def test_the_collector_reads_the_held_run_for_it(tmp_path: Path) -> None:
    """The same objects replayed in an emulated cluster with the real operator: the collector
    lists the namespace's Workloads, reads the held one's Job and CronJob, and the diagnosis
    asks for capacity for the CronJob."""
    case = {
        "id": "queued-run",
        "alert": {
            "labels": {"alertname": "IndexStale", "namespace": _NS, "deployment": "search-api"},
            "startsAgo": "30m",
        },
        "cluster": [
            deployment_manifest("search-api", _NS, ("api", "registry.example/api:3")),
            _pod(),
            _cron_job(),
            _job(),
            _workload(),
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": f"job-{_JOB}-c2f1e.f59c4d575fd5fc41", "namespace": _NS},
                "involvedObject": {
                    "apiVersion": "kueue.x-k8s.io/v1beta1",
                    "kind": "Workload",
                    "name": f"job-{_JOB}-c2f1e",
                    "namespace": _NS,
                },
                "reason": "Pending",
                "message": "couldn't assign flavors to pod set main",
                "type": "Warning",
                "count": 61,
                "firstTimestamp": _at(180),
                "lastTimestamp": _at(1),
            },
        ],
    }
    (tmp_path / "case.yaml").write_text(yaml.safe_dump(case))
    outcome = asyncio.run(replay_case(load_case(tmp_path / "case.yaml"), Settings()))
    assert outcome.diagnosis is not None
    assert outcome.diagnosis.category == Category.UNSCHEDULABLE.value
    assert "CronJob search/embed-refresh" in outcome.diagnosis.summary + str(
        outcome.diagnosis.remediations
    )
