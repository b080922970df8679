"""Checks the ConfigMaps a pod reads through the API as its settings: a Spring Boot
application using Spring Cloud Kubernetes config reads the ConfigMap its config names, else
the one named after ``spring.application.name`` (from env vars or ``--key=value`` args), in
its own namespace; an edit of it is dated in the change timeline like a mounted ConfigMap's,
and one made just before the alert (no rollout, no rise in traffic) is the change the
symptoms followed: fix that ConfigMap. Near misses: an application that does not use Spring
Cloud Kubernetes config (or turns it off, or reads another namespace) reads nothing; a
ConfigMap no pod mounts, names or reads is not dated; an edit made after the alert fired is
not its cause.

Real: ``settings_config_maps``, ``build_evidence`` over raw manifests and ``run_analyzers``;
names and times are synthetic.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kubetriage.evidence.settings_readers import settings_config_maps, spring_config_maps
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from kubetriage.models.vocabulary import Action, Category
from tests.support.built import built, deployment_manifest
from tests.support.evidence import NOW, analyze

NS = "orders"
HISTORY = ObjectRef(kind="Deployment", namespace=NS, name="order-history")
SETTINGS = ObjectRef(kind="ConfigMap", namespace=NS, name="order-history")
SPRING = {
    "SPRING_APPLICATION_NAME": "order-history",
    "SPRING_CONFIG_IMPORT": "kubernetes:",
    "SPRING_CLOUD_KUBERNETES_RELOAD_ENABLED": "true",
}


def _container(env: dict[str, str], args: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "app",
        "image": "order-history:6.4.0",
        "env": [{"name": k, "value": v} for k, v in env.items()],
    }
    if args:
        body["args"] = args
    return body


def test_spring_cloud_kubernetes_reads_the_config_map_named_after_the_application() -> None:
    assert spring_config_maps(_container(SPRING), NS) == {"order-history"}
    # Any spring.cloud.kubernetes setting says the library is in use.
    reload_only = {k: v for k, v in SPRING.items() if k != "SPRING_CONFIG_IMPORT"}
    assert spring_config_maps(_container(reload_only), NS) == {"order-history"}
    # Its config may name the ConfigMap(s) instead.
    named = {**SPRING, "SPRING_CLOUD_KUBERNETES_CONFIG_NAME": "history-settings"}
    assert spring_config_maps(_container(named), NS) == {"history-settings"}
    sources = {**SPRING, "SPRING_CLOUD_KUBERNETES_CONFIG_SOURCES_0_NAME": "shared"}
    assert spring_config_maps(_container(sources), NS) == {"shared"}
    # Arguments set the same properties.
    args = ["--spring.config.import=kubernetes:", "--spring.application.name=billing"]
    assert spring_config_maps(_container({}, args), NS) == {"billing"}


def test_an_application_that_does_not_read_its_namespace_through_spring_reads_nothing() -> None:
    plain = {"SPRING_APPLICATION_NAME": "order-history", "SPRING_PROFILES_ACTIVE": "prod"}
    assert spring_config_maps(_container(plain), NS) == set()
    off = {**SPRING, "SPRING_CLOUD_KUBERNETES_CONFIG_ENABLED": "false"}
    assert spring_config_maps(_container(off), NS) == set()
    elsewhere = {**SPRING, "SPRING_CLOUD_KUBERNETES_CONFIG_NAMESPACE": "shared-config"}
    assert spring_config_maps(_container(elsewhere), NS) == set()
    assert settings_config_maps({"containers": [_container(SPRING)]}, NS) == {"order-history"}


def _config_map(name: str, written_ago: float) -> dict[str, Any]:
    at = (NOW - timedelta(minutes=written_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": NS,
            "creationTimestamp": "2024-12-20T10:00:00Z",
            "managedFields": [
                {
                    "manager": "argocd-controller",
                    "operation": "Apply",
                    "time": "2026-10-11T10:00:00Z",
                },
                {"manager": "kubectl-edit", "operation": "Update", "time": at},
            ],
        },
        "data": {"application.yaml": ""},
    }


def _objects(env: dict[str, str], *config_maps: dict[str, Any]) -> list[dict[str, Any]]:
    labels = {"app.kubernetes.io/name": "order-history"}
    deployment = deployment_manifest(
        "order-history",
        NS,
        _container(env),
        labels=labels,
        metadata={"uid": "oh-uid"},
        status={"replicas": 1, "readyReplicas": 1},
        replicas=1,
    )
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "order-history-t6qw2dfk65-g6v2q",
            "namespace": NS,
            "labels": labels,
            "creationTimestamp": "2026-11-15T10:00:00Z",
            "ownerReferences": [
                {"kind": "Deployment", "name": "order-history", "uid": "oh-uid", "controller": True}
            ],
        },
        "spec": {"containers": [_container(env)]},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [
                {
                    "name": "app",
                    "ready": True,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": "2026-11-15T10:00:05Z"}},
                }
            ],
        },
    }
    return [deployment, pod, *config_maps]


def _alert() -> Alert:
    return Alert(
        status="firing",
        labels={"alertname": "OrderHistoryLatencyHigh", "namespace": NS},
        starts_at=NOW - timedelta(minutes=25),
    )


def test_an_edit_of_the_spring_config_map_just_before_the_alert_is_the_cause() -> None:
    ev = built(_objects(SPRING, _config_map("order-history", 27)), HISTORY, alerts=[_alert()])
    [change] = ev.changes
    assert (change.kind, change.object.key(), change.aspects) == (
        "config",
        SETTINGS.key(),
        ["data"],
    )
    first = analyze(ev).findings[0]
    assert (first.category, first.action, first.target.key()) == (
        Category.CONFIG_MISSING,
        Action.FIX_CONFIG,
        SETTINGS.key(),
    )


def test_a_config_map_no_pod_mounts_names_or_reads_is_not_dated() -> None:
    plain = {"SPRING_APPLICATION_NAME": "order-history"}
    ev = built(_objects(plain, _config_map("order-history", 27)), HISTORY, alerts=[_alert()])
    assert ev.changes == []
    assert all(f.action != Action.FIX_CONFIG for f in analyze(ev).findings)


def test_an_edit_after_the_alert_fired_is_not_its_cause() -> None:
    ev = built(_objects(SPRING, _config_map("order-history", 5)), HISTORY, alerts=[_alert()])
    assert [c.object.key() for c in ev.changes] == [SETTINGS.key()]
    assert all(f.action != Action.FIX_CONFIG for f in analyze(ev).findings)
