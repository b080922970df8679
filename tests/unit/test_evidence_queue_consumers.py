"""Checks where an alert about a queue leads when it fires in the broker's namespace: to the
one workload, in another namespace, whose pod template names the queue (its env or args);
not when the broker's namespace runs a consumer itself, when nothing or several different
workloads name it, when a name only contains the queue's, or when the alert names no queue;
to the workload a KEDA ScaledObject scales by a trigger measuring the queue; to a worker
whose env comes from a ConfigMap naming the queue (``envFrom``, also as the collector keeps
it); and, when only configuration names the queue, to the one worker configured for its
renamed successor rather than the producer still naming it.
Through the pure resolver (``consumer_elsewhere``) and the builder choosing its own target.

Everything is real: raw manifests, ``Alert`` models and ``build_evidence``.
"""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.queue_consumers import consumer_elsewhere, names_queue, names_successor
from kubetriage.evidence.reader import strip_config_map
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from tests.support.built import built, deployment_manifest

BROKER_NS = ObjectRef(kind="Namespace", name="messaging", api_version="v1")
RENDERER = ObjectRef(kind="Deployment", namespace="billing", name="renderer", api_version="apps/v1")
_QUEUE_ALERT = Alert(
    labels={
        "alertname": "RabbitmqTooManyReadyMessages",
        "namespace": "messaging",
        "service": "rabbitmq",
        "queue": "invoices.render",
    }
)


def _worker(name: str, namespace: str, **env: str) -> dict[str, Any]:
    container = {
        "name": "worker",
        "image": f"registry.example/{name}:1",
        "env": [{"name": k, "value": v} for k, v in env.items()],
    }
    return deployment_manifest(name, namespace, container)


def _broker_pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "rabbitmq-0", "namespace": "messaging", "labels": {"app": "mq"}},
        "spec": {"containers": [{"name": "rabbitmq", "image": "rabbitmq:3.13"}]},
    }


def test_the_one_workload_naming_the_queue_elsewhere_is_the_target() -> None:
    workloads = [
        _worker("renderer", "billing", AMQP_QUEUE="invoices.render"),
        _worker("mailer", "billing", AMQP_QUEUE="invoices.mail"),
    ]
    found = consumer_elsewhere([_QUEUE_ALERT], BROKER_NS, [_broker_pod()], workloads)
    assert found == RENDERER


def test_a_consumer_group_alert_from_the_exporters_namespace_finds_the_group() -> None:
    """kafka_exporter runs beside the brokers, so a lag alert carries their namespace: the
    one Deployment setting the group (``group.id=...``, ``--group=...``) or named after it
    is the consumer."""
    lag = Alert(
        labels={
            "alertname": "KafkaConsumerGroupLagHigh",
            "namespace": "kafka",
            "consumergroup": "ledger-indexer",
            "topic": "ledger.events",
        }
    )
    kafka = ObjectRef(kind="Namespace", name="kafka", api_version="v1")
    indexer = ObjectRef(
        kind="Deployment", namespace="search", name="ledger-indexer", api_version="apps/v1"
    )
    by_arg = [
        _worker("indexer", "search", JAVA_OPTS="-Dgroup.id=ledger-indexer"),
        _worker("mailer", "billing", KAFKA_GROUP="mailer"),
    ]
    assert consumer_elsewhere([lag], kafka, [], by_arg) == indexer.model_copy(
        update={"name": "indexer"}
    )
    by_name = [_worker("ledger-indexer", "search"), _worker("mailer", "billing")]
    assert consumer_elsewhere([lag], kafka, [], by_name) == indexer


def test_a_consumer_in_the_brokers_namespace_keeps_the_namespace() -> None:
    local = _worker("renderer", "messaging", AMQP_QUEUE="invoices.render")
    pod = {**_broker_pod(), "spec": local["spec"]["template"]["spec"]}
    workloads = [_worker("renderer", "billing", AMQP_QUEUE="invoices.render")]
    assert consumer_elsewhere([_QUEUE_ALERT], BROKER_NS, [pod], workloads) is None


