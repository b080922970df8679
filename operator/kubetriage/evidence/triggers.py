"""What an event-driven autoscaler's triggers and Job templates name. Pure.

A KEDA trigger's ``metadata`` names the queue, topic or stream its scaler measures (the
scalers' documented keys, ``TRIGGER_QUEUE_KEYS``): the workload or ScaledJob it scales is
that queue's consumer even when no pod of it runs (a ScaledJob between Jobs, a ScaledObject
scaled to zero; ``scale_target``). A ScaledJob's pod template is its ``jobTargetRef``'s (a
Job spec), where a workload keeps its own under ``spec.template`` (``pod_template``). Shared
by the target choice (``kubetriage.evidence.targets``), the dependency texts and the scaler
summaries.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import urlsplit

from kubetriage.evidence.raw import as_dict, as_str, dicts
from kubetriage.models.objects import JsonDict

# Trigger metadata keys naming the queue, topic, stream or subscription a scaler measures,
# by trigger type (KEDA's scaler docs). A URL's last path segment is the queue's name
# (SQS: https://sqs.<region>.amazonaws.com/<account>/<queue>).
TRIGGER_QUEUE_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "aws-sqs-queue": ("queueURL",),
    "aws-kinesis-stream": ("streamName",),
    "azure-queue": ("queueName",),
    "azure-servicebus": ("queueName", "topicName", "subscriptionName"),
    "azure-eventhub": ("eventHubName", "consumerGroup"),
    "gcp-pubsub": ("subscriptionName", "topicName"),
    "kafka": ("topic", "consumerGroup"),
    "apache-kafka": ("topic", "consumerGroup"),
    "rabbitmq": ("queueName",),
    "redis": ("listName",),
    "redis-cluster": ("listName",),
    "redis-streams": ("stream", "consumerGroup"),
    "redis-cluster-streams": ("stream", "consumerGroup"),
    "nats-jetstream": ("stream", "consumer"),
    "stan": ("channel", "queueGroup"),
    "pulsar": ("topic", "subscription"),
    "activemq": ("destinationName",),
    "artemis-queue": ("queueName",),
    "ibmmq": ("queueName",),
}
_MAX_QUEUES = 5
# Triggers whose metadata holds a PromQL or LogQL query, and the label names by which such a
# query selects one queue, topic or consumer group (the exporters' conventions: RabbitMQ's
# ``queue``, kafka_exporter's ``topic`` and ``consumergroup``...).
QUERY_TRIGGERS: Final = frozenset({"prometheus", "loki"})
_QUEUE_MATCHER: Final = re.compile(
    r"\b(?:queue|queue_name|topic|consumergroup|consumer_group|stream|subscription_id)"
    r"\s*=\s*\"([^\"]+)\""
)


def _queue_name(value: str) -> str | None:
    """A queue's name from a metadata value: a URL's last path segment, or the value."""
    value = value.strip()
    if "://" in value:
        value = urlsplit(value).path.rstrip("/").rpartition("/")[2]
    return value or None


def trigger_queues(trigger: JsonDict) -> list[str]:
    """The queues, topics and consumer groups a trigger's metadata names
    (``TRIGGER_QUEUE_KEYS``), or a query trigger's equality label matchers select
    (``QUERY_TRIGGERS``), at most ``_MAX_QUEUES``."""
    metadata = as_dict(trigger.get("metadata"))
    kind = as_str(trigger.get("type")) or ""
    values = [
        value
        for key in TRIGGER_QUEUE_KEYS.get(kind, ())
        for value in (as_str(metadata.get(key)) or "").split(",")
    ]
    if kind in QUERY_TRIGGERS:
        # A query names the queue by an equality matcher (queue="orders"), not by a key.
        values += _QUEUE_MATCHER.findall(as_str(metadata.get("query")) or "")
    found: list[str] = []
    for value in values:
        name = _queue_name(value)
        if name and name not in found:
            found.append(name)
    return found[:_MAX_QUEUES]


def scaled_queues(obj: JsonDict) -> list[str]:
    """The queues every trigger of a ScaledObject or ScaledJob names, in order."""
    found: list[str] = []
    for trigger in dicts(as_dict(obj.get("spec")).get("triggers")):
        found += [name for name in trigger_queues(trigger) if name not in found]
    return found


def scale_target(obj: JsonDict) -> tuple[str, str] | None:
    """The (kind, name) a ScaledObject's ``scaleTargetRef`` names in its own namespace (KEDA's
    default kind is Deployment); None without a name."""
    ref = as_dict(as_dict(obj.get("spec")).get("scaleTargetRef"))
    name = as_str(ref.get("name"))
    return ((as_str(ref.get("kind")) or "Deployment"), name) if name else None


def pod_template(obj: JsonDict) -> JsonDict:
    """The pod template of a workload (``spec.template``) or of a ScaledJob (its
    ``jobTargetRef``'s ``template``); empty for any other object."""
    spec = as_dict(obj.get("spec"))
    if "template" in spec:
        return as_dict(spec.get("template"))
    return as_dict(as_dict(spec.get("jobTargetRef")).get("template"))
