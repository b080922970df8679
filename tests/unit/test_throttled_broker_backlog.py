"""Checks the callee-throttling rule for a consumer behind a throttled broker
(``analyzers.metrics.check_callee_throttling``): a backlog alert (the queue family) fires for
a consumer that is not throttled itself while the broker it reads from began to be heavily
throttled by its CPU limit in the window (its throttled share at least doubled, from below
half of its CFS periods to above): raise the broker's CPU limit. Near misses: a broker about
as throttled before as after, and one whose rise stays below heavy throttling.

Everything is real: DependencyEvidence/MetricSummary/Evidence models from
``tests.support.evidence`` and ``run_analyzers``.
"""

from __future__ import annotations

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, by_category, naming

BROKER = ObjectRef(kind="StatefulSet", namespace="messaging", name="rabbitmq")
CONSUMER = ObjectRef(kind="Deployment", namespace="orders", name="order-projector")


def _broker_share(first: float, last: float, trend: str = "rising") -> object:
    return make.metric(
        "sum by (namespace, pod, container) (rate(container_cpu_cfs_throttled_periods_"
        'total{namespace=~"messaging"}[5m])) / sum by (namespace, pod, container) '
        '(rate(container_cpu_cfs_periods_total{namespace=~"messaging"}[5m]))',
        name="callee_cpu_throttled_ratio",
        first=first,
        last=last,
        trend=trend,  # type: ignore[arg-type]
        labels={"namespace": "messaging", "pod": "rabbitmq-0", "container": "rabbitmq"},
    )


def _consumer(*metrics: object) -> Evidence:
    """order-projector, healthy and idle, consuming from the rabbitmq Service it names in
    its env, with a backlog alert firing for its queue."""
    consumer = make.container(
        "projector", env={"AMQP_URL": "amqp://rabbitmq.messaging.svc:5672/"}, limits={}
    )
    dep = DependencyEvidence(
        service=make.service("rabbitmq", "messaging", ready=3, matching=3),
        named_by=naming("pod order-projector env AMQP_URL"),
        workload=BROKER,
        desired_replicas=3,
        ready_replicas=3,
        pods=3,
    )
    return make.app_evidence(
        "order-projector-6d8f9c7b4-k2x8q",
        consumer,
        namespace="orders",
        workload=make.deployment("order-projector", "orders"),
        dependencies=[dep],
        metrics=list(metrics),
        alerts=[
            make.alert(
                alertname="RabbitMQQueueBacklogHigh", namespace="messaging", queue="order-events"
            )
        ],
    )


def test_a_backlog_behind_a_broker_that_began_to_be_heavily_throttled() -> None:
    # Throttled in 27% of its periods at the start of the window, 76% now.
    finding = assert_leads(
        analyze(_consumer(_broker_share(0.27, 0.76))),
        Category.CPU_THROTTLING,
        Action.INCREASE_CPU,
        BROKER,
    )
    assert finding.narrative is not None
    assert "backlog" in " ".join(c.text for c in finding.narrative.because)


def test_a_broker_as_throttled_before_is_no_reason_for_the_backlog() -> None:
    # Near miss: its share barely moved (60% -> 70%), so its quota is not what changed.
    ev = _consumer(_broker_share(0.6, 0.7, trend="flat"))
    assert not [f for f in by_category(analyze(ev), Category.CPU_THROTTLING) if f.target == BROKER]


def test_a_rise_that_stays_below_heavy_throttling_is_not_enough() -> None:
    # Near miss: from 27% to 45%, rising, but never heavily throttled.
    ev = _consumer(_broker_share(0.27, 0.45))
    assert not [f for f in by_category(analyze(ev), Category.CPU_THROTTLING) if f.target == BROKER]
