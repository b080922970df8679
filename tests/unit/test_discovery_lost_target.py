"""Checks that an alert saying its job's targets "disappeared from Prometheus target
discovery" (the kube-prometheus absence alerts, no namespace) is placed on the one Prometheus
server that discovers them, and that a revision which stops mounting the pods' API token is
named as such in the rollout's diff. Near misses: the same alert with a namespace, another
alert without one, two Prometheus servers, the Prometheus Operator (not a server). Real: the
pure placement rule, ``template_diff`` on synthetic pod templates, and the offline replay of a
small case through the snapshot evidence source and the pipeline; objects are synthetic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kubetriage.evidence.service_owner import discovering_server, unplaced_owner
from kubetriage.evidence.template_diff import template_diff
from kubetriage.models.incident import Alert
from tests.support.built import deployment_manifest
from tests.support.golden import replay_offline

_LOST = "Kubelet has disappeared from Prometheus target discovery."


def _alert(description: str = _LOST, **labels: str) -> Alert:
    return Alert(
        labels={"alertname": "KubeletDown", "job": "kubelet", **labels},
        annotations={"description": description},
    )


def _server(name: str = "metrics-server-main", namespace: str = "observability") -> Any:
    return deployment_manifest(
        name,
        namespace,
        ("server", "quay.io/prometheus/prometheus:v2.55.1"),
        labels={"app.kubernetes.io/name": "prometheus", "app.kubernetes.io/instance": name},
    )


_OPERATOR = deployment_manifest(
    "prometheus-operator",
    "observability",
    ("operator", "quay.io/prometheus-operator/prometheus-operator:v0.77.2"),
    labels={"app.kubernetes.io/name": "prometheus-operator"},
)
_APP = deployment_manifest("checkout", "shop", ("app", "registry.example/checkout:1"))


def test_the_one_prometheus_server_is_the_alerts_subject() -> None:
    found = discovering_server([_alert()], [_APP, _OPERATOR, _server()])
    assert found is not None
    assert (found.kind, found.namespace, found.name) == (
        "Deployment",
        "observability",
        "metrics-server-main",
    )
    assert unplaced_owner([_alert()], [_APP, _OPERATOR, _server()]) == found


def test_a_server_is_known_by_its_image_too() -> None:
    bare = deployment_manifest("scraper", "ops", ("main", "prom/prometheus:v3.1.0"))
    found = discovering_server([_alert()], [_APP, bare])
    assert found is not None
    assert found.name == "scraper"


def test_near_misses_place_nothing() -> None:
    servers = [_APP, _OPERATOR, _server()]
    assert discovering_server([_alert(namespace="kube-system")], servers) is None
    assert discovering_server([_alert("Kubelet is down.")], servers) is None
    assert discovering_server([_alert()], [*servers, _server("second", "team-b")]) is None
    assert discovering_server([_alert()], [_APP, _OPERATOR]) is None


def _template(automount: bool | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "server", "image": "prom/prometheus:v3"}]}
    if automount is not None:
        spec["automountServiceAccountToken"] = automount
    return {"metadata": {"labels": {"app": "server"}}, "spec": spec}


def test_a_revision_that_stops_mounting_the_token_says_so() -> None:
    diff = template_diff(_template(None), _template(False))
    line = "automountServiceAccountToken unset -> false"
    assert diff.aspects == {"serviceAccount": [line], "tokenUnmounted": [line]}
    assert diff.details == [line]
    assert list(template_diff(_template(True), _template(None)).aspects) == ["serviceAccount"]
    assert template_diff(_template(None), _template(None)).aspects == {}


def test_the_replayed_alert_is_diagnosed_on_the_server(tmp_path: Path) -> None:
    case = {
        "id": "discovery-lost",
        "alert": {
            "labels": {"alertname": "KubeletDown", "job": "kubelet", "severity": "critical"},
            "annotations": {"description": _LOST},
            "startsAgo": "5m",
        },
        "cluster": [_APP, _OPERATOR, _server()],
    }
    (tmp_path / "case.yaml").write_text(yaml.safe_dump(case))
    target = replay_offline(tmp_path).evidence.target
    assert target is not None
    assert (target.kind, target.namespace, target.name) == (
        "Deployment",
        "observability",
        "metrics-server-main",
    )
