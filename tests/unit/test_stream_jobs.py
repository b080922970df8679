"""Checks that an alert naming a stream job by the engine's ``job_name`` (Flink's reporter) is
placed on the Deployment running the job's tasks: the TaskManagers of the one Flink cluster in
its namespace (its JobManager when it has no TaskManager Deployment), after the Kubernetes Job
of that name (which wins when it exists) and before the bare namespace. Near misses: no Flink
cluster, two of them, Deployments that only look like one (a ``component`` label without a
FlinkDeployment owner), an alert without ``job_name``. Pure helpers on synthetic objects, and
the target choice replayed offline through the snapshot evidence source (as goldens are).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kubetriage.evidence.stream_jobs import (
    names_stream_job,
    stream_namespace,
    task_workload,
    with_task_workload,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from tests.support.built import deployment_manifest
from tests.support.golden import replay_offline

_IMAGE = ("flink-main-container", "registry.example/flink/sessionizer:3")


def _flink(cluster: str, role: str, *, owner: str | None = "FlinkDeployment") -> dict[str, Any]:
    name = cluster if role == "jobmanager" else f"{cluster}-{role}"
    refs = [{"apiVersion": "flink.apache.org/v1beta1", "kind": owner, "name": cluster,
             "controller": True}] if owner else []  # fmt: skip
    return deployment_manifest(
        name,
        "streaming",
        _IMAGE,
        labels={"app": cluster, "component": role, "type": "flink-native-kubernetes"},
        metadata={"ownerReferences": refs},
    )


def test_the_task_managers_of_the_one_flink_cluster_run_the_job() -> None:
    found = task_workload(
        [_flink("sessionizer", "jobmanager"), _flink("sessionizer", "taskmanager")]
    )
    assert found is not None
    assert (found.kind, found.name) == ("Deployment", "sessionizer-taskmanager")
    native = task_workload([_flink("sessionizer", "jobmanager")])
    assert native is not None
    assert native.name == "sessionizer"


def test_no_cluster_two_clusters_or_look_alikes_name_no_workload() -> None:
    assert task_workload([deployment_manifest("api", "streaming", ("api", "x"))]) is None
    two = [_flink("sessionizer", "taskmanager"), _flink("enricher", "taskmanager")]
    assert task_workload(two) is None
    assert task_workload([_flink("sessionizer", "taskmanager", owner=None)]) is None
    assert task_workload([_flink("sessionizer", "taskmanager", owner="Deployment")]) is None


def test_the_workload_goes_after_the_named_job_and_before_the_namespace() -> None:
    job = ObjectRef(kind="Job", namespace="streaming", name="clickstream-sessionizer")
    space = ObjectRef(kind="Namespace", name="streaming", api_version="v1")
    workers = ObjectRef(kind="Deployment", namespace="streaming", name="sessionizer-taskmanager")
    assert with_task_workload([job, space], workers) == [job, workers, space]
    assert with_task_workload([job, space], None) == [job, space]
    assert with_task_workload([job], workers) == [job]
    flink = [Alert(labels={"namespace": "streaming", "job_name": "clickstream-sessionizer"})]
    assert names_stream_job(flink)
    assert stream_namespace([job, space], flink) == "streaming"
    assert stream_namespace([job, space], [Alert(labels={"namespace": "streaming"})]) is None


def _case(tmp_path: Path, *, with_job: bool) -> Path:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "clickstream-sessionizer", "namespace": "streaming"},
        "spec": {"template": {"spec": {"containers": [{"name": "main", "image": "x"}]}}},
        "status": {"failed": 1},
    }
    case = {
        "id": "stream",
        "alert": {
            "labels": {
                "alertname": "FlinkCheckpointFailures",
                "namespace": "streaming",
                "job_name": "clickstream-sessionizer",
            },
            "startsAgo": "5m",
        },
        "cluster": [
            _flink("sessionizer", "jobmanager"),
            _flink("sessionizer", "taskmanager"),
            *([job] if with_job else []),
        ],
    }
    (tmp_path / "case.yaml").write_text(yaml.safe_dump(case))
    return tmp_path


def test_the_task_managers_are_the_target(tmp_path: Path) -> None:
    target = replay_offline(_case(tmp_path, with_job=False)).evidence.target
    assert target is not None
    assert (target.kind, target.name) == ("Deployment", "sessionizer-taskmanager")


def test_a_kubernetes_job_of_that_name_stays_the_target(tmp_path: Path) -> None:
    target = replay_offline(_case(tmp_path, with_job=True)).evidence.target
    assert target is not None
    assert (target.kind, target.name) == ("Job", "clickstream-sessionizer")