def test_several_consumers_or_none_leave_the_namespace() -> None:
    two = [
        _worker("renderer", "billing", AMQP_QUEUE="invoices.render"),
        _worker("archiver", "archive", QUEUES="invoices.render,invoices.archive"),
    ]
    assert consumer_elsewhere([_QUEUE_ALERT], BROKER_NS, [], two) is None
    other = [_worker("renderer", "billing", AMQP_QUEUE="invoices.render-dlq")]
    assert consumer_elsewhere([_QUEUE_ALERT], BROKER_NS, [], other) is None


def test_an_alert_naming_no_queue_or_a_workload_target_is_left_alone() -> None:
    workloads = [_worker("renderer", "billing", AMQP_QUEUE="invoices.render")]
    plain = Alert(labels={"alertname": "KubePodNotReady", "namespace": "messaging"})
    assert consumer_elsewhere([plain], BROKER_NS, [], workloads) is None
    assert consumer_elsewhere([_QUEUE_ALERT], RENDERER, [], workloads) is None


def test_a_queue_is_named_as_a_whole_word_in_env_values_and_args() -> None:
    assert names_queue(["celery -A app worker -Q invoices.render,mail"], ["invoices.render"])
    assert names_queue(["amqp://mq/billing?queue=invoices.render"], ["invoices.render"])
    assert not names_queue(["invoices.render-retry"], ["invoices.render"])
    assert not names_queue(["old-invoices.render"], ["invoices.render"])


def test_the_builder_takes_the_consumer_as_its_target() -> None:
    objects = [
        _broker_pod(),
        _worker("renderer", "billing", AMQP_QUEUE="invoices.render"),
        _worker("ledger", "finance", LEDGER_DB="postgres"),
    ]
    evidence = built(objects, None, alerts=[_QUEUE_ALERT])
    assert evidence.target is not None
    assert evidence.target.key() == RENDERER.key()
    assert evidence.workload is not None
    assert evidence.workload.ref.name == "renderer"


def _scaled_object(namespace: str, target: str, queue: str, kind: str | None = None) -> Any:
    """A KEDA ScaledObject scaling ``target`` on a RabbitMQ trigger measuring ``queue``."""
    ref = {"name": target, **({"kind": kind} if kind else {})}
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": f"{target}-scaler", "namespace": namespace},
        "spec": {
            "scaleTargetRef": ref,
            "triggers": [
                {"type": "rabbitmq", "metadata": {"queueName": queue, "mode": "QueueLength"}}
            ],
        },
    }


def test_the_workload_a_scaledobject_scales_on_the_queue_is_its_consumer() -> None:
    """Its pods read the queue's name from a file, so only KEDA's trigger names the queue: the
    workload the ScaledObject scales consumes it; a trigger on another queue, or a target of
    another kind than the workload's, does not."""
    quiet = [_worker("renderer", "billing", CONFIG="/etc/renderer/queues.yaml")]
    assert consumer_elsewhere([_QUEUE_ALERT], BROKER_NS, [], quiet) is None
    scaled = [*quiet, _scaled_object("billing", "renderer", "invoices.render")]
    assert consumer_elsewhere([_QUEUE_ALERT], BROKER_NS, [_broker_pod()], scaled) == RENDERER
    other_queue = [*quiet, _scaled_object("billing", "renderer", "invoices.mail")]
    assert consumer_elsewhere([_QUEUE_ALERT], BROKER_NS, [], other_queue) is None
    other_kind = [*quiet, _scaled_object("billing", "renderer", "invoices.render", "StatefulSet")]
    assert consumer_elsewhere([_QUEUE_ALERT], BROKER_NS, [], other_kind) is None
    elsewhere = [*quiet, _scaled_object("archive", "renderer", "invoices.render")]
    assert consumer_elsewhere([_QUEUE_ALERT], BROKER_NS, [], elsewhere) is None


def test_the_builder_follows_a_scaledobject_to_its_consumer() -> None:
    objects = [
        _broker_pod(),
        _worker("renderer", "billing", CONFIG="/etc/renderer/queues.yaml"),
        _scaled_object("billing", "renderer", "invoices.render"),
    ]
    evidence = built(objects, None, alerts=[_QUEUE_ALERT])
    assert evidence.target is not None
    assert evidence.target.key() == RENDERER.key()


