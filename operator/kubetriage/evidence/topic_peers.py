"""The other side of a failing callee's queue: a followed callee whose own log lines report
an error without naming any Service it calls (a Kafka request-reply that gets no reply, a
job queue nobody drains) may be waiting on a peer it reaches only through a broker. Its own
configuration names the topics or queues it sends to and reads from
(``PAYMENT_REQUEST_TOPIC=payment-requests``); the workloads whose pod templates name one of
them as well (``REQUEST_TOPIC=payment-requests``, ``--queue invoices``) are its peers on
those topics, followed as its callees (the consumer that should answer may be crashing).

The same holds for the incident's own workload when it is the consumer: when its own lines
say it cannot decode the records it reads (a deserializer's exception, a protobuf wire-type
error, an unknown schema magic byte), what it reads changed, and the workloads naming the
topics it configures (``undecodable_topics``) write them: an SRE asks which of them released
a new revision before the first failure.

Pure; the dependency walk (``kubetriage.evidence.dependency_walk``, which lists the
workloads of every namespace only when ``callee_topics`` names one), the producer walk
(``kubetriage.evidence.producer_walk``, only when ``undecodable_topics`` names one) and the
builder's dependency summary (``kubetriage.evidence.summaries.dependencies``) and queue peers
(``kubetriage.evidence.queue_peers``) share it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Final

from kubetriage.evidence.config_values import TOPIC_KEY, topic_names
from kubetriage.evidence.dependencies import (
    ERROR_LINE,
    ServiceHost,
    callee_hosts,
    pod_texts,
)
from kubetriage.evidence.queue_consumers import CONSUMER_KINDS, names_queue
from kubetriage.models.naming import NamingSource, route_source
from kubetriage.models.objects import JsonDict, pod_workload
from kubetriage.models.objects import meta as _meta
from kubetriage.models.relations import TOPIC_SOURCE, DependencyRoute

# The kinds a peer on a topic is looked for among (the queue consumers' kinds).
PEER_KINDS = CONSUMER_KINDS

# A consumer that cannot decode a record it read, in the words of well-known clients and
# serializers: the Kafka consumer's deserializer failure, protobuf's parse errors (Java, Go,
# Python), Confluent's wire format without its schema id ("Unknown magic byte"), Avro's type
# mismatch, Jackson's field the reader's class does not know.
DECODE_FAILURE: Final = re.compile(
    r"RecordDeserializationException|[Ee]rror deserializing (?:key|value|KEY|VALUE)"
    r"|InvalidProtocolBufferException|cannot parse invalid wire-format data"
    r"|DecodeError: Error parsing message|Unknown magic byte|AvroTypeException"
    r"|UnrecognizedPropertyException"
)


def configured_topics(configured: Sequence[tuple[NamingSource, str]]) -> list[str]:
    """The topics the env variables among ``configured`` (``pod_texts``) name by a topic or
    queue key (``TOPIC_KEY``), in order."""
    topics: list[str] = []
    for source, value in configured:
        if source.kind != "env" or not TOPIC_KEY.search(source.variable or ""):
            continue
        topics += [t for t in topic_names(value) if t not in topics]
    return topics


def undecodable_topics(
    lines: Sequence[tuple[NamingSource, str]], configured: Sequence[tuple[NamingSource, str]]
) -> list[str]:
    """The topics a consumer's configuration (``configured``) names, when one of its own log
    ``lines`` says it cannot decode a record (``DECODE_FAILURE``); none otherwise."""
    if not any(DECODE_FAILURE.search(line) for _, line in lines):
        return []
    return configured_topics(configured)


def callee_topics(
    lines: Sequence[tuple[NamingSource, str]], configured: Sequence[tuple[NamingSource, str]]
) -> list[str]:
    """The topics a callee's configuration (``configured``: its pods' ``pod_texts``) names,
    when its own log lines report an error and name no host of a Service
    (``callee_hosts``); none otherwise."""
    if not any(ERROR_LINE.search(line) for _, line in lines) or callee_hosts(lines):
        return []
    return configured_topics(configured)


def topic_peers(
    topics: Sequence[str], workloads: Iterable[JsonDict], callee_pods: Iterable[JsonDict]
) -> list[ServiceHost]:
    """The workloads among ``workloads`` whose pod template names one of ``topics``, the
    callee's own workload (of ``callee_pods``) excepted, each named by the topic."""
    if not topics:
        return []
    own = {
        (str(_meta(p).get("namespace")), *owner)
        for p in callee_pods
        if (owner := pod_workload(p)) is not None
    }
    found: list[ServiceHost] = []
    for workload in workloads:
        kind, meta = str(workload.get("kind")), _meta(workload)
        key = (str(meta.get("namespace")), kind, str(meta.get("name")))
        if kind not in PEER_KINDS or key in own:
            continue
        texts = [text for _, text in pod_texts([], workload)]
        topic = next((t for t in topics if names_queue(texts, [t])), None)
        if topic is not None:
            route = DependencyRoute(kind="topic", topic=topic)
            source = route_source(f"{TOPIC_SOURCE} {topic}")
            found.append(ServiceHost(key[2], key[0], None, source, kind=kind, route=route))
    return found
