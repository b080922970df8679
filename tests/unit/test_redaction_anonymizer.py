"""Checks the reversible ``Anonymizer``: names out, placeholders in, and back again.

Real Evidence models; the round trip is checked on the whole JSON dump, and Hypothesis checks
it on arbitrary text mixing real names with placeholder-like tokens. No mocks.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from kubetriage.models.base import ObjectRef
from kubetriage.models.controllers import ScalerEvidence, SecretWriterEvidence
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.object_evidence import (
    ContainerEvidence,
    EventEvidence,
    LogTail,
    NodeEvidence,
    PodEvidence,
    RevisionEvidence,
    ServiceEvidence,
    WorkloadEvidence,
)
from kubetriage.models.relations import DependencyEvidence
from kubetriage.redaction import Anonymizer

COLLECTED = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def _pod(name: str, owner: str | None, node: str) -> PodEvidence:
    return PodEvidence(
        name=name,
        namespace="shop",
        node=node,
        owner=ObjectRef(kind="ReplicaSet", name=owner, namespace="shop") if owner else None,
        labels={"app": "checkout"},
        containers=[ContainerEvidence(name="checkout", image="ghcr.io/example-org/checkout:1.4")],
    )


def _evidence(node: str = "worker-a") -> Evidence:
    pod_name = "checkout-7d9f6c-x2x9k"
    return Evidence(
        collected_at=COLLECTED,
        title="checkout crash-looping in shop",
        alerts=[
            AlertEvidence(
                labels={"alertname": "KubePodCrashLooping", "namespace": "shop", "pod": pod_name}
            )
        ],
        target=ObjectRef(kind="Deployment", name="checkout", namespace="shop"),
        workload=WorkloadEvidence(
            ref=ObjectRef(kind="Deployment", name="checkout", namespace="shop")
        ),
        pods=[_pod(pod_name, "checkout-7d9f6c", node), _pod("debug-shell", None, node)],
        nodes=[NodeEvidence(name=node, ready="True", labels={"kubernetes.io/hostname": node})],
        revisions=[RevisionEvidence(name="checkout-7d9f6c", revision=3, current=True)],
        events=[
            EventEvidence(
                type="Warning",
                reason="BackOff",
                message=f"Back-off restarting failed container checkout in pod {pod_name}",
                involved=ObjectRef(kind="Pod", name=pod_name, namespace="shop"),
                source="default-scheduler",
            )
        ],
        logs=[
            LogTail(
                namespace="shop",
                pod=pod_name,
                container="checkout",
                lines=["GET http://checkout.shop.svc:8080 -> 503", "shopping cart empty"],
            )
        ],
        config_maps={"checkout-config": ["app.yaml"]},
    )


def _tokens(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z0-9_]+(?:-[A-Za-z0-9_]+)*", text))


def test_names_are_replaced_with_stable_placeholders() -> None:
    anonymizer = Anonymizer()
    original = _evidence()

    anonymized = anonymizer.anonymize_evidence(original)

    assert anonymized.target == ObjectRef(kind="Deployment", name="workload-1", namespace="ns-1")
    assert anonymized.pods[0].name == "workload-1-7d9f6c-x2x9k"
    assert anonymized.pods[0].owner == ObjectRef(
        kind="ReplicaSet", name="workload-1-7d9f6c", namespace="ns-1"
    )
    assert anonymized.pods[0].node == "node-1"
    assert anonymized.pods[1].name == "pod-1"
    assert anonymized.revisions[0].name == "workload-1-7d9f6c"
    assert anonymized.logs[0].lines == [
        "GET http://workload-1.ns-1.svc:8080 -> 503",
        "shopping cart empty",  # "shop" inside a word is not the namespace
    ]
    assert anonymized.alerts[0].labels["pod"] == "workload-1-7d9f6c-x2x9k"
    assert anonymized.config_maps == {"workload-1-config": ["app.yaml"]}
    assert anonymized.title == "workload-1 crash-looping in ns-1"
    tokens = _tokens(anonymized.model_dump_json())
    assert not tokens & {"checkout", "shop", "worker-a", "debug-shell"}
    assert anonymizer.mapping == {
        "workload-1": "checkout",
        "pod-1": "debug-shell",
        "node-1": "worker-a",
        "ns-1": "shop",
    }
    # Learning the same evidence again keeps the same placeholders.
    assert anonymizer.anonymize_evidence(original) == anonymized


def test_round_trip_restores_every_string() -> None:
    anonymizer = Anonymizer()
    original = _evidence()

    anonymized = anonymizer.anonymize_evidence(original)

    assert anonymizer.restore_text(anonymized.model_dump_json()) == original.model_dump_json()
    assert anonymizer.restore_model(anonymized) == original
    assert anonymized.target is not None
    assert anonymizer.restore_ref(anonymized.target) == original.target
    answer = "Roll back workload-1 in ns-1; pod workload-1-7d9f6c-x2x9k on node-1 is OOMKilled."
    assert anonymizer.restore_text(answer) == (
        "Roll back checkout in shop; pod checkout-7d9f6c-x2x9k on worker-a is OOMKilled."
    )


def test_a_dependencys_log_tail_is_anonymized_like_the_incidents_own() -> None:
    anonymizer = Anonymizer()
    callee = LogTail(
        namespace="ledger",
        pod="ledger-db-0",
        container="postgres",
        lines=['FATAL:  database "ledger" does not exist', "ledger-db-0 ready"],
    )
    original = _evidence().model_copy(
        update={
            "dependencies": [
                DependencyEvidence(
                    service=ServiceEvidence(name="ledger-db", namespace="ledger"),
                    logs=[callee],
                )
            ]
        }
    )

    anonymized = anonymizer.anonymize_evidence(original)

    tail = anonymized.dependencies[0].logs[0]
    assert (tail.namespace, tail.pod) == ("ns-2", "pod-2")
    assert tail.lines == ['FATAL:  database "ns-2" does not exist', "pod-2 ready"]
    assert anonymized.dependencies[0].service == ServiceEvidence(name="ledger-db", namespace="ns-2")
    assert anonymizer.restore_model(anonymized) == original


def test_placeholders_never_collide_with_text_already_in_the_evidence() -> None:
    # A real node called "node-1" must not be confused with a placeholder.
    anonymizer = Anonymizer()
    original = _evidence(node="node-1")

    anonymized = anonymizer.anonymize_evidence(original)

    assert anonymized.pods[0].node == "node-2"
    assert anonymizer.mapping["node-2"] == "node-1"
    assert "node-1" not in anonymizer.mapping
    assert anonymizer.restore_model(anonymized) == original


def test_namespace_fields_keep_their_own_placeholder_when_names_are_shared() -> None:
    anonymizer = Anonymizer()
    original = Evidence(
        collected_at=COLLECTED,
        target=ObjectRef(kind="Deployment", name="payments", namespace="payments"),
    )

    anonymized = anonymizer.anonymize_evidence(original)

    assert anonymized.target == ObjectRef(kind="Deployment", name="workload-1", namespace="ns-1")
    assert anonymizer.restore_model(anonymized) == original


def test_an_empty_anonymizer_changes_nothing() -> None:
    anonymizer = Anonymizer()
    assert anonymizer.restore_text("workload-1 in ns-1") == "workload-1 in ns-1"
    assert anonymizer.anonymize_text("checkout") == "checkout"


_NAMES = ["checkout", "shop", "worker-a", "debug-shell", "checkout-7d9f6c-x2x9k"]
_NOISE = ["workload-", "ns-1", "-", ".", " ", "/", "0", "1", "pod-", "node-", "x", "\n", "_"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_NAMES + _NOISE), st.text(max_size=4)), max_size=25))
def test_any_text_survives_the_round_trip(parts: list[str]) -> None:
    text = "".join(parts)
    anonymizer = Anonymizer()
    carrier = _evidence().model_copy(update={"description": text})

    anonymized = anonymizer.anonymize_evidence(carrier)

    assert anonymized.description is not None
    assert anonymizer.restore_text(anonymized.description) == text
    assert anonymizer.restore_model(anonymized) == carrier


def test_scalers_and_secret_writers_are_anonymized_and_restored() -> None:
    anonymizer = Anonymizer()
    original = _evidence().model_copy(
        update={
            "scalers": [
                ScalerEvidence(
                    ref=ObjectRef(kind="ScaledObject", namespace="shop", name="checkout"),
                    trigger="rabbitmq",
                    hosts=["rabbitmq.messaging.svc:5672"],
                    reader_namespace="keda",
                    source=ObjectRef(kind="Service", namespace="messaging", name="rabbitmq"),
                )
            ],
            "secret_writers": [
                SecretWriterEvidence(
                    secret=ObjectRef(kind="Secret", namespace="shop", name="checkout-db"),
                    writer=ObjectRef(kind="KafkaUser", namespace="streaming", name="checkout"),
                    how="writes its credentials to",
                    controller=ObjectRef(
                        kind="Deployment", namespace="streaming", name="strimzi-entity-operator"
                    ),
                )
            ],
        }
    )

    anonymized = anonymizer.anonymize_evidence(original)
    text = anonymized.model_dump_json()
    for name in ("keda", "messaging", "streaming", "strimzi-entity-operator"):
        assert f'"{name}"' not in text
    assert anonymizer.restore_model(anonymized) == original
