"""Checks how the resource-saturation rule tells demand from what only looks like it: an
autoscaler at its maximum whose pods are heavily CPU-throttled (the throttling rule leads), or
that scaled up in the window while the request rate stayed flat and calls to a dependency time
out (the dependency leads), or that reports its desired count within range while nothing
says demand presses (no saturation); replicas cut by hand (a replicas series or the deployment
controller's event) while the service got slower (scale back), and the near misses: a cut that
followed falling demand, a rolling update's old ReplicaSet scaled down, an autoscaler's own
scale-down; an autoscaler that cannot read its metric while latency rose (scale out by hand),
and a client connection pool exhausted (Npgsql, SQLAlchemy) while CPU doubled with no limit.
Also the CFS ratio reading shared by both rules and the pool-in-use queries.

Everything is real: Evidence models from ``tests.support.evidence``, ``run_analyzers`` and the
query templates.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from kubetriage.analyzers.cfs import throttle_ratios
from kubetriage.evidence.queries import Scope, select_queries
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import AlertEvidence, Evidence
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
PRICING = ObjectRef(kind="Service", namespace="pricing", name="pricing")


def _hpa(replicas: int = 4, max_replicas: int = 4) -> AutoscalerEvidence:
    """The checkout HPA at ``replicas``; at its maximum it reports ScalingLimited."""
    return autoscalers.hpa(
        CHECKOUT, current=replicas, maximum=max_replicas, limited=replicas >= max_replicas
    )


def _pods(count: int, cpu_limit: str | None = None) -> list[object]:
    limits = {"cpu": cpu_limit} if cpu_limit else {}
    return [
        make.pod(f"checkout-7d9f6c8b5-p{i}", make.container("app", limits=limits))
        for i in range(count)
    ]


def _throttled(share: float) -> MetricSummary:
    return make.metric(
        'sum by (pod, container) (rate(container_cpu_cfs_throttled_periods_total{container="app"}'
        '[5m])) / sum by (pod, container) (rate(container_cpu_cfs_periods_total{container="app"}'
        "[5m]))",
        name="cpu_throttled_ratio",
        first=share / 2,
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


def _latency(first: float, last: float) -> MetricSummary:
    return make.metric(
        "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket"
        '{namespace="shop",job=~"(.+/)?checkout"}[5m])))',
        name="http_latency_p99_seconds",
        first=first,
        last=last,
        trend="rising",
    )


def _scaled(minutes_ago: float) -> ChangeEvidence:
    return ChangeEvidence(
        at=make.ago(minutes_ago),
        kind="scaling",
        object=HPA,
        aspects=["replicas"],
        details=["New size: 4; reason: pods metric http_requests_in_flight above target"],
    )


def test_hpa_at_max_with_heavily_throttled_pods_leads_to_more_cpu() -> None:
    ev = make.evidence(
        workload=make.deployment(
            replicas=4, containers=[make.container("app", limits={"cpu": "1"})]
        ),
        pods=_pods(4, "1"),
        autoscalers=[_hpa()],
        metrics=[_throttled(0.58), _request_rate(1450, 1650)],
    )
    result = analyze(ev)
    assert_leads(result, Category.CPU_THROTTLING, Action.INCREASE_CPU, CHECKOUT)
    (saturation,) = by_category(result, Category.RESOURCE_SATURATION)
    assert saturation.confidence < 0.7
    assert any("58% of CFS periods throttled" in e.fact for e in saturation.evidence)


@pytest.mark.parametrize("share", [0.1, 0.7])
def test_hpa_at_max_with_much_more_traffic_stays_saturation_throttled_or_not(share: float) -> None:
    # Demand 2.6x: the pods are throttled because of the load, not short because of the limit.
    ev = make.evidence(
        workload=make.deployment(replicas=4),
        pods=_pods(4, "1"),
        autoscalers=[_hpa()],
        metrics=[_throttled(share), _request_rate(100, 260)],
        changes=[_scaled(20)],
    )
    finding = assert_leads(analyze(ev), Category.RESOURCE_SATURATION, Action.SCALE_OUT, CHECKOUT)
    assert finding.confidence >= 0.85


def test_hpa_scaled_up_at_flat_traffic_while_calls_time_out_leads_to_the_dependency() -> None:
    line = (
        '{"level":50,"err":{"type":"AxiosError","message":"timeout of 3000ms exceeded",'
        '"code":"ECONNABORTED"},"url":"http://pricing.pricing.svc.cluster.local:8080/v2/price",'
        '"msg":"pricing request failed"}'
    )
    ev = make.evidence(
        workload=make.deployment(replicas=4),
        pods=_pods(4),
        autoscalers=[_hpa()],
        metrics=[_request_rate(240, 242)],
        changes=[_scaled(17)],
        logs=[make.log("checkout-7d9f6c8b5-p0", "app", line)],
    )
    result = analyze(ev)
    leader = result.findings[0]
    assert leader.category is Category.DEPENDENCY_FAILURE
    assert (leader.action, leader.target) == (Action.ESCALATE, PRICING)
    (saturation,) = by_category(result, Category.RESOURCE_SATURATION)
    assert saturation.confidence < 0.7
    assert any(e.fact.startswith("http_request_rate: 240") for e in saturation.evidence)


def test_hpa_at_max_all_along_at_flat_traffic_stays_saturation() -> None:
    # No scaling in the window: it has been at its maximum all along; flat demand that it
    # cannot serve is still too little capacity.
    ev = make.evidence(
        workload=make.deployment(replicas=4),
        pods=_pods(4),
        autoscalers=[_hpa()],
        metrics=[_request_rate(240, 242)],
    )
    finding = assert_leads(analyze(ev), Category.RESOURCE_SATURATION, Action.SCALE_OUT, CHECKOUT)
    assert finding.confidence >= 0.85


def _at_max_within_range(p99_last: float, *alerts: AlertEvidence) -> Evidence:
    """Checkout at its HPA's maximum of 4, which a schedule or floor asked for exactly (its
    desired count within range), at flat traffic, its p99 latency from 0.2s to ``p99_last``."""
    return make.evidence(
        workload=make.deployment(replicas=4),
        pods=_pods(4),
        autoscalers=[_hpa().model_copy(update={"conditions": [autoscalers.IN_RANGE]})],
        metrics=[_request_rate(240, 250), _latency(0.2, p99_last)],
        alerts=list(alerts),
    )


def test_hpa_at_max_within_range_with_no_demand_pressure_is_no_saturation() -> None:
    # Its metrics ask for no more than its maximum, traffic is flat and nothing is slower:
    # a schedule or its floor put it there, and KubeHpaMaxedOut alone is no saturation.
    maxed_out = make.alert(alertname="KubeHpaMaxedOut", horizontalpodautoscaler="checkout")
    assert not by_category(
        analyze(_at_max_within_range(0.21, maxed_out)), Category.RESOURCE_SATURATION
    )


def test_hpa_at_max_within_range_while_latency_rose_stays_saturation() -> None:
    ev = _at_max_within_range(0.9)
    assert_leads(analyze(ev), Category.RESOURCE_SATURATION, Action.SCALE_OUT, CHECKOUT)


def _desired(first: float, last: float) -> MetricSummary:
    return make.metric(
        'max(kube_deployment_spec_replicas{namespace="shop",deployment="checkout"})',
        name="deployment_replicas_desired",
        first=first,
        last=last,
    )


def test_replicas_cut_by_hand_while_latency_rose_scales_back() -> None:
    ev = make.evidence(
        workload=make.deployment(replicas=2),
        pods=_pods(2),
        metrics=[_desired(6, 2), _request_rate(900, 915), _latency(0.08, 2.4)],
    )
    finding = assert_leads(analyze(ev), Category.RESOURCE_SATURATION, Action.SCALE_OUT, CHECKOUT)
    assert finding.params == {"replicas": "6"}
    assert "from 6 to 2 replicas" in finding.summary


@pytest.mark.parametrize(
    ("message", "replicas", "cut"),
    [
        ("Scaled down replica set checkout-7d9f6c8b5 from 6 to 2", 2, True),
        # A rolling update scales the old ReplicaSet down: no capacity was cut.
        ("Scaled down replica set checkout-5c6d7e8f9 from 3 to 0", 3, False),
    ],
)
def test_a_scale_down_event_is_a_cut_only_for_the_current_replica_count(
    message: str, replicas: int, cut: bool
) -> None:
    event = make.event("ScalingReplicaSet", message, name="checkout", kind="Deployment")
    ev = make.evidence(
        workload=make.deployment(replicas=replicas),
        pods=_pods(replicas),
        events=[event],
        metrics=[_latency(0.08, 2.4)],
    )
    result = analyze(ev)
    if cut:
        finding = assert_leads(result, Category.RESOURCE_SATURATION, Action.SCALE_OUT, CHECKOUT)
        assert finding.params == {"replicas": "6"}
    else:
        assert by_category(result, Category.RESOURCE_SATURATION) == []


def test_a_cut_that_followed_falling_demand_is_not_saturation() -> None:
    ev = make.evidence(
        workload=make.deployment(replicas=2),
        pods=_pods(2),
        metrics=[_desired(6, 2), _request_rate(900, 280), _latency(0.08, 2.4)],
    )
    assert by_category(analyze(ev), Category.RESOURCE_SATURATION) == []


def test_an_autoscalers_own_scale_down_is_not_a_cut() -> None:
    hpa = _hpa(2, max_replicas=10)
    ev = make.evidence(
        workload=make.deployment(replicas=2),
        pods=_pods(2),
        autoscalers=[hpa],
        metrics=[_desired(6, 2), _request_rate(900, 910), _latency(0.08, 2.4)],
    )
    assert by_category(analyze(ev), Category.RESOURCE_SATURATION) == []


def test_throttle_ratios_read_counters_and_ratio_queries() -> None:
    counters = [
        make.metric(
            'container_cpu_cfs_throttled_periods_total{container="app"}',
            first=1000.0,
            last=1300.0,
            labels={"container": "app"},
        ),
        make.metric(
            'container_cpu_cfs_periods_total{container="app"}',
            first=5000.0,
            last=5600.0,
            labels={"container": "app"},
        ),
        make.metric(
            'sum(rate(container_cpu_cfs_throttled_periods_total{container="proxy"}[5m])) / '
            'sum(rate(container_cpu_cfs_periods_total{container="proxy"}[5m]))',
            name="cpu_throttled_ratio",
            last=0.7,
            labels={"container": "proxy"},
        ),
    ]
    ratios = throttle_ratios(make.evidence(metrics=counters))
    assert ratios == {"app": 0.5, "proxy": 0.7}


def test_pool_in_use_prometheus_net_and_mesh_queries_run_for_error_and_latency_alerts() -> None:
    scope = Scope(namespace="orders", job="order-api")
    window = timedelta(hours=1)
    names = {q.name for q in select_queries(scope, window, families=frozenset({"errors"}))}
    assert {
        "http_request_rate_received",
        "http_received_5xx_ratio",
        "tomcat_threads_busy_ratio",
        "hikaricp_connections_busy_ratio",
        "db_client_connections_busy_ratio",
        "istio_request_rate",
        "istio_latency_p99_milliseconds",
    } <= names
    restarts = {q.name for q in select_queries(scope, window, families=frozenset({"restarts"}))}
    assert "db_client_connections_busy_ratio" not in restarts


def test_evidence_without_metrics_has_no_ratios() -> None:
    assert throttle_ratios(make.evidence()) == {}


def _blind_hpa() -> AutoscalerEvidence:
    return autoscalers.hpa(
        CHECKOUT, current=3, minimum=3, maximum=15, conditions=[autoscalers.blind()]
    )


def test_an_autoscaler_that_cannot_read_its_metric_while_latency_rose_scales_out() -> None:
    ev = make.evidence(
        workload=make.deployment(replicas=3),
        pods=_pods(3),
        autoscalers=[_blind_hpa()],
        metrics=[_latency(0.08, 0.9)],
    )
    finding = assert_leads(analyze(ev), Category.RESOURCE_SATURATION, Action.SCALE_OUT, CHECKOUT)
    assert any("ScalingActive=False FailedGetResourceMetric" in e.fact for e in finding.evidence)


def test_a_blind_autoscaler_with_nothing_slower_is_no_saturation() -> None:
    ev = make.evidence(
        workload=make.deployment(replicas=3),
        pods=_pods(3),
        autoscalers=[_blind_hpa()],
        metrics=[_latency(0.08, 0.085)],
    )
    assert by_category(analyze(ev), Category.RESOURCE_SATURATION) == []


@pytest.mark.parametrize(
    "line",
    [
        "Npgsql.NpgsqlException (0x80004005): The connection pool has been exhausted, either "
        "raise 'Max Pool Size' (currently 30) or 'Timeout' (currently 15 seconds)",
        "sqlalchemy.exc.TimeoutError: QueuePool limit of size 5 overflow 10 reached, "
        "connection timed out, timeout 30.00",
    ],
)
def test_a_client_pool_exhausted_with_cpu_doubling_and_no_limit_is_saturation(line: str) -> None:
    cpu = make.metric(
        'sum by (pod, container) (rate(container_cpu_usage_seconds_total{container="app"}[5m]))',
        name="cpu_usage_cores",
        first=0.3,
        last=0.8,
        labels={"container": "app"},
    )
    ev = make.evidence(
        workload=make.deployment(replicas=2),
        pods=_pods(2),
        metrics=[cpu],
        logs=[make.log("checkout-7d9f6c8b5-p0", "app", line)],
    )
    assert_leads(analyze(ev), Category.RESOURCE_SATURATION, Action.SCALE_OUT, CHECKOUT)