def test_the_consumer_groups_workload_is_preferred_to_a_producer_naming_the_topic() -> None:
    """A producer names the topic it publishes to as plainly as a consumer does; the alert's
    consumer group says which of them consumes. Without a group, the two stay ambiguous."""
    lag = Alert(
        labels={
            "alertname": "KafkaConsumerGroupLagHigh",
            "namespace": "kafka",
            "consumergroup": "stock-reserver",
            "topic": "orders.lines",
        }
    )
    kafka = ObjectRef(kind="Namespace", name="kafka", api_version="v1")
    workloads = [
        _worker("stock-reserver", "inventory"),
        _worker("order-api", "orders", ORDER_LINES_TOPIC="orders.lines"),
    ]
    assert consumer_elsewhere([lag], kafka, [], workloads) == ObjectRef(
        kind="Deployment", namespace="inventory", name="stock-reserver", api_version="apps/v1"
    )
    by_group = [
        _worker("reserver", "inventory", KAFKA_GROUP_ID="stock-reserver"),
        _worker("order-api", "orders", ORDER_LINES_TOPIC="orders.lines"),
    ]
    assert consumer_elsewhere([lag], kafka, [], by_group) == ObjectRef(
        kind="Deployment", namespace="inventory", name="reserver", api_version="apps/v1"
    )
    topic_only = lag.model_copy(update={"labels": {**lag.labels, "consumergroup": "other"}})
    assert consumer_elsewhere([topic_only], kafka, [], workloads[1:] + by_group[1:]) is None


def _config_map(name: str, namespace: str, **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": data,
    }


def _env_from(name: str, namespace: str, config_map: str, prefix: str = "") -> dict[str, Any]:
    """A worker whose env comes whole from ``config_map`` (``envFrom``, with ``prefix``)."""
    source: dict[str, Any] = {"configMapRef": {"name": config_map}}
    if prefix:
        source["prefix"] = prefix
    container = {
        "name": "worker",
        "image": f"registry.example/{name}:1",
        "command": ["sh", "-c", 'exec celery -A app worker -Q "$CELERY_QUEUES"'],
        "envFrom": [source],
    }
    return deployment_manifest(name, namespace, container)


def test_a_queue_the_env_takes_from_a_configmap_names_the_consumer() -> None:
    """``envFrom`` (with its prefix) is as much the worker's env as ``env``: the queue its
    ConfigMap holds names it. A ConfigMap of the same name in another namespace is not its
    own, and a key that does not say it holds a queue is not read for one."""
    worker = _env_from("renderer", "billing", "renderer-config", prefix="CELERY_")
    own = _config_map("renderer-config", "billing", QUEUES="invoices.render")
    assert consumer_elsewhere([_QUEUE_ALERT], BROKER_NS, [], [worker], [own]) == RENDERER
    assert consumer_elsewhere([_QUEUE_ALERT], BROKER_NS, [], [worker]) is None
    foreign = _config_map("renderer-config", "archive", QUEUES="invoices.render")
    assert consumer_elsewhere([_QUEUE_ALERT], BROKER_NS, [], [worker], [foreign]) is None
    not_a_queue = _config_map("renderer-config", "billing", TEMPLATE="invoices.render")
    assert consumer_elsewhere([_QUEUE_ALERT], BROKER_NS, [], [worker], [not_a_queue]) is None


def test_what_the_collector_keeps_of_a_configmap_names_the_same_consumer() -> None:
    """The collector drops a ConfigMap's values on reading it and keeps the queues its keys
    hold: the lookup finds the same consumer from that as from the ConfigMap as written."""
    worker = _env_from("renderer", "billing", "renderer-config")
    written = _config_map(
        "renderer-config", "billing", CELERY_QUEUES="invoices.render", BROKER_PASSWORD="s3cret"
    )
    stripped = strip_config_map(written)
    assert stripped["topicValues"] == {"CELERY_QUEUES": "invoices.render"}
    assert "s3cret" not in str(stripped)
    assert consumer_elsewhere([_QUEUE_ALERT], BROKER_NS, [], [worker], [stripped]) == RENDERER


