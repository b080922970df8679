"""Checks that a Job whose pods its deadline or backoff limit deleted is read through those
pods' events: the job controller names them ("Created pod: x", "Deleted pod: x"), their
events outlive them, and the kubelet's words there (a Secret without the key the container
reads) say why the run never ran.

Real: ``departed_pods`` and ``build_evidence`` on API-shaped dicts, and the analyzer registry
on the Evidence.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kubetriage.evidence.build import build_evidence
from kubetriage.evidence.index import MAX_DEPARTED_PODS, departed_pods
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.models.base import ObjectRef
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import analyze, assert_leads

NS = "reports"
JOB = "nightly-export"
GONE = f"{JOB}-x7k2p"
MISSING_KEY = f"Error: couldn't find key token in Secret {NS}/export-credentials"


def _job(name: str = JOB, kind: str = "Job") -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1" if kind == "Job" else "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}"},
        "spec": {
            "activeDeadlineSeconds": 600,
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": f"uid-{name}"}},
            "template": {"spec": {"containers": [{"name": "export", "image": "r.example/x:1"}]}},
        },
        "status": {
            "failed": 1,
            "conditions": [
                {
                    "type": "Failed",
                    "status": "True",
                    "reason": "DeadlineExceeded",
                    "message": "Job was active longer than specified deadline",
                }
            ],
        },
    }


def _event(kind: str, name: str, reason: str, message: str, when: str, **extra: Any) -> Any:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{name}.{reason}.{when}", "namespace": NS},
        "involvedObject": {"kind": kind, "name": name, "namespace": NS},
        "reason": reason,
        "message": message,
        "type": extra.get("type", "Normal"),
        "count": 1,
        "firstTimestamp": when,
        "lastTimestamp": when,
    }


def _job_events(job: str = JOB, pod: str = GONE) -> list[Any]:
    return [
        _event("Job", job, "SuccessfulCreate", f"Created pod: {pod}", "2026-11-20T09:45:01Z"),
        _event("Job", job, "DeadlineExceeded", "Job was active", "2026-11-20T09:55:01Z"),
        _event("Job", job, "SuccessfulDelete", f"Deleted pod: {pod}", "2026-11-20T09:55:01Z"),
    ]


def _secret() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "export-credentials", "namespace": NS},
        "data": {"api-token": "cmVkYWN0ZWQ="},
    }


def _evidence(objects: list[Any]) -> Any:
    return build_evidence(
        objects,
        [],
        target=ObjectRef(kind="Job", namespace=NS, name=JOB),
        alerts=[],
        title="KubeJobFailed",
        description=None,
        now=datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
        limits=EvidenceLimits(),
    )


def test_departed_pods_are_those_the_job_controller_names_newest_first() -> None:
    events = [
        *(
            _event(
                "Job", JOB, "SuccessfulCreate", f"Created pod: {JOB}-p{i}", f"2026-11-20T0{i}:00Z"
            )
            for i in range(1, 6)
        ),
        _event(
            "Job",
            "other-job",
            "SuccessfulCreate",
            "Created pod: other-job-abc",
            "2026-11-20T09:59Z",
        ),
        _event("Pod", f"{JOB}-p5", "Failed", "Error: ImagePullBackOff", "2026-11-20T09:59Z"),
    ]
    gone = departed_pods(_job(), events, present=[f"{JOB}-p5"])
    assert gone == [f"{JOB}-p4", f"{JOB}-p3", f"{JOB}-p2"][:MAX_DEPARTED_PODS]


def test_no_departed_pods_for_another_workload() -> None:
    events = [
        _event("Deployment", JOB, "SuccessfulCreate", f"Created pod: {GONE}", "2026-11-20T09:00Z")
    ]
    assert departed_pods(_job(kind="Deployment"), events, present=[]) == []


def test_the_missing_key_named_in_a_deleted_pods_events_is_config_missing() -> None:
    """The alerted Job has no pod left; the kubelet's event on the pod it deleted names the
    key the Secret lacks: fix the Secret."""
    failed = _event("Pod", GONE, "Failed", MISSING_KEY, "2026-11-20T09:45:03Z", type="Warning")
    ev = _evidence([_job(), _secret(), *_job_events(), failed])
    assert ev.pods == []
    assert any(e.involved.name == GONE and e.reason == "Failed" for e in ev.events)
    secret = ObjectRef(kind="Secret", namespace=NS, name="export-credentials")
    finding = assert_leads(analyze(ev), Category.CONFIG_MISSING, Action.FIX_CONFIG, secret)
    assert finding.params["key"] == "token"


def test_events_of_a_pod_the_job_never_named_stay_out() -> None:
    # Near miss: a pod of something else in the namespace failed the same way; the alerted
    # Job's controller never named it, so its events are not this Job's story.
    stranger = _event(
        "Pod", "ad-hoc-debug", "Failed", MISSING_KEY, "2026-11-20T09:45:03Z", type="Warning"
    )
    ev = _evidence([_job(), _secret(), *_job_events(), stranger])
    assert all(e.involved.name != "ad-hoc-debug" for e in ev.events)
