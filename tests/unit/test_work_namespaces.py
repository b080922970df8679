"""Checks that a batch controller's namespace-wide alert is placed where the work it holds or
launches runs: the namespaces of the Kueue LocalQueues submitting to the ClusterQueue it names,
and the namespace a scheduler's documented setting launches its task pods in, come before the
controller's own namespace, but only when a pod fails there and none in the controller's own.
Near misses: the work's pods all run, a pod of the alert's own namespace fails, the setting
names the scheduler's own namespace or comes from the downward API, another ClusterQueue, an
alert naming an object of its own. The pure helpers run on synthetic objects; the target
choice is replayed offline through the snapshot evidence source (as goldens are) and once in
an emulated cluster with the real collector, which lists the LocalQueues (as eval does).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import yaml

from kubetriage.evidence.work_namespaces import (
    checked_namespaces,
    cluster_queues,
    failing_elsewhere,
    launch_namespaces,
    namespace_ref,
    own_namespace,
    queue_namespaces,
    with_work_namespaces,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from kubetriage.replay.cases import load_case
from kubetriage.replay.session import replay_case
from kubetriage.settings import Settings
from tests.support.built import deployment_manifest
from tests.support.golden import replay_offline

_QUEUE_ALERT = {
    "alertname": "QueuePendingHigh",
    "namespace": "kueue-system",
    "cluster_queue": "etl",
}
_EXECUTOR_NAMESPACE = "AIRFLOW__KUBERNETES_EXECUTOR__NAMESPACE"


def _local_queue(namespace: str, cluster_queue: str) -> dict[str, Any]:
    return {
        "apiVersion": "kueue.x-k8s.io/v1beta1",
        "kind": "LocalQueue",
        "metadata": {"name": "default", "namespace": namespace},
        "spec": {"clusterQueue": cluster_queue},
    }


def _pod(namespace: str, name: str, *, waiting: str | None = None) -> dict[str, Any]:
    state = {"waiting": {"reason": waiting}} if waiting else {"running": {}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{name}-x2x9k",
            "namespace": namespace,
            "ownerReferences": [
                {"apiVersion": "batch/v1", "kind": "Job", "name": name, "controller": True}
            ],
        },
        "spec": {"containers": [{"name": "main", "image": f"registry.example/{name}:1"}]},
        "status": {
            "phase": "Pending" if waiting else "Running",
            "containerStatuses": [{"name": "main", "ready": not waiting, "state": state}],
        },
    }


def _scheduler(namespace: str, env: list[dict[str, Any]]) -> dict[str, Any]:
    container = {"name": "scheduler", "image": "registry.example/airflow:2.9", "env": env}
    return deployment_manifest("airflow-scheduler", namespace, container)


def test_a_queue_alert_names_its_cluster_queue_and_its_local_queues_namespaces() -> None:
    alerts = [Alert(labels=_QUEUE_ALERT), Alert(labels={"namespace": "x", "cluster_queue": "etl"})]
    assert cluster_queues(alerts) == ["etl"]
    assert cluster_queues([Alert(labels={"namespace": "kueue-system"})]) == []
    queues = [_local_queue("geo", "etl"), _local_queue("maps", "etl"), _local_queue("ml", "gpu")]
    assert queue_namespaces(queues, ["etl"]) == ["geo", "maps"]
    assert queue_namespaces(queues, ["batch"]) == []


def test_a_launcher_names_another_namespace_by_a_literal_setting_only() -> None:
    elsewhere = _scheduler("airflow", [{"name": _EXECUTOR_NAMESPACE, "value": "airflow-tasks"}])
    assert launch_namespaces([elsewhere], "airflow") == ["airflow-tasks"]
    own = _scheduler("airflow", [{"name": _EXECUTOR_NAMESPACE, "value": "airflow"}])
    downward = _scheduler(
        "airflow",
        [
            {
                "name": _EXECUTOR_NAMESPACE,
                "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
            }
        ],
    )
    other = _scheduler("airflow", [{"name": "TASKS_NAMESPACE", "value": "airflow-tasks"}])
    assert launch_namespaces([own, downward, other], "airflow") == []


def test_only_namespaces_failing_while_the_controllers_own_run_are_the_work() -> None:
    own = [_pod("kueue-system", "kueue-controller-manager")]
    elsewhere = {
        "geo": [_pod("geo", "tile-build", waiting="CreateContainerConfigError")],
        "maps": [_pod("maps", "render")],
        "ml": [_pod("ml", "train", waiting="ContainerCreating")],  # being set up: not failing
    }
    assert failing_elsewhere(own, elsewhere) == ["geo"]
    broken_here = [_pod("kueue-system", "kueue-controller-manager", waiting="CrashLoopBackOff")]
    assert failing_elsewhere(broken_here, elsewhere) == []


def test_work_namespaces_go_before_the_controllers_own() -> None:
    own = namespace_ref("kueue-system")
    pod = ObjectRef(kind="Pod", namespace="kueue-system", name="x")
    assert own_namespace([own]) == "kueue-system"
    assert own_namespace([pod, own]) is None  # the alert names an object of its own
    assert with_work_namespaces([own], ["geo"]) == [namespace_ref("geo"), own]
    assert with_work_namespaces([own], ["kueue-system"]) == [own]
    assert with_work_namespaces([own], []) == [own]
    names = ["a", "own", "a", "b", "c", "d", "refused"]
    assert checked_namespaces(names, "own", lambda n: n != "refused") == ["a", "b", "c"]


def _queue_case(tmp_path: Path, *, failing: bool) -> Path:
    waiting = "CreateContainerConfigError" if failing else None
    case = {
        "id": "queued",
        "alert": {"labels": _QUEUE_ALERT, "startsAgo": "5m"},
        "cluster": [
            deployment_manifest(
                "kueue-controller-manager", "kueue-system", ("manager", "registry.k8s.io/kueue")
            ),
            _pod("kueue-system", "kueue-controller-manager"),
            _local_queue("geo", "etl"),
            _pod("geo", "tile-build", waiting=waiting),
            _pod("geo", "tile-merge", waiting=waiting),
        ],
    }
    (tmp_path / "case.yaml").write_text(yaml.safe_dump(case))
    return tmp_path


def _target(case_dir: Path) -> tuple[str, str] | None:
    target = replay_offline(case_dir).evidence.target
    return None if target is None else (target.kind, target.name)


def test_the_failing_queue_namespace_is_the_target(tmp_path: Path) -> None:
    assert _target(_queue_case(tmp_path, failing=True)) == ("Namespace", "geo")


def test_a_queue_namespace_whose_pods_run_leaves_the_alerts_own(tmp_path: Path) -> None:
    target = _target(_queue_case(tmp_path, failing=False))
    assert target is not None
    assert target[1].startswith("kueue")


def _launcher_case(tmp_path: Path, launched: str) -> Path:
    env = [{"name": _EXECUTOR_NAMESPACE, "value": launched}]
    case = {
        "id": "launched",
        "alert": {
            "labels": {"alertname": "DagRunFailed", "namespace": "airflow", "dag_id": "load"},
            "startsAgo": "5m",
        },
        "cluster": [
            _scheduler("airflow", env),
            _pod("airflow", "airflow-scheduler"),
            _pod("airflow-tasks", "load-copy", waiting="CreateContainerConfigError"),
            _pod("airflow-tasks", "load-merge", waiting="CreateContainerConfigError"),
        ],
    }
    (tmp_path / "case.yaml").write_text(yaml.safe_dump(case))
    return tmp_path


def test_the_namespace_a_scheduler_launches_failing_tasks_in_is_the_target(
    tmp_path: Path,
) -> None:
    assert _target(_launcher_case(tmp_path, "airflow-tasks")) == ("Namespace", "airflow-tasks")


def test_a_scheduler_launching_elsewhere_leaves_the_alerts_own(tmp_path: Path) -> None:
    target = _target(_launcher_case(tmp_path, "airflow-jobs"))
    assert target is not None
    assert "airflow-tasks" not in target[1]


def test_the_collector_lists_the_local_queues_for_it(tmp_path: Path) -> None:
    """The queue case replayed in an emulated cluster with the real operator: the collector
    lists the LocalQueues and diagnoses the namespace whose admitted Jobs fail."""
    case = load_case(_queue_case(tmp_path, failing=True) / "case.yaml")
    outcome = asyncio.run(replay_case(case, Settings()))
    assert outcome.diagnosis is not None
    assert "geo" in outcome.diagnosis.summary
    assert "kueue-system" not in outcome.diagnosis.summary