def test_the_worker_configured_for_a_renamed_queue_is_the_consumer_that_moved() -> None:
    """The producer still names the queue, the worker's ConfigMap now names its versioned
    successor: messages still arrive and nobody reads them, so the worker that moved is the
    consumer. Not when the worker names both queues, when the other name is no version of
    the queue's (a retry queue), when two workers moved, or when KEDA says who consumes."""
    producer = _worker("billing-api", "billing", INVOICE_QUEUE="invoices.render")
    worker = _env_from("renderer", "billing", "renderer-config")
    moved = _config_map("renderer-config", "billing", CELERY_QUEUES="invoices.render-v2")
    producer_ref = RENDERER.model_copy(update={"name": "billing-api"})
    assert consumer_elsewhere([_QUEUE_ALERT], BROKER_NS, [], [producer, worker]) == producer_ref
    found = consumer_elsewhere([_QUEUE_ALERT], BROKER_NS, [], [producer, worker], [moved])
    assert found == RENDERER
    both = _config_map(
        "renderer-config", "billing", CELERY_QUEUES="invoices.render,invoices.render-v2"
    )
    assert consumer_elsewhere([_QUEUE_ALERT], BROKER_NS, [], [producer, worker], [both]) is None
    retry = _config_map("renderer-config", "billing", CELERY_QUEUES="invoices.render-retry")
    found = consumer_elsewhere([_QUEUE_ALERT], BROKER_NS, [], [producer, worker], [retry])
    assert found == producer_ref
    second = _worker("renderer-canary", "billing", CELERY_QUEUES="invoices.render_v3")
    found = consumer_elsewhere([_QUEUE_ALERT], BROKER_NS, [], [producer, worker, second], [moved])
    assert found == producer_ref
    keda = [producer, worker, _scaled_object("billing", "billing-api", "invoices.render")]
    assert consumer_elsewhere([_QUEUE_ALERT], BROKER_NS, [], keda, [moved]) == producer_ref


def test_names_successor_takes_a_version_suffix_only() -> None:
    assert names_successor(["exports-v2"], ["exports"])
    assert names_successor(["-Q orders_v3,mail"], ["orders"])
    assert names_successor(["jobs.V2"], ["jobs"])
    assert not names_successor(["exports"], ["exports"])
    assert not names_successor(["exports-dlq", "exports-v2x", "old-exports-v2"], ["exports"])


def test_the_builder_reads_the_configmap_a_consumer_takes_its_env_from() -> None:
    objects = [
        _broker_pod(),
        _worker("billing-api", "billing", INVOICE_QUEUE="invoices.render"),
        _env_from("renderer", "billing", "renderer-config"),
        _config_map("renderer-config", "billing", CELERY_QUEUES="invoices.render-v2"),
    ]
    evidence = built(objects, None, alerts=[_QUEUE_ALERT])
    assert evidence.target is not None
    assert evidence.target.key() == RENDERER.key()


def test_a_jetstream_consumer_alert_names_its_consumer_by_the_nats_exporters_labels() -> None:
    """prometheus-nats-exporter labels JetStream series ``stream_name`` and ``consumer_name``:
    the one Deployment named after the consumer is it; the stream alone names a queue, the
    workloads publishing to it name the stream too, so a consumer name decides."""
    pending = Alert(
        labels={
            "alertname": "NatsConsumerPendingHigh",
            "namespace": "messaging",
            "stream_name": "UPLOADS",
            "consumer_name": "media-uploader",
        }
    )
    workloads = [
        _worker("media-uploader", "media", NATS_URL="nats://nats.messaging:4222"),
        _worker("media-api", "media", NATS_URL="nats://nats.messaging:4222"),
    ]
    found = consumer_elsewhere([pending], BROKER_NS, [_broker_pod()], workloads)
    assert found == ObjectRef(
        kind="Deployment", namespace="media", name="media-uploader", api_version="apps/v1"
    )
    unnamed = Alert(labels={**pending.labels, "consumer_name": "thumbnails"})
    assert consumer_elsewhere([unnamed], BROKER_NS, [_broker_pod()], workloads) is None
