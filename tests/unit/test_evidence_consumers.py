"""Checks that a consumer-group alert carrying the broker exporter's namespace is taken to the
one Deployment, in any namespace, that joins the group (its env or args set the group, or it is
named after it), placed before the exporter's bare namespace; and the near misses: no group
label, a resolved alert, two Deployments joining the group, one that only names the topic, and
a consumer in the alert's own namespace (the namespace-wide view holds it already).

Real: ``consumers.consuming_workload``, ``targets.candidate_targets`` and
``targets.with_probed`` on raw manifests from ``tests.support.built``.
"""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.consumers import consuming_workload
from kubetriage.evidence.targets import candidate_targets, consumer_names, with_probed
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from tests.support.built import deployment_manifest
from tests.support.evidence import NOW

LAG = {
    "alertname": "KafkaConsumerGroupLagHigh",
    "namespace": "kafka",
    "consumergroup": "shipment-events",
    "topic": "shipment.events.v2",
    "job": "kafka-exporter",
}


def _alert(labels: dict[str, str], status: str = "firing") -> Alert:
    return Alert(status=status, labels=labels, starts_at=NOW)


def _consumer(name: str, namespace: str, **env: str) -> dict[str, Any]:
    container = {
        "name": "app",
        "image": "registry.example/app:1",
        "env": [{"name": k, "value": v} for k, v in env.items()],
    }
    return deployment_manifest(name, namespace, container)


def test_the_deployment_setting_the_group_in_another_namespace_is_the_target() -> None:
    consumer = _consumer(
        "shipment-events-consumer", "fulfillment", SPRING_KAFKA_CONSUMER_GROUP_ID="shipment-events"
    )
    producer = _consumer("label-printer", "fulfillment", TOPIC="shipment.events.v2")
    found = consuming_workload([producer, consumer], [_alert(LAG)])
    assert found is not None
    assert found.same_object(
        ObjectRef(kind="Deployment", namespace="fulfillment", name="shipment-events-consumer")
    )
    candidates = with_probed(candidate_targets(None, [_alert(LAG)]), found)
    spots = [c for c in candidates if c.kind == "Namespace" or c.same_object(found)]
    assert spots[0] == found  # before the exporter's namespace
    # An arg and a workload named after the group join it too.
    by_arg = deployment_manifest(
        "events-worker",
        "fulfillment",
        {"name": "w", "image": "i", "args": ["--group=shipment-events", "--topic=x"]},
    )
    assert consuming_workload([by_arg], [_alert(LAG)]) is not None
    named = _consumer("shipment-events", "logistics")
    assert consuming_workload([named], [_alert(LAG)]) is not None


def test_no_group_two_joiners_or_only_the_topic_name_no_consumer() -> None:
    consumer = _consumer("a", "one", GROUP_ID="shipment-events")
    twin = _consumer("b", "two", GROUP_ID="shipment-events")
    no_group = {k: v for k, v in LAG.items() if k != "consumergroup"}
    assert consumer_names(no_group) == []
    assert consuming_workload([consumer], [_alert(no_group)]) is None
    assert consuming_workload([consumer], [_alert(LAG, status="resolved")]) is None
    assert consuming_workload([consumer, twin], [_alert(LAG)]) is None
    topic_only = _consumer("c", "three", TOPIC="shipment.events.v2")
    assert consuming_workload([topic_only], [_alert(LAG)]) is None
    # A group that is only part of a longer value is another group.
    longer = _consumer("d", "four", GROUP_ID="shipment-events-replay")
    assert consuming_workload([longer], [_alert(LAG)]) is None


def test_a_consumer_in_the_alerts_own_namespace_is_left_to_the_namespace_view() -> None:
    local = ObjectRef(kind="Deployment", namespace="kafka", name="mirror", api_version="apps/v1")
    candidates = candidate_targets(None, [_alert(LAG)])
    assert with_probed(candidates, local) == candidates
