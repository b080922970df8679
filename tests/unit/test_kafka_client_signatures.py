"""The Apache Kafka Java client failing to reach its brokers, as the dependency rule reads it:
the network thread's "could not be established" and "Bootstrap broker ... disconnected"
warnings and a send giving up on metadata are failing calls, and Java's socket address
("host/10.0.0.1:9092") names the host the client dialled.

Real: the compiled vocabularies of ``analyzers.log_signatures`` and the whole analyzer
registry over Evidence from ``tests.support.evidence``; the lines are the client's own words.
"""

from __future__ import annotations

import pytest

from kubetriage.analyzers.log_signatures import DEPENDENCY_LOG, hosts_in
from kubetriage.models.base import ObjectRef
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads

HOST = "events-kafka.streaming.svc.cluster.local"
NOT_ESTABLISHED = (
    "WARN [Producer clientId=producer-1] Connection to node -1 "
    f"({HOST}/10.40.3.12:9092) could not be established. Node may not be available."
)
BOOTSTRAP = (
    f"WARN [Consumer clientId=c-1, groupId=g] Bootstrap broker {HOST}:9092 "
    "(id: -1 rack: null) disconnected"
)
METADATA = (
    "ERROR Unable to write to Kafka in appender [Kafka] org.apache.kafka.common.errors."
    "TimeoutException: Topic audit not present in metadata after 10000 ms."
)


@pytest.mark.parametrize(
    "line",
    [
        NOT_ESTABLISHED,
        BOOTSTRAP,
        METADATA,
        "org.apache.kafka.common.errors.TimeoutException: Failed to update metadata after "
        "60000 ms.",
        "Connection to node 2 (kafka-2.kafka-headless/10.1.2.3:9092) could not be established. "
        "Broker may not be available.",
    ],
)
def test_the_kafka_clients_unreachable_broker_words_are_failing_calls(line: str) -> None:
    assert DEPENDENCY_LOG.search(line)


def test_a_java_socket_address_names_the_host_before_its_resolved_address() -> None:
    assert hosts_in(NOT_ESTABLISHED) == [HOST]
    assert hosts_in("Connection refused: redis-master.cache.svc/10.1.9.9:6379") == [
        "redis-master.cache.svc"
    ]


def test_a_routine_kafka_client_line_is_no_failing_call() -> None:
    assert not DEPENDENCY_LOG.search(
        "INFO [Producer clientId=producer-1] Cluster ID: 4L6g3nShT-eMCtK--X86sw"
    )


def test_an_unreachable_kafka_behind_an_external_name_is_the_dependency_at_fault() -> None:
    kafka = make.external_service(
        "events-kafka", "b-1.events.kafka.eu-west-1.amazonaws.com", namespace="streaming"
    )
    logs = [make.checkout_log("\n".join([NOT_ESTABLISHED, METADATA, NOT_ESTABLISHED]))]
    result = analyze(make.checkout_evidence(logs=logs, services=[kafka]))
    first = assert_leads(
        result,
        Category.DEPENDENCY_FAILURE,
        Action.ESCALATE,
        ObjectRef(kind="Service", namespace="streaming", name="events-kafka"),
    )
    assert "broker connection failures" in first.summary
