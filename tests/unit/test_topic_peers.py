"""Checks the peers of a failing callee on the topics it configures: a followed callee whose
own log lines report an error without naming any Service (a request-reply over Kafka that gets
no reply) leads to the workloads whose pod templates name a topic its env configures (its own
workload excepted); a healthy callee, or one whose errors name a Service, does not; and a peer
found that way that rolled out right before the symptom and whose pods are down is rolled
back (``dependency-change``).

The builder tests use raw manifests, log tails and the real ``build_evidence``; the pure
helpers are called directly; the analyzer test uses synthetic Evidence and the real registry.
"""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.logs import tail_from_text
from kubetriage.evidence.topic_peers import callee_topics
from kubetriage.models.base import ObjectRef
from kubetriage.models.naming import NamingSource
from kubetriage.models.object_evidence import LogTail
from kubetriage.models.relations import DependencyEvidence, DependencyRoute, PodTrouble
from kubetriage.models.vocabulary import Action, Category
from tests.support.built import built, deployment_manifest
from tests.support.evidence import (
    ago,
    alert,
    analyze,
    app_evidence,
    assert_leads,
    named,
    naming,
    rollout_change,
    service,
)

LIMITS = EvidenceLimits()
WEB = ObjectRef(kind="Deployment", namespace="shop", name="web")
_NO_REPLY = "ERROR payment for order 7 got no reply on payment-replies within 10000 ms\n"


def _app(name: str, namespace: str, env: dict[str, str]) -> list[dict[str, Any]]:
    """Deployment, Service and one pod ``<namespace>/<name>`` (app=<name>)."""
    container = {
        "name": "c",
        "image": f"{name}:2",
        "env": [{"name": k, "value": v} for k, v in env.items()],
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{name}-5d8f7c9b46-abcde",
            "namespace": namespace,
            "labels": {"app": name, "pod-template-hash": "5d8f7c9b46"},
            "ownerReferences": [
                {"kind": "ReplicaSet", "name": f"{name}-5d8f7c9b46", "controller": True}
            ],
        },
        "spec": {"containers": [container]},
        "status": {"phase": "Running"},
    }
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": {"app": name}},
    }
    return [deployment_manifest(name, namespace, container), pod, svc]


def _objects() -> list[dict[str, Any]]:
    """web calls orders; orders sends payment requests to a topic that processor reads;
    indexer reads another topic."""
    return [
        *_app("web", "shop", {"ORDERS_URL": "http://orders.orders.svc.cluster.local:8080"}),
        *_app(
            "orders",
            "orders",
            {"PAYMENT_REQUEST_TOPIC": "payment-requests", "PAYMENT_REPLY_TOPIC": "payment-replies"},
        ),
        *_app("processor", "payments", {"REQUEST_TOPIC": "payment-requests"}),
        *_app("indexer", "search", {"KAFKA_TOPIC": "order-events"}),
    ]


def _tails(orders_said: str) -> list[LogTail]:
    web = "ERROR POST http://orders.orders.svc.cluster.local:8080/confirm failed: 500\n"
    return [
        tail_from_text("shop", "web-5d8f7c9b46-abcde", "c", web, limits=LIMITS),
        tail_from_text(
            "orders",
            "orders-5d8f7c9b46-abcde",
            "c",
            orders_said,
            limits=LIMITS,
            source="dependency",
        ),
    ]


def _followed(
    objects: list[dict[str, Any]], said: str
) -> list[tuple[str, str, list[NamingSource], list[DependencyRoute]]]:
    ev = built(objects, WEB, logs=_tails(said))
    return [
        (d.ref.kind, d.ref.name, d.named_by, d.routes) for d in ev.dependencies if d.ref is not None
    ]


def test_a_failing_callee_leads_to_its_peer_on_a_topic_it_configures() -> None:
    followed = _followed(_objects(), _NO_REPLY)
    assert [(kind, name) for kind, name, _, _ in followed] == [
        ("Service", "orders"),
        ("Deployment", "processor"),
    ]
    assert followed[1][2] == [named("topic payment-requests")]
    assert followed[1][3] == [DependencyRoute(kind="topic", topic="payment-requests")]
    assert followed[0][3] == []


def test_a_healthy_callees_topics_lead_nowhere() -> None:
    followed = _followed(_objects(), "INFO payment for order 7 authorised in 80 ms\n")
    assert [name for _, name, _, _ in followed] == ["orders"]


def test_a_callee_whose_errors_name_a_service_is_not_followed_by_its_topics() -> None:
    said = "ERROR session to ledger:5432 lost: connection reset by peer\n"
    followed = _followed([*_objects(), *_app("ledger", "orders", {})], said)
    assert [name for _, name, _, _ in followed] == ["orders", "ledger"]


def test_topics_are_read_only_from_vars_named_for_them() -> None:
    configured = [
        (named("pod a env PAYMENT_REQUEST_TOPIC"), "payment-requests"),
        (named("pod a env KAFKA_TOPICS"), "audit,ledger.events"),
        (named("pod a env JOBS_QUEUE_NAME"), "invoices"),
        (named("pod a env TOPIC_PREFIX"), "prod"),
        (named("pod a args"), "--topic=ignored"),
    ]
    lines = [(named("log a"), "ERROR request timed out")]
    assert callee_topics(lines, configured) == [
        "payment-requests",
        "audit",
        "ledger.events",
        "invoices",
    ]
    assert callee_topics([(named("log a"), "INFO ok")], configured) == []


def test_a_peer_on_the_callees_topic_released_right_before_is_rolled_back() -> None:
    processor = ObjectRef(kind="Deployment", namespace="payments", name="processor")
    peer = DependencyEvidence(
        ref=processor,
        named_by=naming("topic payment-requests"),
        routes=[DependencyRoute(kind="topic", topic="payment-requests")],
        workload=processor,
        desired_replicas=2,
        ready_replicas=0,
        pods=2,
        failing_pods=[
            PodTrouble(pod="processor-6b9d-x", container="c", waiting="CrashLoopBackOff")
        ],
        changes=[rollout_change(processor, 14, "image", minutes_ago=20)],
    )
    orders = DependencyEvidence(
        service=service("orders", "orders", ready=2, matching=2),
        named_by=naming("pod web-6d8f9c7b5-abcde env ORDERS_URL"),
        workload=ObjectRef(kind="Deployment", namespace="orders", name="orders"),
        desired_replicas=2,
        ready_replicas=2,
        pods=2,
    )
    ev = app_evidence(
        "web-6d8f9c7b5-abcde",
        logs=f"{ago(15):%Y-%m-%dT%H:%M:%SZ} ERROR POST /confirm: orders responded 500 timed out",
        dependencies=[orders, peer],
        alerts=[alert(alertname="WebConfirmErrors", namespace="shop")],
    )
    assert_leads(analyze(ev), Category.BAD_ROLLOUT, Action.ROLLBACK, processor)
