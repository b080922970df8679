"""Checks the other workloads naming an alerted queue (its producers) and the producer-rollout
rule.

Evidence side (``kubetriage.evidence.queue_peers``, pure and through the real builder): the
workloads whose template names the alert's topic (env, or a ConfigMap they take env from),
the consumer left out, sorted and bounded, each with its rollouts; a workload naming a topic
that only contains the alert's, or an alert naming no queue, gives none. Analyzer side
(``kubetriage.analyzers.producer_rollout``): the one peer that rolled out a change of what it
does within the onset window of a growing backlog whose consumer did not change is rolled
back, above the consumer's autoscaler at its maximum; near misses: the consumer itself
rolled out, the peer rolled out long before or only changed probes, two peers rolled out, no
backlog grows, the topic's input rate is known and flat, the consumer's own lines say it
cannot decode what it reads (its backlog grows because it fails, which producer-contract
says).

Real: raw manifests, ``Alert`` models, the pure builder, Evidence models from
``tests.support.evidence`` and the whole analyzer registry.
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.producer_rollout import CONFIDENCE, NAME
from kubetriage.evidence.queue_peers import MAX_PEERS, queue_peers
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.incident import Alert
from kubetriage.models.neighbours import QueuePeerEvidence
from kubetriage.models.object_evidence import ChangeEvidence, LogTail, MetricSummary
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.built import built, deployment_manifest
from tests.support.evidence import ago, analyze, assert_leads, naming

CONSUMER = ObjectRef(kind="Deployment", namespace="stock", name="reserver")
PRODUCER = ObjectRef(kind="Deployment", namespace="orders", name="order-api")
OTHER = ObjectRef(kind="Deployment", namespace="billing", name="invoicer")
_LABELS = {
    "alertname": "KafkaConsumerGroupLagHigh",
    "namespace": "kafka",
    "consumergroup": "reserver",
    "topic": "orders.lines",
}


def _workload(name: str, namespace: str, **env: str) -> dict[str, Any]:
    container = {
        "name": "app",
        "image": f"registry.example/{name}:1",
        "env": [{"name": k, "value": v} for k, v in env.items()],
    }
    return deployment_manifest(name, namespace, container)


def test_the_workloads_naming_the_topic_besides_its_consumer_are_its_peers() -> None:
    consumer = _workload("reserver", "stock", KAFKA_TOPIC="orders.lines")
    workloads = [
        consumer,
        _workload("order-api", "orders", LINES_TOPIC="orders.lines"),
        _workload("audit", "orders", LINES_TOPIC="orders.lines-audit"),
        *(_workload(f"peer-{i}", "x", TOPIC="orders.lines") for i in range(5)),
    ]
    peers = queue_peers([Alert(labels=_LABELS)], workloads, [], consumer)
    assert [(p["metadata"]["name"], q) for p, q, _ in peers] == [
        ("order-api", "orders.lines"),
        ("peer-0", "orders.lines"),
        ("peer-1", "orders.lines"),
    ][:MAX_PEERS]
    assert peers[0][2] == naming("Deployment order-api env LINES_TOPIC")
    no_queue = Alert(labels={"alertname": "KubePodCrashLooping", "namespace": "stock"})
    assert queue_peers([no_queue], workloads, [], consumer) == []
    assert queue_peers([Alert(labels=_LABELS)], workloads, [], None) == []


def test_the_builder_reads_the_peers_and_their_rollouts() -> None:
    """A peer naming the topic through the ConfigMap it takes env from counts, with the
    rollouts its ReplicaSets record."""
    consumer = _workload("reserver", "stock")
    producer = deployment_manifest(
        "order-api",
        "orders",
        {"name": "app", "image": "order-api:2", "envFrom": [{"configMapRef": {"name": "api"}}]},
    )
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "api", "namespace": "orders"},
        "data": {"LINES_TOPIC": "orders.lines"},
    }
    objects = [consumer, producer, config]
    evidence = built(objects, CONSUMER, alerts=[Alert(labels=_LABELS)])
    assert [(p.ref, p.queue, p.named_by) for p in evidence.queue_peers] == [
        (PRODUCER, "orders.lines", naming("Deployment order-api env LINES_TOPIC"))
    ]


# --- the rule ----------------------------------------------------------------------------


def _peer(ref: ObjectRef, *aspects: str, minutes_ago: float = 41) -> QueuePeerEvidence:
    changes = [make.rollout_change(ref, 46, *aspects, minutes_ago=minutes_ago)] if aspects else []
    return QueuePeerEvidence(
        ref=ref,
        queue="orders.lines",
        named_by=naming("Deployment x env LINES_TOPIC"),
        changes=changes,
    )


def _lag(first: float = 31, last: float = 86150) -> MetricSummary:
    return make.metric(
        'kafka_consumergroup_lag{namespace="kafka",topic="orders.lines"}',
        labels={"consumergroup": "reserver", "topic": "orders.lines"},
        first=first,
        last=last,
        trend="rising" if last > first else "flat",
    )


def _input_rate(first: float, last: float) -> MetricSummary:
    return make.metric(
        'sum by (topic) (rate(kafka_topic_partition_current_offset{namespace="kafka"}[5m]))',
        name="topic_input_rate",
        labels={"topic": "orders.lines"},
        first=first,
        last=last,
    )


def _evidence(
    peers: list[QueuePeerEvidence],
    metrics: list[MetricSummary] | None = None,
    own: list[ChangeEvidence] | None = None,
    alert_status: str = "firing",
    logs: list[LogTail] | None = None,
) -> Evidence:
    return make.evidence(
        logs=logs or [],
        target=CONSUMER,
        workload=make.deployment("reserver", "stock", replicas=6),
        alerts=[AlertEvidence(labels=_LABELS, starts_at=ago(24), status=alert_status)],
        queue_peers=peers,
        metrics=[_lag()] if metrics is None else metrics,
        changes=own or [],
    )


def _fired(evidence: Evidence) -> list[object]:
    return [f for f in analyze(evidence).findings if f.analyzer == NAME]


def test_the_one_producer_that_rolled_out_before_the_lag_is_rolled_back() -> None:
    result = analyze(_evidence([_peer(PRODUCER, "image"), _peer(OTHER)]))
    first = assert_leads(result, Category.BAD_ROLLOUT, Action.ROLLBACK, PRODUCER)
    assert (first.analyzer, first.confidence) == (NAME, CONFIDENCE.rollout)
    more = analyze(_evidence([_peer(PRODUCER, "image")], [_lag(), _input_rate(10, 80)]))
    assert more.findings[0].confidence == CONFIDENCE.rollout + CONFIDENCE.more_input_bonus


def test_the_firing_lag_alert_stands_for_a_backlog_series_not_read() -> None:
    assert _fired(_evidence([_peer(PRODUCER, "image")], metrics=[]))
    assert _fired(_evidence([_peer(PRODUCER, "image")], [], alert_status="resolved")) == []


def test_silent_when_the_producers_release_cannot_explain_the_lag() -> None:
    assert _fired(_evidence([_peer(PRODUCER, "image", minutes_ago=60 * 30)])) == []
    assert _fired(_evidence([_peer(PRODUCER, "probes")])) == []
    assert _fired(_evidence([_peer(PRODUCER, "image"), _peer(OTHER, "env")])) == []
    assert _fired(_evidence([_peer(PRODUCER, "image")], [_lag(80000, 80100)])) == []
    flat = [_lag(), _input_rate(10, 11)]
    assert _fired(_evidence([_peer(PRODUCER, "image")], flat)) == []
    own = [make.rollout_change(CONSUMER, 30, "image", minutes_ago=30)]
    assert _fired(_evidence([_peer(PRODUCER, "image")], own=own)) == []
    undecodable = make.log(
        "reserver-6c8d-x2x9k",
        "app",
        "Caused by: org.apache.kafka.common.errors.SerializationException: Unknown magic byte!",
        namespace="stock",
    )
    assert _fired(_evidence([_peer(PRODUCER, "image")], logs=[undecodable])) == []
    assert _fired(
        _evidence(
            [_peer(PRODUCER, "image")],
            logs=[make.log("reserver-6c8d-x2x9k", "app", "ERROR timeout", namespace="stock")],
        )
    )
