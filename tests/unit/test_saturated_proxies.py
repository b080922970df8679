"""Checks "the proxy in front of the workload runs out of CPU": the proxies of a Gateway or
Istio waypoint its traffic crosses (``Evidence.gateway_proxies``) are followed for their CPU
series like a called workload (``alerts_view.callee_workloads``); when they are throttled at
their CPU limit while the workload's own containers are not, the proxy is scaled out, above
the workload's own saturation reading. Near misses: a proxy throttled a little while far
below its limit, an unthrottled proxy, and a workload whose own containers are throttled.

Real: the analyzer registry over Evidence built with ``tests.support.evidence``.
"""

from __future__ import annotations

from kubetriage.models.alerts_view import callee_workloads
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.gateway_proxies import GatewayProxyEvidence
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make

WAYPOINT = ObjectRef(kind="Deployment", namespace="shop", name="waypoint")
POD = {"namespace": "shop", "pod": "waypoint-7b9c4d6f85-h3p8s"}


def _proxy() -> GatewayProxyEvidence:
    return GatewayProxyEvidence(
        gateway=ObjectRef(kind="Gateway", namespace="shop", name="waypoint"),
        route=ObjectRef(kind="Service", namespace="shop", name="checkout"),
        workload=WAYPOINT,
        pods=1,
        ready_pods=1,
        cpu_limits={"istio-proxy": 2.0},
    )


def _series(
    throttled: float, used: float, *, own_throttled: float | None = None
) -> list[MetricSummary]:
    series = [
        make.metric(
            "callee_cpu_throttled_ratio",
            last=throttled,
            first=0.0,
            trend="rising",
            labels={**POD, "container": "istio-proxy"},
        ),
        make.metric("callee_cpu_usage_cores", last=used, first=0.85, trend="rising", labels=POD),
        make.metric(
            'cpu_usage_cores{namespace="shop"}',
            name="cpu_usage_cores",
            last=0.3,
            first=0.1,
            trend="rising",
        ),
    ]
    if own_throttled is not None:
        series.append(
            make.metric(
                "container_cpu_cfs_throttled_periods_total_ratio",
                name="cpu_throttled_ratio",
                last=own_throttled,
                labels={"container": "app"},
                trend="rising",
            )
        )
    return series


def _evidence(throttled: float, used: float, own_throttled: float | None = None) -> Evidence:
    return make.checkout_evidence(
        gateway_proxies=[_proxy()],
        metrics=_series(throttled, used, own_throttled=own_throttled),
        alerts=[make.alert(alertname="CheckoutLatencyHigh", namespace="shop")],
    )


def _saturated(ev: Evidence) -> list[Finding]:
    return [f for f in make.analyze(ev).findings if f.analyzer == "saturated-proxy"]


def test_the_gateway_proxies_are_followed_for_their_cpu_series() -> None:
    ev = make.checkout_evidence(gateway_proxies=[_proxy()])
    assert WAYPOINT in callee_workloads(ev)


def test_a_proxy_pinned_at_its_cpu_limit_is_scaled_out() -> None:
    ev = _evidence(0.98, 1.97)
    first = make.assert_leads(
        make.analyze(ev),
        Category.RESOURCE_SATURATION,
        Action.SCALE_OUT,
        WAYPOINT,
    )
    assert first.analyzer == "saturated-proxy"
    assert first.params["replicas"] == "2"
    assert "2 CPU limit" in " ".join(e.fact for e in first.evidence)


def test_a_proxy_far_below_its_limit_or_unthrottled_or_a_throttled_workload_is_not() -> None:
    assert _saturated(_evidence(0.3, 0.6)) == []  # a little throttled, far below its limit
    assert _saturated(_evidence(0.02, 1.97)) == []  # at its limit but not throttled
    assert _saturated(_evidence(0.98, 1.97, own_throttled=0.6)) == []  # the workload's own
