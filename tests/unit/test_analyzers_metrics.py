"""Checks the metric-driven cpu-throttling analyzer: CFS counter deltas or ratio queries, the
latency boost, the CPUThrottlingHigh alert fallback, CPU usage pinned at the limit while a
latency alert fires (no throttling series), a called workload throttled while the caller's
calls to it fail (and its series never read as the caller's own), and cases that must not fire.

Everything is real: MetricSummary/Evidence models from ``tests.support.evidence`` and
``run_analyzers``.
"""

from __future__ import annotations

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import AutoscalerEvidence, MetricSummary, PodCondition
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import autoscalers
from tests.support import evidence as make
from tests.support.evidence import (
    CHECKOUT_POD,
    analyze,
    assert_leads,
    by_category,
    naming,
    top,
)

API = ObjectRef(kind="Deployment", namespace="shop", name="checkout")


def _counters(throttled: float, periods: float) -> list[object]:
    return [
        make.metric(
            'container_cpu_cfs_throttled_periods_total{namespace="shop",container="api"}',
            first=1000.0,
            last=1000.0 + throttled,
            labels={"container": "api"},
        ),
        make.metric(
            'container_cpu_cfs_periods_total{namespace="shop",container="api"}',
            first=5000.0,
            last=5000.0 + periods,
            labels={"container": "api"},
        ),
    ]


def _api(limit: str | None = "500m") -> list[object]:
    limits = {"cpu": limit} if limit else {}
    return [make.pod(CHECKOUT_POD, make.container("api", limits=limits))]


def _rising_p99() -> MetricSummary:
    return make.metric(
        "histogram_quantile(0.99, rate(http_request_duration_seconds_bucket[5m]))",
        name="latency_p99",
        first=0.15,
        last=0.9,
        trend="rising",
    )


def test_heavy_throttling_with_rising_latency_increases_cpu() -> None:
    latency = _rising_p99()
    ev = make.evidence(
        workload=make.deployment(),
        pods=_api(),
        metrics=[*_counters(throttled=1800, periods=3000), latency],
    )
    finding = assert_leads(analyze(ev), Category.CPU_THROTTLING, Action.INCREASE_CPU, API)
    assert finding.params == {"container": "api", "cpu": "1"}
    assert finding.confidence >= 0.8
    assert "60%" in finding.summary


def _autoscaler(*, reads_its_metric: bool) -> AutoscalerEvidence:
    """The checkout HPA at 3 of 3..12 replicas; blind when its ContainerResource metric names
    a container its pods do not have."""
    condition = (
        PodCondition(
            type="ScalingActive",
            status="True",
            reason="ValidMetricFound",
            message="the HPA was able to successfully calculate a replica count",
        )
        if reads_its_metric
        else autoscalers.blind(
            "FailedGetContainerResourceMetric",
            "the HPA was unable to compute the replica count: failed to get cpu "
            "utilization: unable to get metrics for resource cpu: failed to get container "
            "metrics: container app not present in metrics for pod shop/" + CHECKOUT_POD,
        )
    )
    return autoscalers.hpa(API, current=3, minimum=3, maximum=12, conditions=[condition])


def _throttled_under_autoscaler(*, reads_its_metric: bool) -> Evidence:
    return make.evidence(
        workload=make.deployment(replicas=3),
        pods=_api(),
        autoscalers=[_autoscaler(reads_its_metric=reads_its_metric)],
        metrics=[*_counters(throttled=1800, periods=3000), _rising_p99()],
    )


def test_throttling_under_an_autoscaler_that_cannot_read_its_metric_scales_out() -> None:
    # The autoscaler meant to add pods for this load cannot compute a replica count: the pods
    # are too few, not each too small.
    result = analyze(_throttled_under_autoscaler(reads_its_metric=False))
    leader = assert_leads(result, Category.RESOURCE_SATURATION, Action.SCALE_OUT, API)
    throttling = by_category(result, Category.CPU_THROTTLING)
    assert throttling
    assert throttling[0].confidence < leader.confidence
    assert any("FailedGetContainerResourceMetric" in e.fact for e in throttling[0].evidence)


def test_throttling_under_a_working_autoscaler_below_its_maximum_raises_the_limit() -> None:
    # Near miss: the autoscaler reads its metric and has room: the limit is what stalls it.
    result = analyze(_throttled_under_autoscaler(reads_its_metric=True))
    assert_leads(result, Category.CPU_THROTTLING, Action.INCREASE_CPU, API)


def test_ratio_query_is_read_directly() -> None:
    ratio = make.metric(
        'sum(rate(container_cpu_cfs_throttled_periods_total{container="api"}[5m])) / '
        'sum(rate(container_cpu_cfs_periods_total{container="api"}[5m]))',
        name="cpu_throttling_ratio",
        first=0.05,
        last=0.45,
        labels={"container": "api"},
    )
    finding = top(make.evidence(workload=make.deployment(), pods=_api("250m"), metrics=[ratio]))
    assert finding.category is Category.CPU_THROTTLING
    assert finding.params["cpu"] == "500m"
    assert finding.confidence < 0.8  # no latency evidence


