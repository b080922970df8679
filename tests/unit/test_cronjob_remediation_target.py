"""Checks that a fault in a Job a CronJob stamps out is remediated on the CronJob: the
evidence records the Job's CronJob (``WorkloadEvidence.controller``), and a remediation on
the workload (increase-memory for OOMKilled runs) aims at the CronJob's template, since
editing the finished Job changes nothing the next run uses.

Real: ``build_evidence`` on API-shaped dicts and the analyzer registry on the Evidence.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kubetriage.evidence.build import build_evidence
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.models.base import ObjectRef
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import analyze, assert_leads

JOB = "ledger-export-29394930"
POD = f"{JOB}-t8wzc"


def _objects(*, owned_by_cronjob: bool) -> list[dict[str, Any]]:
    container = {
        "name": "export",
        "image": "registry.example/finance/ledger-export:2026.11.3",
        "resources": {"limits": {"memory": "1536Mi"}, "requests": {"memory": "1536Mi"}},
    }
    job_meta: dict[str, Any] = {"name": JOB, "namespace": "finance", "uid": "job-uid"}
    if owned_by_cronjob:
        job_meta["ownerReferences"] = [
            {"apiVersion": "batch/v1", "kind": "CronJob", "name": "ledger-export",
             "uid": "cj-uid", "controller": True}
        ]  # fmt: skip
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": job_meta,
        "spec": {"backoffLimit": 2, "template": {"spec": {"containers": [container]}}},
        "status": {"failed": 3},
    }
    terminated = {"reason": "OOMKilled", "exitCode": 137}
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": POD,
            "namespace": "finance",
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "name": JOB,
                    "uid": "job-uid",
                    "controller": True,
                }
            ],
        },
        "spec": {"containers": [container], "restartPolicy": "Never", "nodeName": "node-1"},
        "status": {
            "phase": "Failed",
            "containerStatuses": [
                {
                    "name": "export",
                    "image": container["image"],
                    "restartCount": 0,
                    "ready": False,
                    "state": {"terminated": terminated},
                }
            ],
        },
    }
    return [job, pod]


def _evidence(*, owned_by_cronjob: bool) -> Any:
    return build_evidence(
        _objects(owned_by_cronjob=owned_by_cronjob),
        [],
        target=ObjectRef(kind="Job", namespace="finance", name=JOB),
        alerts=[],
        title="KubeJobFailed",
        description=None,
        now=datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
        limits=EvidenceLimits(),
    )


def test_a_cronjobs_oomkilled_run_raises_memory_on_the_cronjob() -> None:
    ev = _evidence(owned_by_cronjob=True)
    cronjob = ObjectRef(kind="CronJob", namespace="finance", name="ledger-export")
    assert ev.workload is not None
    assert ev.workload.controller == cronjob
    assert_leads(analyze(ev), Category.OOM_KILLED, Action.INCREASE_MEMORY, cronjob)


def test_a_job_of_its_own_is_remediated_on_the_job() -> None:
    # Near miss: the same Job created by hand (no CronJob owns it).
    ev = _evidence(owned_by_cronjob=False)
    assert ev.workload is not None
    assert ev.workload.controller is None
    first = analyze(ev).findings[0]
    assert (first.category, first.action) == (Category.OOM_KILLED, Action.INCREASE_MEMORY)
    assert first.target.same_object(ObjectRef(kind="Job", namespace="finance", name=JOB))
