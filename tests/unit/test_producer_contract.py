"""Checks the writers of what a consumer cannot decode and the producer-contract rule.

Evidence side (``kubetriage.evidence.topic_peers.undecodable_topics`` and the queue peers the
real builder keeps from them): a consumer whose own lines say it cannot decode a record
(a Kafka deserializer's exception, a protobuf parse error, an unknown schema magic byte) has
the topics its env configures as peers' topics, and the workloads naming them are its queue
peers whatever the alert names; an error of another kind, or no topic configured, gives none.
Analyzer side (``kubetriage.analyzers.producer_contract``): the one peer that rolled out a
change of what it does within the onset window is rolled back, above the consumer's own
crash; near misses: no decode failure in the consumer's lines, the consumer itself rolled
out, the peer rolled out long before or only changed probes, two peers rolled out.

Real: raw manifests, ``Alert`` models, the pure builder, Evidence models from
``tests.support.evidence`` and the whole analyzer registry.
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.producer_contract import CONFIDENCE, NAME
from kubetriage.evidence.topic_peers import undecodable_topics
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.incident import Alert
from kubetriage.models.neighbours import QueuePeerEvidence
from kubetriage.models.object_evidence import ChangeEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.built import built, deployment_manifest
from tests.support.evidence import analyze, assert_leads, named, naming

CONSUMER = ObjectRef(kind="Deployment", namespace="ledger", name="writer")
PRODUCER = ObjectRef(kind="Deployment", namespace="payments", name="gateway")
OTHER = ObjectRef(kind="Deployment", namespace="risk", name="scorer")
_CRASH = {"alertname": "KubePodCrashLooping", "namespace": "ledger", "pod": "writer-5d8f-x2x9k"}
_DECODE = (
    "org.apache.kafka.common.errors.RecordDeserializationException: Error deserializing VALUE "
    "for partition payments.settled-3 at offset 884\n"
    "Caused by: com.google.protobuf.InvalidProtocolBufferException: Protocol message tag had "
    "invalid wire type.\n"
)
_OTHER_ERROR = "ERROR fatal error in poll loop: connection to node 1 could not be established\n"


def _workload(name: str, namespace: str, **env: str) -> dict[str, Any]:
    container = {
        "name": "app",
        "image": f"registry.example/{name}:1",
        "env": [{"name": k, "value": v} for k, v in env.items()],
    }
    return deployment_manifest(name, namespace, container)


def test_a_decode_failure_names_the_topics_the_consumer_configures() -> None:
    configured = [
        (named("Deployment writer env KAFKA_TOPICS"), "payments.settled,payments.refunded"),
        (named("Deployment writer env KAFKA_BROKERS"), "kafka-0.kafka:9092"),
    ]
    lines = [(named("pod writer"), line) for line in _DECODE.splitlines()]
    assert undecodable_topics(lines, configured) == ["payments.settled", "payments.refunded"]
    other = [(named("pod writer"), _OTHER_ERROR.strip())]
    assert undecodable_topics(other, configured) == []
    assert undecodable_topics(lines, configured[1:]) == []


def _built(consumer_log: str) -> Evidence:
    objects = [
        _workload("writer", "ledger", KAFKA_TOPICS="payments.settled"),
        _workload("gateway", "payments", SETTLED_TOPIC="payments.settled"),
        _workload("audit", "payments", AUDIT_TOPIC="payments.settled-audit"),
    ]
    log = make.log("writer-5d8f-x2x9k", "app", consumer_log, namespace="ledger")
    return built(objects, CONSUMER, logs=[log], alerts=[Alert(labels=_CRASH)])


def test_the_builder_keeps_the_writers_of_an_undecodable_topic_as_queue_peers() -> None:
    evidence = _built(_DECODE)
    assert [(p.ref, p.queue, p.named_by) for p in evidence.queue_peers] == [
        (PRODUCER, "payments.settled", naming("Deployment gateway env SETTLED_TOPIC"))
    ]
    assert _built(_OTHER_ERROR).queue_peers == []


# --- the rule ----------------------------------------------------------------------------


def _peer(ref: ObjectRef, *aspects: str, minutes_ago: float = 29) -> QueuePeerEvidence:
    changes = [make.rollout_change(ref, 44, *aspects, minutes_ago=minutes_ago)] if aspects else []
    return QueuePeerEvidence(
        ref=ref,
        queue="payments.settled",
        named_by=naming("Deployment x env SETTLED_TOPIC"),
        changes=changes,
    )


def _evidence(
    peers: list[QueuePeerEvidence], log: str = _DECODE, own: list[ChangeEvidence] | None = None
) -> Evidence:
    pod = make.pod("writer-5d8f-x2x9k", make.crash_looping("app"), namespace="ledger")
    return make.evidence(
        target=CONSUMER,
        workload=make.deployment("writer", "ledger", replicas=2),
        alerts=[make.alert(**_CRASH)],
        pods=[pod],
        events=[
            make.event(
                "BackOff",
                "Back-off restarting failed container app",
                name="writer-5d8f-x2x9k",
                namespace="ledger",
                count=40,
            )
        ],
        logs=[make.log("writer-5d8f-x2x9k", "app", log, namespace="ledger")],
        queue_peers=peers,
        changes=own or [],
    )


def _fired(evidence: Evidence) -> list[object]:
    return [f for f in analyze(evidence).findings if f.analyzer == NAME]


def test_the_one_writer_that_rolled_out_before_the_decode_failures_is_rolled_back() -> None:
    result = analyze(_evidence([_peer(PRODUCER, "image"), _peer(OTHER)]))
    first = assert_leads(result, Category.BAD_ROLLOUT, Action.ROLLBACK, PRODUCER)
    assert (first.analyzer, first.confidence) == (NAME, CONFIDENCE)


def test_silent_when_the_writers_release_cannot_explain_the_failures() -> None:
    assert _fired(_evidence([_peer(PRODUCER, "image")], log=_OTHER_ERROR)) == []
    assert _fired(_evidence([_peer(PRODUCER, "image", minutes_ago=60 * 30)])) == []
    assert _fired(_evidence([_peer(PRODUCER, "probes")])) == []
    assert _fired(_evidence([_peer(PRODUCER, "image"), _peer(OTHER, "env")])) == []
    own = [make.rollout_change(CONSUMER, 12, "image", minutes_ago=30)]
    assert _fired(_evidence([_peer(PRODUCER, "image")], own=own)) == []
