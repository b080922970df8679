"""Checks that an Argo CD application alert whose labels lost the destination namespace is
placed by the Application object: its workloads Argo CD reports unhealthy, then its
destination namespace, come before Argo CD's own namespace (after the workloads a failed sync
rolled out, never its hook Jobs); a bare ``name`` label, a
destination already in the labels, or an Application deploying to another cluster change
nothing. The pure helpers run on synthetic alerts and objects; the target choice is replayed
offline through the snapshot evidence source and the pipeline (as goldens are), and once in an
emulated cluster with the real collector, which reads the Application by name (as eval does).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import yaml

from kubetriage.evidence.delivered_apps import (
    delivered_targets,
    named_applications,
    with_delivered,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from kubetriage.replay.cases import load_case
from kubetriage.replay.session import replay_case
from kubetriage.settings import Settings
from tests.support.built import deployment_manifest
from tests.support.golden import replay_offline

_ARGO_LABELS = {"alertname": "AppDegraded", "namespace": "argocd", "name": "billing"}


def _alert(**labels: str) -> Alert:
    return Alert(labels=labels)


def _application(
    destination: dict[str, str], resources: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "billing", "namespace": "argocd"},
        "spec": {"project": "finance", "destination": destination},
        "status": {"health": {"status": "Degraded"}, "resources": resources or []},
    }


_HERE = {"server": "https://kubernetes.default.svc", "namespace": "invoicing"}


def test_an_application_alert_names_its_application() -> None:
    found = named_applications([_alert(**_ARGO_LABELS, health_status="Degraded")])
    assert [(r.kind, r.namespace, r.name) for r in found] == [("Application", "argocd", "billing")]


def test_a_bare_name_label_or_a_named_destination_names_no_application() -> None:
    assert named_applications([_alert(**_ARGO_LABELS)]) == []
    labels = {**_ARGO_LABELS, "project": "finance", "dest_namespace": "invoicing"}
    assert named_applications([_alert(**labels)]) == []


def test_unhealthy_workloads_come_before_the_destination_namespace() -> None:
    resources = [
        {"group": "apps", "version": "v1", "kind": "Deployment", "name": "api",
         "health": {"status": "Healthy"}},
        {"group": "apps", "version": "v1", "kind": "Deployment", "name": "worker",
         "health": {"status": "Degraded"}},
        {"version": "v1", "kind": "ConfigMap", "name": "settings", "health": {"status": "Missing"}},
    ]  # fmt: skip
    found = delivered_targets(_application(_HERE, resources))
    assert [(r.kind, r.namespace, r.name) for r in found] == [
        ("Deployment", "invoicing", "worker"),
        ("Namespace", None, "invoicing"),
    ]


def _synced(phase: str, resources: list[dict[str, Any]]) -> dict[str, Any]:
    app = _application(_HERE, [{"group": "apps", "version": "v1", "kind": "Deployment",
                                "name": "worker", "health": {"status": "Degraded"}}])  # fmt: skip
    app["status"]["operationState"] = {"phase": phase, "syncResult": {"resources": resources}}
    return app


_APPLIED = [
    {"group": "apps", "version": "v1", "kind": "Deployment", "name": "api", "status": "Synced",
     "syncPhase": "Sync"},
    {"group": "apps", "version": "v1", "kind": "Deployment", "name": "worker", "status": "Synced",
     "syncPhase": "Sync"},
    {"group": "batch", "version": "v1", "kind": "Job", "name": "api-smoke", "status": "Synced",
     "hookType": "PostSync", "hookPhase": "Failed", "syncPhase": "PostSync"},
    {"version": "v1", "kind": "ConfigMap", "name": "settings", "status": "Synced",
     "syncPhase": "Sync"},
]  # fmt: skip


def test_a_failed_sync_points_at_the_workloads_it_rolled_out_not_its_hooks() -> None:
    found = delivered_targets(_synced("Failed", _APPLIED))
    assert [(r.kind, r.namespace, r.name) for r in found] == [
        ("Deployment", "invoicing", "worker"),
        ("Deployment", "invoicing", "api"),
        ("Namespace", None, "invoicing"),
    ]


def test_a_sync_that_succeeded_or_only_ran_hooks_adds_nothing() -> None:
    """Near misses: the same applied resources after a sync that succeeded (or still runs),
    and a failed sync whose only workload entry is its hook Job."""
    for phase in ("Succeeded", "Running"):
        names = [r.name for r in delivered_targets(_synced(phase, _APPLIED))]
        assert names == ["worker", "invoicing"]
    hooks_only = delivered_targets(_synced("Failed", _APPLIED[2:]))
    assert [r.name for r in hooks_only] == ["worker", "invoicing"]


def test_an_application_of_another_cluster_points_nowhere_here() -> None:
    remote = {"server": "https://eu-west.example.com:6443", "namespace": "invoicing"}
    assert delivered_targets(_application(remote)) == []
    named = delivered_targets(_application({"name": "in-cluster", "namespace": "invoicing"}))
    assert [r.name for r in named] == ["invoicing"]


def test_delivered_targets_go_before_the_tools_namespace() -> None:
    own = ObjectRef(kind="Namespace", name="argocd", api_version="v1")
    pod = ObjectRef(kind="Pod", namespace="argocd", name="x")
    there = ObjectRef(kind="Namespace", name="invoicing", api_version="v1")
    assert with_delivered([pod, own], [there]) == [pod, there, own]
    assert with_delivered([own], []) == [own]


def _pod(namespace: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"{name}-5d8c9-x2x9k", "namespace": namespace},
        "spec": {"containers": [{"name": "app", "image": f"registry.example/{name}:1"}]},
        "status": {"phase": "Running"},
    }


def _case(tmp_path: Path, destination: dict[str, str]) -> Path:
    case = {
        "id": "delivered",
        "alert": {
            "labels": {**_ARGO_LABELS, "project": "finance", "health_status": "Degraded"},
            "startsAgo": "5m",
        },
        "cluster": [
            _application(destination),
            deployment_manifest("argocd-server", "argocd", ("server", "quay.io/argoproj/argocd")),
            deployment_manifest("invoice-api", "invoicing", ("api", "registry.example/api:2")),
            _pod("argocd", "argocd-server"),
            _pod("invoicing", "invoice-api"),
        ],
    }
    (tmp_path / "case.yaml").write_text(yaml.safe_dump(case))
    return tmp_path


def test_the_destination_namespace_is_the_target(tmp_path: Path) -> None:
    target = replay_offline(_case(tmp_path, _HERE)).evidence.target
    assert target is not None
    assert (target.kind, target.name) == ("Namespace", "invoicing")


def test_a_remote_destination_leaves_the_alerts_namespace(tmp_path: Path) -> None:
    remote = {"server": "https://eu-west.example.com:6443", "namespace": "invoicing"}
    target = replay_offline(_case(tmp_path, remote)).evidence.target
    assert target is not None
    assert (target.kind, target.name) == ("Namespace", "argocd")


def test_the_collector_reads_the_application_for_it(tmp_path: Path) -> None:
    """The same case replayed in an emulated cluster with the real operator: the collector
    gets the Application by name and diagnoses its destination namespace."""
    case = load_case(_case(tmp_path, _HERE) / "case.yaml")
    outcome = asyncio.run(replay_case(case, Settings()))
    assert outcome.diagnosis is not None
    assert "invoicing" in outcome.diagnosis.summary
    assert "argocd" not in outcome.diagnosis.summary