def test_light_throttling_is_not_reported() -> None:
    ev = make.evidence(
        workload=make.deployment(), pods=_api(), metrics=_counters(throttled=60, periods=3000)
    )
    assert by_category(analyze(ev), Category.CPU_THROTTLING) == []


def test_container_without_cpu_limit_cannot_be_throttled() -> None:
    ev = make.evidence(
        workload=make.deployment(),
        pods=_api(limit=None),
        metrics=_counters(throttled=2000, periods=3000),
    )
    assert by_category(analyze(ev), Category.CPU_THROTTLING) == []


def test_cpu_throttling_alert_works_without_metrics() -> None:
    ev = make.evidence(
        alerts=[
            make.alert(
                alertname="CPUThrottlingHigh",
                namespace="shop",
                container="api",
                pod=CHECKOUT_POD,
            )
        ],
        workload=make.deployment(),
        pods=_api("2"),
    )
    finding = top(ev)
    assert finding.category is Category.CPU_THROTTLING
    assert finding.params == {"container": "api", "cpu": "4"}


def _usage(last: float) -> MetricSummary:
    """The api container's CPU usage rate, ending at ``last`` cores."""
    return make.metric(
        'sum by (pod, container) (rate(container_cpu_usage_seconds_total{container="api"}[5m]))',
        name="cpu_usage_cores",
        first=0.2,
        last=last,
        labels={"container": "api", "pod": CHECKOUT_POD},
    )


def _slow_api(usage: float, limit: str | None = "500m") -> Evidence:
    """The api container at ``usage`` cores, no throttling series, a latency alert firing."""
    return make.evidence(
        alerts=[make.alert(alertname="HighRequestLatency", namespace="shop", service="checkout")],
        workload=make.deployment(),
        pods=_api(limit),
        metrics=[_usage(usage)],
    )


def test_cpu_pinned_at_its_limit_while_a_latency_alert_fires_increases_cpu() -> None:
    # No throttling series was found: usage at the limit while it is slower is the quota.
    finding = assert_leads(
        analyze(_slow_api(0.49)), Category.CPU_THROTTLING, Action.INCREASE_CPU, API
    )
    assert finding.params == {"container": "api", "cpu": "1"}
    assert any(e.source == "alert" for e in finding.evidence)


def test_cpu_below_its_limit_or_without_one_is_not_called_throttling() -> None:
    # Near misses: headroom under the limit, or no limit at all, leave CPU quota out of it.
    assert not by_category(analyze(_slow_api(0.3)), Category.CPU_THROTTLING)
    assert not by_category(analyze(_slow_api(0.49, limit=None)), Category.CPU_THROTTLING)


def test_cpu_pinned_at_its_limit_with_no_sign_of_slowness_is_not_throttling() -> None:
    # Near miss: a busy container that serves as fast as ever is not held back by its quota.
    ev = make.evidence(workload=make.deployment(), pods=_api(), metrics=[_usage(0.49)])
    assert not by_category(analyze(ev), Category.CPU_THROTTLING)


PRICING = ObjectRef(kind="Deployment", namespace="pricing", name="pricing")


def _caller_of_pricing(share: float) -> Evidence:
    """checkout, healthy, whose calls to the pricing Service time out, with pricing followed
    and its container throttled in ``share`` of its CFS periods."""
    caller = make.container(
        "app", env={"PRICING_URL": "http://pricing.pricing.svc:8080"}, limits={"cpu": "500m"}
    )
    dep = DependencyEvidence(
        service=make.service("pricing", "pricing", ready=2, matching=2),
        named_by=naming("pod checkout env PRICING_URL"),
        workload=PRICING,
        desired_replicas=2,
        ready_replicas=2,
        pods=2,
    )
    return make.checkout_evidence(
        caller,
        logs=[
            make.checkout_log(
                "warn pricing call failed: context deadline exceeded "
                "url=http://pricing.pricing.svc:8080/v2/price\n"
                "error checkout failed: upstream pricing unavailable after 2 attempts (504)"
            )
        ],
        dependencies=[dep],
        metrics=[
            make.metric(
                "sum by (namespace, pod, container) (rate(container_cpu_cfs_throttled_periods_"
                'total{namespace=~"pricing"}[5m])) / sum by (namespace, pod, container) '
                '(rate(container_cpu_cfs_periods_total{namespace=~"pricing"}[5m]))',
                name="callee_cpu_throttled_ratio",
                first=0.02,
                last=share,
                labels={"namespace": "pricing", "pod": "pricing-7d9f6c-h4wtz", "container": "app"},
            )
        ],
    )


