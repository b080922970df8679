"""Checks how an alert that a series is missing (``absent(...)`` in its rule, or a rule named
``...Absent``) is placed: its labels are the missing series' matchers, so a consumer group or
topic among them names what the series measures, not who stopped exporting it. Such an alert
is placed in the series' namespace (where its exporter runs), never on the consumers the
queue labels would otherwise point at; an ordinary queue alert still is.

Real: ``kubetriage.evidence.targets`` and ``kubetriage.evidence.queue_consumers`` on Alert
models, and the pure evidence builder over synthetic Deployments and Pods
(``tests.support.built``), whose namespace-wide view then finds the exporter that fails.
"""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.queue_consumers import alert_queues, consumer_elsewhere
from kubetriage.evidence.targets import about_absent_series, candidate_targets, placing_labels
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from kubetriage.models.vocabulary import Category
from tests.support.built import built, deployment_manifest
from tests.support.evidence import NOW, analyze

LAG = {"consumergroup": "orders-processor", "namespace": "kafka", "severity": "warning"}


def _alert(name: str, description: str = "", **labels: str) -> Alert:
    return Alert(
        status="firing",
        labels={"alertname": name, **LAG, **labels},
        annotations={"description": description} if description else {},
        starts_at=NOW,
    )


ABSENT = _alert(
    "LagMetricMissing",
    'absent(kafka_consumergroup_lag{namespace="kafka",consumergroup="orders-processor"})',
)
LAG_HIGH = _alert("KafkaConsumerGroupLagHigh", "lag above 10000 for 15m")


def test_an_absent_rule_is_told_by_its_expression_or_its_name() -> None:
    assert about_absent_series(ABSENT)
    assert about_absent_series(_alert("KafkaConsumerGroupLagAbsent"))
    assert about_absent_series(_alert("X", "absent_over_time(up{job='a'}[10m])"))
    assert not about_absent_series(LAG_HIGH)
    assert not about_absent_series(_alert("AbsenteeismReportLate"))


def test_a_missing_series_drops_only_its_queue_matchers() -> None:
    assert placing_labels(ABSENT) == {
        "alertname": "LagMetricMissing",
        "namespace": "kafka",
        "severity": "warning",
    }
    assert placing_labels(LAG_HIGH) == LAG_HIGH.labels


def test_a_missing_series_is_placed_in_its_namespace_not_on_the_consumers() -> None:
    assert candidate_targets(None, [ABSENT])[0] == ObjectRef(
        kind="Namespace", name="kafka", api_version="v1"
    )
    assert alert_queues([ABSENT]) == []
    first = candidate_targets(None, [LAG_HIGH])[0]
    assert (first.kind, first.name) == ("Deployment", "orders-processor")


def _oom_killed_pod(name: str, namespace: str, app: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app": app},
            "ownerReferences": [
                {"kind": "ReplicaSet", "name": name.rsplit("-", 1)[0], "controller": True}
            ],
        },
        "spec": {
            "containers": [
                {"name": app, "image": "exporter:1", "resources": {"limits": {"memory": "128Mi"}}}
            ]
        },
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": app,
                    "image": "exporter:1",
                    "ready": False,
                    "restartCount": 9,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}},
                }
            ],
        },
    }


def _cluster() -> list[dict[str, Any]]:
    consumer = deployment_manifest(
        "orders-processor",
        "orders",
        {
            "name": "app",
            "image": "orders:3",
            "env": [{"name": "GROUP_ID", "value": "orders-processor"}],
        },
    )
    exporter = deployment_manifest("kafka-exporter", "kafka", ("kafka-exporter", "exporter:1"))
    return [
        consumer,
        exporter,
        _oom_killed_pod("kafka-exporter-6b8d9c7f5d-x7k2q", "kafka", "kafka-exporter"),
    ]


def test_the_builder_looks_at_the_series_namespace_and_finds_the_failing_exporter() -> None:
    ev = built(_cluster(), None, alerts=[ABSENT])
    assert ev.target == ObjectRef(kind="Namespace", name="kafka", api_version="v1")
    first = analyze(ev).findings[0]
    assert first.category is Category.OOM_KILLED
    assert (first.target.kind, first.target.namespace, first.target.name) == (
        "Deployment",
        "kafka",
        "kafka-exporter",
    )


def test_an_ordinary_lag_alert_still_goes_to_the_consumers() -> None:
    assert consumer_elsewhere(
        [LAG_HIGH],
        ObjectRef(kind="Namespace", name="kafka", api_version="v1"),
        [],
        _cluster()[:1],
    ) == ObjectRef(
        kind="Deployment", namespace="orders", name="orders-processor", api_version="apps/v1"
    )
