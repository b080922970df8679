"""Checks that a failed Job is read through the volume claims its own log names: a task that
creates a claim (a restore, a migration, a clone) and waits for it until its deadline shows
only a SIGTERM exit, and what says why is the claim's phase and its provisioning events.

Real: ``claims_named_by_run``, ``event_subjects`` over a real ``CollectionRun``, the pure
builder (``tests.support.built``) and the analyzer registry on the Evidence.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.event_subjects import event_subjects
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.logs import tail_from_text
from kubetriage.evidence.run_claims import claim_mentions, claims_named_by_run
from kubetriage.models.base import ObjectRef
from kubetriage.models.object_evidence import LogTail
from kubetriage.models.vocabulary import Action, Category
from tests.support.built import built
from tests.support.evidence import analyze, assert_leads

NS = "billing"
JOB = "clone-check-1700"
POD = f"{JOB}-q8r2z"
CLAIM = "scratch-copy-0"
SOURCE = "orders-db-data"
LOG = (
    f"2026-11-20T09:15:04Z task: source pvc {NS}/{SOURCE}\n"
    f"2026-11-20T09:15:07Z task: created pvc {NS}/{CLAIM} from snapshot nightly\n"
    "2026-11-20T09:25:08Z task: still waiting for the copy to bind\n"
    "2026-11-20T09:55:01Z task: received SIGTERM, exiting\n"
)
REFUSED = "failed to provision volume with StorageClass fast: requested volume size is too small"


def _workload(kind: str = "Job", name: str = JOB) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1" if kind == "Job" else "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}"},
        "spec": {
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": f"uid-{name}"}},
            "template": {"spec": {"containers": [{"name": "task", "image": "r.example/t:1"}]}},
        },
        "status": {
            "failed": 1,
            "conditions": [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}],
        },
    }


def _pod(owner: dict[str, Any], name: str = POD) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": NS,
            "labels": {"batch.kubernetes.io/controller-uid": f"uid-{owner['metadata']['name']}"},
            "ownerReferences": [
                {
                    "apiVersion": owner["apiVersion"],
                    "kind": owner["kind"],
                    "name": owner["metadata"]["name"],
                    "uid": owner["metadata"]["uid"],
                    "controller": True,
                }
            ],
        },
        "spec": {"containers": [{"name": "task", "image": "r.example/t:1"}], "nodeName": "n1"},
        "status": {
            "phase": "Failed",
            "containerStatuses": [
                {
                    "name": "task",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"terminated": {"exitCode": 143, "reason": "Error"}},
                }
            ],
        },
    }


def _claim(name: str, phase: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "100Gi"}}},
        "status": {"phase": phase},
    }


def _refused() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{CLAIM}.refused", "namespace": NS},
        "involvedObject": {"kind": "PersistentVolumeClaim", "name": CLAIM, "namespace": NS},
        "reason": "ProvisioningFailed",
        "message": REFUSED,
        "type": "Warning",
        "count": 14,
        "firstTimestamp": "2026-11-20T09:15:08Z",
        "lastTimestamp": "2026-11-20T09:55:00Z",
    }


def _tail(pod: str = POD, text: str = LOG) -> LogTail:
    return tail_from_text(NS, pod, "task", text, limits=EvidenceLimits())


def _objects(owner: dict[str, Any]) -> list[dict[str, Any]]:
    return [owner, _pod(owner), _claim(CLAIM, "Pending"), _claim(SOURCE, "Bound"), _refused()]


def test_claim_mentions_read_the_usual_spellings() -> None:
    assert claim_mentions(f"created pvc {NS}/{CLAIM} (100Gi)") == [CLAIM]
    assert claim_mentions(f'PersistentVolumeClaim "{CLAIM}" is pending') == [CLAIM]
    assert claim_mentions("no volume named here") == []


def test_a_jobs_log_names_the_existing_claims_of_its_namespace() -> None:
    job = _workload()
    found = claims_named_by_run(job, [_pod(job)], [_tail()], {CLAIM, SOURCE}, limit=10)
    assert found == [SOURCE, CLAIM]
    assert claims_named_by_run(job, [_pod(job)], [_tail()], {SOURCE}, limit=10) == [SOURCE]
    assert claims_named_by_run(job, [_pod(job)], [_tail()], {CLAIM, SOURCE}, limit=1) == [SOURCE]


def test_only_a_job_and_only_its_own_pods_logs_count() -> None:
    deployment = _workload("Deployment", "orders-api")
    assert claims_named_by_run(deployment, [_pod(deployment)], [_tail()], {CLAIM}, 10) == []
    job = _workload()
    stranger = _tail(pod="other-job-abcde")
    assert claims_named_by_run(job, [_pod(job)], [stranger], {CLAIM}, 10) == []
    assert claims_named_by_run(None, [], [_tail()], {CLAIM}, 10) == []


def test_the_collector_reads_the_events_of_the_claims_the_log_names() -> None:
    job = _workload()
    run = CollectionRun(asyncio.Semaphore(1))
    for obj in (_claim(CLAIM, "Pending"), _claim("unrelated-data", "Pending")):
        run.add(obj)
    run.logs.append(_tail())
    subjects = event_subjects(run, None, job, [_pod(job)], EvidenceLimits())
    assert ("PersistentVolumeClaim", NS, CLAIM) in subjects
    assert ("PersistentVolumeClaim", NS, "unrelated-data") not in subjects


def test_a_failed_job_leads_to_the_pending_claim_its_log_created() -> None:
    job = _workload()
    ev = built(_objects(job), ObjectRef(kind="Job", namespace=NS, name=JOB), logs=[_tail()])
    assert CLAIM in {p.name for p in ev.pvcs}
    assert any(e.reason == "ProvisioningFailed" for e in ev.events)
    claim = ObjectRef(kind="PersistentVolumeClaim", namespace=NS, name=CLAIM)
    assert_leads(analyze(ev), Category.STORAGE, Action.EXPAND_STORAGE, claim)


def test_a_job_whose_log_names_no_claim_is_not_about_one() -> None:
    job = _workload()
    quiet = _tail(text="2026-11-20T09:55:01Z task: received SIGTERM, exiting\n")
    ev = built(_objects(job), ObjectRef(kind="Job", namespace=NS, name=JOB), logs=[quiet])
    assert CLAIM not in {p.name for p in ev.pvcs}
    assert not any(e.reason == "ProvisioningFailed" for e in ev.events)