def test_a_throttled_callee_is_why_calls_to_it_time_out() -> None:
    finding = top(_caller_of_pricing(0.7))
    assert finding.category is Category.CPU_THROTTLING
    assert finding.action is Action.INCREASE_CPU
    assert finding.target == PRICING


def test_a_callee_barely_throttled_leaves_the_dependency_finding_in_front() -> None:
    # Near miss: the same calls fail, but the callee's quota hardly stalls it.
    ev = _caller_of_pricing(0.05)
    assert not by_category(analyze(ev), Category.CPU_THROTTLING)
    assert top(ev).category is Category.DEPENDENCY_FAILURE


def test_a_callees_throttling_is_not_read_as_the_callers_own() -> None:
    # The caller's container shares the callee's name; only the callee is throttled.
    ev = _caller_of_pricing(0.7).model_copy(update={"logs": []})
    assert not by_category(analyze(ev), Category.CPU_THROTTLING)


def _slower_caller_of_pricing(*, first: float, trend: str) -> Evidence:
    """The caller of pricing with no failing call in its logs, only slower (its p99 latency
    rose), while pricing's throttled share goes from ``first`` to 0.64 with ``trend``."""
    base = _caller_of_pricing(0.64)
    throttled = base.metrics[0].model_copy(update={"first": first, "trend": trend})
    latency = make.metric(
        "histogram_quantile(0.99, rate(http_request_duration_seconds_bucket[5m]))",
        name="latency_p99",
        first=0.2,
        last=3.9,
        trend="rising",
    )
    return base.model_copy(update={"logs": [], "metrics": [throttled, latency]})


def test_a_callee_whose_throttling_rose_is_why_its_slower_caller_is_slow() -> None:
    # No call fails: the caller's latency rose while its callee's quota began to stall it.
    finding = top(_slower_caller_of_pricing(first=0.02, trend="rising"))
    assert finding.category is Category.CPU_THROTTLING
    assert finding.action is Action.INCREASE_CPU
    assert finding.target == PRICING
    assert finding.narrative is not None
    assert "slower" in " ".join(c.text for c in finding.narrative.because)


def test_a_callee_always_throttled_is_no_reason_for_a_slower_caller() -> None:
    # Near miss: the callee was as throttled before the caller slowed down.
    ev = _slower_caller_of_pricing(first=0.6, trend="flat")
    assert not [f for f in by_category(analyze(ev), Category.CPU_THROTTLING) if f.target == PRICING]


CURRENCY = ObjectRef(kind="Deployment", namespace="shop", name="currency")


def _namespace_wide(share: float, frontend_container: str = "frontend") -> Evidence:
    """A latency alert that names no workload (an OpenTelemetry service_name): the namespace's
    pods, a frontend and the currency service it calls, and the namespace-wide throttling
    series, which names currency's pod."""
    frontend = make.pod(
        "frontend-6c9d8f7b5-q2x7k",
        make.container(frontend_container, limits={"cpu": "1"}),
        replica_set="frontend-6c9d8f7b5",
        labels={"app": "frontend"},
    )
    currency = make.pod(
        "currency-5f7c9d8b6-h4wtz",
        make.container("app", limits={"cpu": "100m"}),
        replica_set="currency-5f7c9d8b6",
        labels={"app": "currency"},
    )
    series = make.metric(
        "sum by (pod, container) (rate(container_cpu_cfs_throttled_periods_total"
        '{namespace="shop"}[5m])) / sum by (pod, container) '
        '(rate(container_cpu_cfs_periods_total{namespace="shop"}[5m]))',
        name="namespace_cpu_throttled_ratio",
        first=0.15,
        last=share,
        labels={"pod": "currency-5f7c9d8b6-h4wtz", "container": "app"},
    )
    return make.evidence(
        target=ObjectRef(kind="Namespace", name="shop"),
        alerts=[
            make.alert(
                alertname="FrontendLatencyP95High", namespace="shop", service_name="frontend"
            )
        ],
        pods=[frontend, currency],
        metrics=[series],
    )


def test_a_namespace_wide_latency_incident_finds_the_throttled_workload() -> None:
    finding = assert_leads(
        analyze(_namespace_wide(0.78)), Category.CPU_THROTTLING, Action.INCREASE_CPU, CURRENCY
    )
    assert finding.params == {"container": "app", "cpu": "200m"}
    assert "78%" in finding.summary


def test_a_namespace_container_barely_throttled_is_no_finding() -> None:
    assert not by_category(analyze(_namespace_wide(0.08)), Category.CPU_THROTTLING)


def test_namespace_throttling_is_read_per_pod_not_by_container_name() -> None:
    # Both workloads name their container "app"; only currency's pod is throttled.
    finding = top(_namespace_wide(0.78, frontend_container="app"))
    assert finding.category is Category.CPU_THROTTLING
    assert finding.target == CURRENCY
