"""An autoscaler at its maximum right after its replicas were cut (its maximum lowered by a
drain or standby runbook) while demand stayed: the few pods left are throttled and their
autoscaler rescaled down, yet neither doubts the saturation; the same load sits on fewer
pods. Near misses: throttled at its maximum with no cut (the limit caps it), and a cut that
followed demand falling as much (the throttling is the limit's)."""

from __future__ import annotations

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import (
    AutoscalerEvidence,
    ChangeEvidence,
    MetricSummary,
)
from kubetriage.models.vocabulary import Action, Category
from tests.support import autoscalers
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, by_category

CHECKOUT = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
HPA = ObjectRef(kind="HorizontalPodAutoscaler", namespace="shop", name="checkout")


def _hpa_at_two() -> AutoscalerEvidence:
    return autoscalers.hpa(CHECKOUT, current=2, minimum=1, maximum=2, limited=True)


def _throttled(share: float) -> MetricSummary:
    return make.metric(
        'sum by (pod, container) (rate(container_cpu_cfs_throttled_periods_total{container="app"}'
        '[5m])) / sum by (pod, container) (rate(container_cpu_cfs_periods_total{container="app"}'
        "[5m]))",
        name="cpu_throttled_ratio",
        first=share / 4,
        last=share,
        labels={"container": "app"},
    )


def _request_rate(first: float, last: float) -> MetricSummary:
    return make.metric(
        'sum(rate(http_requests_total{namespace="shop",job=~"(.+/)?checkout"}[5m]))',
        name="http_request_rate",
        first=first,
        last=last,
    )


def _rescaled() -> ChangeEvidence:
    return ChangeEvidence(
        at=make.ago(19),
        kind="scaling",
        object=HPA,
        aspects=["replicas"],
        details=["New size: 2; reason: Current number of replicas above Spec.MaxReplicas"],
    )


def _evidence(rate_last: float, *, cut: bool) -> Evidence:
    events = (
        [
            make.event(
                "ScalingReplicaSet",
                "Scaled down replica set checkout-7d9f6c8b5 from 9 to 2",
                name="checkout",
                kind="Deployment",
                type_="Normal",
            )
        ]
        if cut
        else []
    )
    return make.evidence(
        workload=make.deployment(
            replicas=2, containers=[make.container("app", limits={"cpu": "2"})]
        ),
        pods=[
            make.pod(f"checkout-7d9f6c8b5-p{i}", make.container("app", limits={"cpu": "2"}))
            for i in range(2)
        ],
        autoscalers=[_hpa_at_two()],
        events=events,
        changes=[_rescaled()] if cut else [],
        metrics=[_throttled(0.9), _request_rate(390, rate_last)],
    )


def test_maximum_lowered_while_demand_stayed_is_saturation_not_the_cpu_limit() -> None:
    # Replicas 9 -> 2 while the request rate fell only to a third: each pod carries more.
    finding = assert_leads(
        analyze(_evidence(130, cut=True)), Category.RESOURCE_SATURATION, Action.SCALE_OUT, CHECKOUT
    )
    assert finding.confidence >= 0.85


def test_throttled_at_its_maximum_with_no_cut_stays_the_cpu_limit() -> None:
    result = analyze(_evidence(385, cut=False))
    assert_leads(result, Category.CPU_THROTTLING, Action.INCREASE_CPU, CHECKOUT)
    (saturation,) = by_category(result, Category.RESOURCE_SATURATION)
    assert saturation.confidence < 0.7


def test_a_cut_that_followed_demand_falling_as_much_stays_the_cpu_limit() -> None:
    # Replicas 9 -> 2 and the request rate fell to a sixth: the cut followed demand.
    result = analyze(_evidence(65, cut=True))
    assert_leads(result, Category.CPU_THROTTLING, Action.INCREASE_CPU, CHECKOUT)
    assert all(f.confidence < 0.7 for f in by_category(result, Category.RESOURCE_SATURATION))
