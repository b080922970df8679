"""Checks what an alert about a dead-letter queue leads to: its name maps to the queue whose
failed messages it holds (``orders-dlq``, ``orders.DLT``, ``orders_dead_letter``; not
``dlq-router`` or ``orders``); an alert naming only dead-letter queues in a namespace leads
to the one workload there whose pod template names the source queue (not when several do,
a producer and a consumer; not when something there reads the dead-letter queue itself; not
for an ordinary queue's alert, whose consumers run beside it); and a dead-letter queue's
backlog never asks for more consumers, while the same backlog of an ordinary queue does.

Everything is real: raw manifests, ``Alert`` models, Evidence models and ``run_analyzers``.
"""

from __future__ import annotations

from typing import Any

import pytest

from kubetriage.evidence.queue_consumers import consumer_elsewhere, dead_letter_source
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from kubetriage.models.vocabulary import Action
from tests.support.built import deployment_manifest
from tests.support.evidence import alert, analyze, container, deployment, evidence, metric, pod

SHOP = ObjectRef(kind="Namespace", name="shop", api_version="v1")
WORKER = ObjectRef(kind="Deployment", namespace="shop", name="order-worker", api_version="apps/v1")
QUEUE_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/orders"


def _dlq_alert(queue: str = "orders-dlq") -> Alert:
    return Alert(
        labels={"alertname": "DeadLetterMessagesVisible", "namespace": "shop", "queue_name": queue}
    )


def _workload(name: str, **env: str) -> dict[str, Any]:
    spec = {
        "name": "app",
        "image": f"registry.example/{name}:1",
        "env": [{"name": k, "value": v} for k, v in env.items()],
    }
    return deployment_manifest(name, "shop", spec)


def _pod(name: str, **env: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"{name}-6f8d9c7b54-abcde", "namespace": "shop"},
        "spec": {
            "containers": [
                {"name": "app", "env": [{"name": k, "value": v} for k, v in env.items()]}
            ]
        },
    }


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("orders-dlq", "orders"),
        ("orders.DLT", "orders"),
        ("orders_dlq", "orders"),
        ("order-events-dead-letter", "order-events"),
        ("orders.deadletter", "orders"),
        ("orders-dead-letter-queue", "orders"),
        ("orders", None),
        ("dlq", None),
        ("dlq-router", None),
        ("orders-dlqs", None),
    ],
)
def test_a_dead_letter_queue_names_its_source(name: str, source: str | None) -> None:
    assert dead_letter_source(name) == source


def test_a_dead_letter_alert_leads_to_the_one_workload_naming_its_source_queue() -> None:
    workloads = [
        _workload("order-worker", QUEUE_URL=QUEUE_URL),
        _workload("mailer", QUEUE_URL=QUEUE_URL + "-mail"),
    ]
    pods = [_pod("order-worker", QUEUE_URL=QUEUE_URL)]
    assert consumer_elsewhere([_dlq_alert()], SHOP, pods, workloads) == WORKER
    assert consumer_elsewhere([_dlq_alert("orders.DLT")], SHOP, pods, workloads) == WORKER


def test_near_misses_of_the_dead_letter_alert_lead_nowhere() -> None:
    worker = _workload("order-worker", QUEUE_URL=QUEUE_URL)
    producer = _workload("checkout", ORDERS_QUEUE=QUEUE_URL)
    elsewhere = deployment_manifest(
        "order-worker",
        "other",
        {"name": "app", "image": "r/w:1", "env": [{"name": "Q", "value": QUEUE_URL}]},
    )
    redriver = _pod("redriver", SOURCE=QUEUE_URL + "-dlq")
    # A producer names the source queue as well: the alert cannot tell which one fails.
    assert consumer_elsewhere([_dlq_alert()], SHOP, [], [worker, producer]) is None
    # Something in the namespace reads the dead-letter queue itself.
    assert consumer_elsewhere([_dlq_alert()], SHOP, [redriver], [worker]) is None
    # An ordinary queue's alert: its consumers run here, no walk.
    plain = _dlq_alert("orders")
    assert consumer_elsewhere([plain], SHOP, [_pod("order-worker", Q=QUEUE_URL)], [worker]) is None
    # The only workload naming the source runs in another namespace.
    assert consumer_elsewhere([_dlq_alert()], SHOP, [], [elsewhere]) is None


def _queue_evidence(queue: str) -> Any:
    worker = container("worker", args=["-Q", queue])
    pods = [
        pod(
            f"order-worker-5f7d8c9b6d-{suffix}",
            worker,
            namespace="shop",
            replica_set="order-worker-5f7d8c9b6d",
            labels={"app": "order-worker"},
        )
        for suffix in ("aaaaa", "bbbbb")
    ]
    metrics = [
        metric(
            "sum by (queue) (rabbitmq_queue_messages_ready)",
            name="queue_messages_ready",
            first=40,
            last=4_000,
            labels={"queue": queue},
        ),
        metric(
            "sum by (queue) (rate(rabbitmq_queue_messages_published_total[5m]))",
            name="queue_input_rate",
            first=5,
            last=30,
            labels={"queue": queue},
        ),
    ]
    return evidence(
        target=ObjectRef(kind="Namespace", name="shop"),
        alerts=[alert(alertname="QueueBacklog", namespace="shop", queue=queue)],
        pods=pods,
        metrics=metrics,
    )


def test_a_dead_letter_backlog_never_asks_for_more_consumers() -> None:
    def scaled(queue: str) -> bool:
        findings = analyze(_queue_evidence(queue)).findings
        return any(f.analyzer == "queue-backlog" for f in findings)

    assert not scaled("orders.dlq")
    assert scaled("orders")  # the same backlog of an ordinary queue


def _workload_evidence(queue: str) -> Any:
    """The consumer Deployment itself alerted, its queue's rates grown tenfold."""
    found = _queue_evidence(queue)
    rates = [
        metric(
            "sum by (queue) (rate(rabbitmq_queue_messages_published_total[5m]))",
            name="queue_publish_rate",
            first=5,
            last=50,
            labels={"queue": queue},
        ),
    ]
    return found.model_copy(
        update={
            "target": ObjectRef(kind="Deployment", namespace="shop", name="order-worker"),
            "workload": deployment("order-worker", "shop"),
            "metrics": rates,
        }
    )


def test_a_growing_dead_letter_queue_is_no_demand_to_scale_out_for() -> None:
    def scaled(queue: str) -> bool:
        findings = analyze(_workload_evidence(queue)).findings
        return any(f.action is Action.SCALE_OUT for f in findings)

    assert not scaled("orders.dlq")
    assert scaled("orders")  # the same growth of an ordinary queue
