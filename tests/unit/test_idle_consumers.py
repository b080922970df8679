"""Checks the idle-consumer rule: a backlog alert on a broker's queue whose backlog grows while
the one caller of that broker set to zero replicas runs no pod names that caller (scale-out
on it, not on the broker), surer when the broker counts no consumer of the queue any more;
and the builder records a caller's replicas. Near misses: a queue whose backlog does not grow
(a consumer asleep over a quiet queue), a consumer that runs, two callers at zero (which one
consumes is unknown).

Real: Evidence models from ``tests.support.evidence``, ``run_analyzers`` and
``build_evidence`` over raw manifests; names and numbers are synthetic.
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.idle_consumers import CONFIDENCE, NAME
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.neighbours import CallerEvidence
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.models.vocabulary import Action, Category
from tests.support.built import built, deployment_manifest, service_manifest
from tests.support.evidence import alert, analyze, assert_leads, evidence, metric, naming

BROKER = ObjectRef(kind="StatefulSet", namespace="shop", name="rabbitmq")
BROKER_SERVICE = ObjectRef(kind="Service", namespace="shop", name="rabbitmq")
CONSUMER = ObjectRef(kind="Deployment", namespace="shop", name="queue-master")
PRODUCER = ObjectRef(kind="Deployment", namespace="shop", name="shipping")


def _caller(ref: ObjectRef, replicas: int) -> CallerEvidence:
    return CallerEvidence(
        ref=ref,
        callee=BROKER_SERVICE,
        named_by=naming(f"Deployment {ref.name} env SPRING_RABBITMQ_HOST"),
        replicas=replicas,
    )


def _ready(first: float, last: float) -> MetricSummary:
    return metric(
        'sum by (queue) (rabbitmq_queue_messages_ready{namespace="shop"})',
        name="queue_messages_ready",
        first=first,
        last=last,
        labels={"queue": "shipping-task"},
    )


def _consumers(before: float, last: float) -> MetricSummary:
    return metric(
        'sum by (queue) (rabbitmq_queue_consumers{namespace="shop"})',
        name="queue_consumers",
        first=before,
        last=last,
        labels={"queue": "shipping-task"},
    )


def _backlog(*callers: CallerEvidence, metrics: list[MetricSummary] | None = None) -> Evidence:
    return evidence(
        target=BROKER,
        alerts=[alert(alertname="QueueBacklogGrowing", namespace="shop", queue="shipping-task")],
        callers=list(callers) or [_caller(CONSUMER, 0), _caller(PRODUCER, 2)],
        metrics=[_ready(2, 1200), _consumers(2, 0)] if metrics is None else metrics,
    )


def test_the_caller_scaled_to_zero_is_the_consumer_to_scale_back() -> None:
    finding = assert_leads(
        analyze(_backlog()), Category.RESOURCE_SATURATION, Action.SCALE_OUT, CONSUMER
    )
    assert finding.analyzer == NAME
    assert finding.confidence == CONFIDENCE.scaled_to_zero + CONFIDENCE.consumers_gone_bonus
    assert finding.params["replicas"] == "2"  # the consumers the broker counted before
    assert any("replicas 0" in e.fact for e in finding.evidence)


def test_without_the_brokers_consumer_count_it_is_less_sure() -> None:
    finding = assert_leads(
        analyze(_backlog(metrics=[_ready(2, 1200)])),
        Category.RESOURCE_SATURATION,
        Action.SCALE_OUT,
        CONSUMER,
    )
    assert finding.confidence == CONFIDENCE.scaled_to_zero
    assert finding.params["replicas"] == "1"


def _idle(ev: Evidence) -> list[str]:
    return [f.target.name for f in analyze(ev).findings if f.analyzer == NAME]


def test_a_quiet_queue_is_no_sign_of_a_missing_consumer() -> None:
    assert _idle(_backlog(metrics=[_ready(0, 0), _consumers(2, 0)])) == []


def test_a_consumer_that_runs_is_not_idle() -> None:
    assert _idle(_backlog(_caller(CONSUMER, 2), _caller(PRODUCER, 2))) == []


def test_two_callers_at_zero_leave_the_consumer_unknown() -> None:
    assert _idle(_backlog(_caller(CONSUMER, 0), _caller(PRODUCER, 0))) == []


def test_the_builder_records_a_callers_replicas() -> None:
    objects: list[dict[str, Any]] = [
        service_manifest("rabbitmq", "shop", {"app": "rabbitmq"}, port=5672, target_port=5672),
        *(
            deployment_manifest(
                name,
                "shop",
                {
                    "name": name,
                    "image": f"{name}:1",
                    "env": [{"name": "AMQP_HOST", "value": "rabbitmq"}],
                },
                replicas=replicas,
            )
            for name, replicas in (("queue-master", 0), ("shipping", 2))
        ),
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "rabbitmq", "namespace": "shop", "uid": "rabbitmq-uid"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "rabbitmq"}},
                "template": {
                    "metadata": {"labels": {"app": "rabbitmq"}},
                    "spec": {"containers": [{"name": "rabbitmq", "image": "rabbitmq:3"}]},
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "rabbitmq-0",
                "namespace": "shop",
                "labels": {"app": "rabbitmq"},
                "ownerReferences": [
                    {
                        "kind": "StatefulSet",
                        "name": "rabbitmq",
                        "uid": "rabbitmq-uid",
                        "controller": True,
                    }
                ],
            },
            "spec": {"containers": [{"name": "rabbitmq", "image": "rabbitmq:3"}]},
            "status": {"phase": "Running"},
        },
    ]
    callers = {c.ref.name: c.replicas for c in built(objects, BROKER).callers}
    assert callers == {"queue-master": 0, "shipping": 2}
