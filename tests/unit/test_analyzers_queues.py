"""Checks the queue-backlog analyzer: an alert naming a queue, topic or consumer group leads to
the workload that consumes it (named in its pods' args or env, or by the consumer group), and
to scale-out when the backlog grows with more input while the consumers are healthy; near
misses (crashing consumers, slower consumers with steady input, no consumer, no growth) stay
quiet.

Everything is real: Evidence models from ``tests.support.evidence`` and ``run_analyzers``.
"""

from __future__ import annotations

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import MetricSummary, PodEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import (
    alert,
    analyze,
    assert_leads,
    by_category,
    container,
    crash_looping,
    evidence,
    metric,
    pod,
)

WORKER = ObjectRef(kind="Deployment", namespace="billing", name="invoice-worker")


def _worker_pod(suffix: str, *, crashing: bool = False) -> PodEvidence:
    args = ["-A", "invoicing", "worker", "-Q", "invoices"]
    worker = (
        crash_looping("worker").model_copy(update={"args": args})
        if crashing
        else container("worker", args=args)
    )
    return pod(
        f"invoice-worker-5f7d8c9b6d-{suffix}",
        worker,
        namespace="billing",
        replica_set="invoice-worker-5f7d8c9b6d",
        labels={"app": "invoice-worker"},
    )


def _broker_pod() -> PodEvidence:
    broker = pod(
        "rabbitmq-0",
        container("rabbitmq", env={"RABBITMQ_DEFAULT_VHOST": "/"}),
        namespace="billing",
        replica_set=None,
        labels={"app": "rabbitmq"},
    )
    return broker.model_copy(
        update={"owner": ObjectRef(kind="StatefulSet", namespace="billing", name="rabbitmq")}
    )


def _backlog_metrics(
    *, input_first: float = 5.0, consumed_last: float = 5.0
) -> list[MetricSummary]:
    return [
        metric(
            'sum by (queue) (rabbitmq_queue_messages_ready{namespace="billing"})',
            name="queue_messages_ready",
            first=40,
            last=56_000,
            labels={"queue": "invoices"},
        ),
        metric(
            "sum by (queue) (rate(rabbitmq_queue_messages_published_total"
            '{namespace="billing"}[5m]))',
            name="queue_input_rate",
            first=input_first,
            last=30,
            labels={"queue": "invoices"},
        ),
        metric(
            'max by (queue) (rate(celery_tasks_succeeded_total{namespace="billing"}[5m]))',
            name="queue_consumed_rate",
            first=5,
            last=consumed_last,
            labels={"queue": "invoices"},
        ),
    ]


def _backlog(**fields: object) -> Evidence:
    fields.setdefault(
        "alerts", [alert(alertname="QueueBacklog", namespace="billing", queue="invoices")]
    )
    fields.setdefault("pods", [_broker_pod(), _worker_pod("aaaaa"), _worker_pod("bbbbb")])
    fields.setdefault("metrics", _backlog_metrics())
    return evidence(target=ObjectRef(kind="Namespace", name="billing"), **fields)


def test_growing_backlog_with_more_input_scales_out_the_consumer_not_the_broker() -> None:
    result = analyze(_backlog())
    finding = assert_leads(result, Category.RESOURCE_SATURATION, Action.SCALE_OUT, WORKER)
    assert finding.analyzer == "queue-backlog"
    # Two consumers and six times the input: at least twice as many replicas.
    assert int(finding.params["replicas"]) >= 4
    assert any("consumes invoices" in e.fact for e in finding.evidence)


def test_consumer_group_names_the_consumer_and_topic_lag_is_the_backlog() -> None:
    consumer = pod(
        "ledger-7d9f6c8b5-ccccc",
        container("consumer", env={"KAFKA_BOOTSTRAP": "kafka.data:9092"}),
        namespace="payments",
        replica_set="ledger-7d9f6c8b5",
        labels={"app": "ledger"},
    )
    lag = metric(
        'sum by (consumergroup, topic) (kafka_consumergroup_lag{namespace="payments"})',
        name="kafka_consumergroup_lag",
        first=100,
        last=90_000,
    )
    ev = evidence(
        target=ObjectRef(kind="Namespace", name="payments"),
        alerts=[alert(alertname="ConsumerLag", namespace="payments", consumergroup="ledger")],
        pods=[consumer],
        metrics=[lag],
    )
    finding = assert_leads(
        analyze(ev),
        Category.RESOURCE_SATURATION,
        Action.SCALE_OUT,
        ObjectRef(kind="Deployment", namespace="payments", name="ledger"),
    )
    # Without a rate of input, the backlog alone is weaker evidence.
    assert finding.confidence < 0.65


def test_crashing_consumers_are_not_called_too_few() -> None:
    ev = _backlog(pods=[_worker_pod("aaaaa", crashing=True), _worker_pod("bbbbb")])
    result = analyze(ev)
    assert not [f for f in result.findings if f.analyzer == "queue-backlog"]
    assert by_category(result, Category.CRASH_LOOP)


def test_slower_consumers_with_steady_input_are_not_saturation() -> None:
    ev = _backlog(metrics=_backlog_metrics(input_first=30.0, consumed_last=1.0))
    assert not [f for f in analyze(ev).findings if f.analyzer == "queue-backlog"]


def test_no_consumer_or_no_growth_or_no_queue_label_stays_quiet() -> None:
    nobody = _backlog(pods=[_broker_pod()])
    flat = _backlog(
        metrics=[
            metric("rabbitmq_queue_messages_ready", name="queue_messages_ready", first=40, last=60)
        ]
    )
    unlabelled = _backlog(alerts=[alert(alertname="HighLatency", namespace="billing")])
    for ev in (nobody, flat, unlabelled):
        assert not [f for f in analyze(ev).findings if f.analyzer == "queue-backlog"]
