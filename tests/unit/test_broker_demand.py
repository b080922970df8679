"""Checks that a message broker's own demand is read and weighed: the query for the messages
its clients publish to it (RabbitMQ's rabbitmq_prometheus global counter, Kafka's JMX exporter
counter) reaches the broker pods' series, and a broker throttled at its CPU limit while that
rate stays flat, right after a client rolled out a new revision, is the client's release to
roll back rather than a limit to raise.

Real: the query is rendered by ``kubetriage.evidence.queries`` and evaluated by the real
``promtool test rules`` over synthetic series; the analyzers run on Evidence models from
``tests.support.evidence`` with the whole registry.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from kubetriage.analyzers.callers import CONFIDENCE
from kubetriage.analyzers.demand import flat_demand
from kubetriage.evidence.queries import build_scope, select_queries
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.neighbours import CallerEvidence
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import ago, analyze, assert_leads, by_category, naming
from tests.support.promtool_checks import assert_evaluates

BROKER = ObjectRef(kind="StatefulSet", namespace="messaging", name="events-server")
SERVICE = ObjectRef(kind="Service", namespace="messaging", name="events")
PUBLISHER = ObjectRef(kind="Deployment", namespace="notifications", name="dispatcher")


def _throughput_query() -> str:
    scope = build_scope(BROKER, [])
    queries = {q.name: q.promql for q in select_queries(scope, timedelta(minutes=30))}
    return queries["broker_message_throughput"]


@pytest.mark.parametrize(
    "counter",
    ["rabbitmq_global_messages_received_total", "kafka_server_brokertopicmetrics_messagesin_total"],
)
def test_the_throughput_query_reads_the_brokers_published_messages(
    tmp_path: Path, counter: str
) -> None:
    series = [
        (f'{counter}{{namespace="messaging",pod="events-server-0"}}', "0+600x30"),
        (f'{counter}{{namespace="messaging",pod="events-server-1"}}', "0+600x30"),
        (f'{counter}{{namespace="other",pod="events-server-0"}}', "0+6000x30"),
    ]
    assert_evaluates(tmp_path, series, _throughput_query(), 20)


def _throughput(first: float, last: float) -> MetricSummary:
    return make.metric(
        _throughput_query(), name="broker_message_throughput", first=first, last=last
    )


def _throttled() -> list[MetricSummary]:
    return [
        make.metric(
            'container_cpu_cfs_throttled_periods_total{namespace="messaging",container="rabbitmq"}',
            first=1000.0,
            last=1000.0 + 2000.0,
            labels={"container": "rabbitmq"},
        ),
        make.metric(
            'container_cpu_cfs_periods_total{namespace="messaging",container="rabbitmq"}',
            first=5000.0,
            last=5000.0 + 3000.0,
            labels={"container": "rabbitmq"},
        ),
    ]


def _broker_evidence(throughput: MetricSummary) -> Evidence:
    change = make.rollout_change(PUBLISHER, 19, "image", minutes_ago=40)
    return make.evidence(
        target=BROKER,
        pods=[
            make.pod(
                "events-server-0",
                make.container("rabbitmq", limits={"cpu": "2", "memory": "4Gi"}),
                namespace="messaging",
            )
        ],
        alerts=[
            AlertEvidence(
                labels={"alertname": "BrokerConnectionChurn", "namespace": "messaging"},
                starts_at=ago(30),
                status="firing",
            )
        ],
        metrics=[*_throttled(), throughput],
        callers=[
            CallerEvidence(
                ref=PUBLISHER,
                callee=SERVICE,
                named_by=naming("Deployment dispatcher env AMQP_HOST"),
                changes=[change],
            )
        ],
    )


def test_published_messages_count_as_the_brokers_demand() -> None:
    assert flat_demand(make.evidence(metrics=[_throughput(50.0, 51.0)])) is not None
    assert flat_demand(make.evidence(metrics=[_throughput(50.0, 150.0)])) is None


def test_a_throttled_broker_with_flat_publishing_after_a_clients_release_rolls_it_back() -> None:
    result = analyze(_broker_evidence(_throughput(50.0, 51.0)))
    finding = assert_leads(result, Category.BAD_ROLLOUT, Action.ROLLBACK, PUBLISHER)
    assert finding.confidence == CONFIDENCE.flat_demand
    assert any("broker_message_throughput" in e.fact for e in finding.evidence)


def test_more_published_messages_leave_the_client_alone() -> None:
    result = analyze(_broker_evidence(_throughput(50.0, 200.0)))
    assert not [f for f in by_category(result, Category.BAD_ROLLOUT) if f.target == PUBLISHER]
