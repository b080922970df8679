"""A KEDA trigger that measures a queue through a query (the Prometheus or Loki scaler) names
that queue by an equality label matcher (``queue="outbound-email"``): the queue is read from
the query like a queue trigger's ``queueName``, so a broker's queue alert finds the workload
the ScaledObject scales even when nothing else in its pods names the queue; a regex matcher,
another label, or a trigger that is not a query names nothing.

Real: ``kubetriage.evidence.triggers.trigger_queues`` and
``kubetriage.evidence.queue_consumers.consumer_elsewhere``. The objects are synthetic.
"""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.queue_consumers import consumer_elsewhere
from kubetriage.evidence.triggers import trigger_queues
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from tests.support.built import deployment_manifest
from tests.support.evidence import NOW

QUERY = 'sum(rabbitmq_queue_messages_ready{vhost="notify", queue="outbound-email"})'


def _trigger(query: str, kind: str = "prometheus") -> dict[str, Any]:
    return {
        "type": kind,
        "metadata": {"serverAddress": "http://prometheus.monitoring:9090", "query": query},
    }


def test_a_query_trigger_names_the_queue_its_equality_matcher_selects() -> None:
    assert trigger_queues(_trigger(QUERY)) == ["outbound-email"]
    kafka = 'sum(kafka_consumergroup_lag{consumergroup="billing",topic="orders"})'
    assert trigger_queues(_trigger(kafka)) == ["billing", "orders"]
    assert trigger_queues(_trigger('sum(rate({app="api"} |= "queue" [1m]))', "loki")) == []


def test_a_regex_matcher_another_label_or_a_plain_trigger_names_nothing() -> None:
    assert trigger_queues(_trigger('sum(rabbitmq_queue_messages_ready{queue=~"out.*"})')) == []
    assert trigger_queues(_trigger('sum(http_requests_total{job="api"})')) == []
    cpu = {"type": "cpu", "metadata": {"value": "60", "query": QUERY}}
    assert trigger_queues(cpu) == []


def test_a_queue_alert_finds_the_workload_a_query_trigger_scales() -> None:
    alert = Alert(
        status="firing",
        labels={"alertname": "QueueBacklog", "namespace": "messaging", "queue": "outbound-email"},
        starts_at=NOW,
    )
    scaled = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "mail-sender", "namespace": "notify"},
        "spec": {"scaleTargetRef": {"name": "mail-sender"}, "triggers": [_trigger(QUERY)]},
    }
    sender = deployment_manifest("mail-sender", "notify", ("sender", "r.example/sender:3"))
    chosen = ObjectRef(kind="Namespace", name="messaging")
    found = consumer_elsewhere([alert], chosen, [], [sender, scaled])
    assert found is not None
    assert found.same_object(ObjectRef(kind="Deployment", namespace="notify", name="mail-sender"))
