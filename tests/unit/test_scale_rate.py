"""Checks the rate-limited autoscaler reasoning of the saturation rule (``analyzers.scale_rate``):
an HPA below its maximum that reports ``ScalingLimited=True ScaleUpLimit`` (its
``behavior.scaleUp`` policies add replicas more slowly than its metric asks) while traffic grew
and the service fails or is slower is short of replicas now: scale out, capped at its maximum.
Near misses: the same condition without more traffic, or without strain, and an autoscaler
whose ScalingLimited says it is within range. An HPA whose update of the scale the API server
refuses (``AbleToScale=False FailedUpdateScale``, an admission policy) while it desires more
replicas than run is short by its own measure, without a traffic series; near misses: the same
refusal when it desires no more, and with nothing strained.

Everything is real: AutoscalerEvidence/MetricSummary/Evidence models from
``tests.support.evidence`` and ``run_analyzers``; the condition message is the HPA
controller's own.
"""

from __future__ import annotations

from kubetriage.analyzers.scale_rate import (
    rate_limited_autoscaler,
    scale_up_limited,
    update_refused,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import AutoscalerEvidence, PodCondition
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, by_category

BFF = ObjectRef(kind="Deployment", namespace="shop", name="catalog-bff")
_RATE_MESSAGE = "the desired replica count is increasing faster than the maximum scale rate"


def _hpa(
    reason: str = "ScaleUpLimit", *, status: str = "True", current: int = 8
) -> AutoscalerEvidence:
    return AutoscalerEvidence(
        name="catalog-bff",
        namespace="shop",
        target=BFF,
        min_replicas=4,
        max_replicas=30,
        current_replicas=current,
        desired_replicas=current,
        conditions=[
            PodCondition(type="AbleToScale", status="True", reason=reason, message=_RATE_MESSAGE),
            PodCondition(
                type="ScalingLimited", status=status, reason=reason, message=_RATE_MESSAGE
            ),
        ],
        metrics=["cpu"],
    )


def _traffic(last: float) -> object:
    return make.metric(
        'sum(rate(nginx_ingress_controller_requests{exported_namespace="shop",'
        'exported_service=~"catalog-bff"}[5m]))',
        name="ingress_request_rate",
        first=350.0,
        last=last,
        trend="rising",
    )


def _bff(
    *, hpa: AutoscalerEvidence, traffic_last: float = 1700.0, alerted: bool = True
) -> Evidence:
    """catalog-bff, all pods ready, behind ingress-nginx whose request rate went from 350/s
    to ``traffic_last``, with its 5xx alert firing when ``alerted``."""
    alerts = [make.alert(alertname="NginxIngressHigh5xxRatio", namespace="shop")] if alerted else []
    return make.app_evidence(
        "catalog-bff-7c9d4b6f5-x2x9k",
        make.container("catalog-bff"),
        workload=make.deployment("catalog-bff", "shop"),
        autoscalers=[hpa],
        metrics=[_traffic(traffic_last)],
        alerts=alerts,
    )


def test_a_scale_up_policy_that_lags_a_surge_leaves_the_workload_short() -> None:
    result = analyze(_bff(hpa=_hpa()))
    finding = assert_leads(result, Category.RESOURCE_SATURATION, Action.SCALE_OUT, BFF)
    facts = " ".join(e.fact for e in finding.evidence)
    assert "ScaleUpLimit" in facts
    assert "x4.9" in facts
    # Never more than the autoscaler's maximum: it would take the extra replicas back.
    assert int(finding.params["replicas"]) <= 30


def test_the_same_condition_without_more_traffic_is_not_saturation() -> None:
    # Near miss: the policy limits a scale-up, but demand did not grow.
    ev = _bff(hpa=_hpa(), traffic_last=380.0)
    assert rate_limited_autoscaler(ev, BFF) == []


def test_more_traffic_the_service_absorbs_is_not_saturation() -> None:
    # Near miss: traffic grew and the policy lags, but nothing is slower or failing.
    ev = _bff(hpa=_hpa(), alerted=False)
    assert rate_limited_autoscaler(ev, BFF) == []
    assert not by_category(analyze(ev), Category.RESOURCE_SATURATION)


def test_only_the_scale_up_limit_reason_counts_and_not_at_the_maximum() -> None:
    assert scale_up_limited(_hpa()) is not None
    assert scale_up_limited(_hpa("DesiredWithinRange", status="False")) is None
    assert scale_up_limited(_hpa("TooFewReplicas")) is None
    # At its maximum, the saturation rule's own "at its maximum" reasoning speaks instead.
    assert scale_up_limited(_hpa(current=30)) is None


_REFUSED_MESSAGE = (
    "the HPA controller was unable to update the target scale: deployments.apps "
    "\"catalog-bff\" is forbidden: ValidatingAdmissionPolicy 'ceiling' with binding "
    "'ceiling-prod' denied request: too many replicas"
)


def _refused(*, desired: int = 12, current: int = 6) -> AutoscalerEvidence:
    """An HPA below its maximum whose update of the target's scale the API server refused."""
    return AutoscalerEvidence(
        name="catalog-bff",
        namespace="shop",
        target=BFF,
        min_replicas=3,
        max_replicas=30,
        current_replicas=current,
        desired_replicas=desired,
        conditions=[
            PodCondition(
                type="AbleToScale",
                status="False",
                reason="FailedUpdateScale",
                message=_REFUSED_MESSAGE,
            ),
            PodCondition(type="ScalingLimited", status="False", reason="DesiredWithinRange"),
        ],
        metrics=["cpu"],
    )


def _throttle_ratio(last: float) -> object:
    return make.metric(
        'sum(rate(container_cpu_cfs_throttled_periods_total{container="catalog-bff"}[5m])) / '
        'sum(rate(container_cpu_cfs_periods_total{container="catalog-bff"}[5m]))',
        name="cpu_throttling_ratio",
        first=0.05,
        last=last,
        labels={"container": "catalog-bff"},
    )


def _refused_bff(hpa: AutoscalerEvidence, *, throttled: float = 0.45) -> Evidence:
    """catalog-bff under a CPU-throttling alert, no traffic series, its autoscaler ``hpa``."""
    return make.app_evidence(
        "catalog-bff-7c9d4b6f5-x2x9k",
        make.container("catalog-bff", limits={"cpu": "1"}),
        workload=make.deployment("catalog-bff", "shop"),
        autoscalers=[hpa],
        metrics=[_throttle_ratio(throttled)],
        alerts=[make.alert(alertname="CPUThrottlingHigh", namespace="shop")],
    )


def test_a_refused_scale_up_leaves_the_workload_short_of_what_its_autoscaler_asks() -> None:
    # No traffic series at all: the autoscaler's own recommendation is the demand, the
    # throttled containers the strain; more replicas, not a higher CPU limit.
    result = analyze(_refused_bff(_refused()))
    finding = assert_leads(result, Category.RESOURCE_SATURATION, Action.SCALE_OUT, BFF)
    facts = " ".join(e.fact for e in finding.evidence)
    assert "FailedUpdateScale" in facts
    assert int(finding.params["replicas"]) >= 12


def test_a_refused_update_that_asks_for_no_more_replicas_is_not_saturation() -> None:
    # Near miss: the update was refused, but the autoscaler wants no more than run.
    assert update_refused(_refused(desired=6)) is None
    assert rate_limited_autoscaler(_refused_bff(_refused(desired=6)), BFF) == []


def test_a_refused_scale_up_with_nothing_strained_is_not_saturation() -> None:
    # Near miss: the scale-up is refused, but the containers are barely throttled and no
    # latency or error alert fires.
    ev = _refused_bff(_refused(), throttled=0.05)
    ev = ev.model_copy(update={"alerts": []})
    assert rate_limited_autoscaler(ev, BFF) == []
