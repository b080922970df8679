"""Checks where a lag alert about a Kafka Connect sink's consumer group leads: Connect names
the group ``connect-<connector>`` and its consumers are the workers of a Connect cluster,
whose pod templates set the worker group and internal topics (Confluent's ``CONNECT_*`` env,
Debezium's ``GROUP_ID``/``CONFIG_STORAGE_TOPIC``, ``connect-distributed``), never the
connector's topic. The one such workload is the consumer; another group name, two Connect
clusters, or a workload naming the group itself conclude otherwise.
Through the pure resolver (``consumer_elsewhere``).

Everything is real: raw manifests and ``Alert`` models.
"""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.queue_consumers import connect_worker, consumer_elsewhere
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from tests.support.built import deployment_manifest

KAFKA_NS = ObjectRef(kind="Namespace", name="kafka", api_version="v1")


def _lag(group: str) -> Alert:
    return Alert(
        labels={
            "alertname": "KafkaConsumerGroupLagHigh",
            "namespace": "kafka",
            "consumergroup": group,
            "topic": "orders.public.orders",
        }
    )


def _workload(name: str, namespace: str, *args: str, **env: str) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "main",
        "image": f"registry.example/{name}:1",
        "env": [{"name": k, "value": v} for k, v in env.items()],
    }
    if args:
        container["args"] = list(args)
    return deployment_manifest(name, namespace, container)


def _ref(name: str, namespace: str) -> ObjectRef:
    return ObjectRef(kind="Deployment", namespace=namespace, name=name, api_version="apps/v1")


CONFLUENT = _workload("connect-cluster", "integration", CONNECT_GROUP_ID="integration-connect")
API = _workload("orders-api", "shop", DB_HOST="orders-db")


def test_a_sink_group_leads_to_the_one_connect_cluster() -> None:
    found = consumer_elsewhere([_lag("connect-orders-search-sink")], KAFKA_NS, [], [API, CONFLUENT])
    assert found == _ref("connect-cluster", "integration")


def test_debezium_and_script_started_workers_are_connect_workers() -> None:
    debezium = _workload("cdc", "cdc", GROUP_ID="1", CONFIG_STORAGE_TOPIC="cdc-configs")
    script = _workload("connect", "etl", "/opt/kafka/bin/connect-distributed.sh", "w.properties")
    assert connect_worker(debezium)
    assert connect_worker(script)
    assert not connect_worker(API)
    assert not connect_worker(_workload("sink", "etl", "connect-standalone.sh", "s.properties"))
    found = consumer_elsewhere([_lag("connect-warehouse-sink")], KAFKA_NS, [], [API, debezium])
    assert found == _ref("cdc", "cdc")


def test_another_group_name_is_not_a_connect_sink() -> None:
    assert consumer_elsewhere([_lag("orders-search-sink")], KAFKA_NS, [], [API, CONFLUENT]) is None


def test_two_connect_clusters_cannot_be_told_apart() -> None:
    other = _workload("connect-analytics", "analytics", CONNECT_GROUP_ID="analytics-connect")
    found = consumer_elsewhere(
        [_lag("connect-orders-search-sink")], KAFKA_NS, [], [CONFLUENT, other]
    )
    assert found is None


def test_a_workload_naming_the_group_itself_is_the_consumer() -> None:
    own = _workload("search-sink", "search", KAFKA_GROUP_ID="connect-orders-search-sink")
    found = consumer_elsewhere([_lag("connect-orders-search-sink")], KAFKA_NS, [], [own, CONFLUENT])
    assert found == _ref("search-sink", "search")
