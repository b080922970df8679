"""Requests counted as ``http_server_requests_total`` (the counter with the server side named)
are read like ``http_requests_total``: a request rate and a 5xx ratio are queried for an
error alert, and a service whose rate grew about threefold while its 5xx ratio climbed is
short of replicas even though its CPU (and so its CPU-based autoscaler) stays low. And an
autoscaler at its maximum whose own metric asks for no more than it runs
(``ScalingLimited=False``) is not read as short of replicas for traffic that grew alone:
its replicas absorb it, nothing is slower or failing.

Real: the query catalogue and the whole analyzer registry, run over Evidence models from the
shared factories. Synthetic: every object and series summary.
"""

from __future__ import annotations

from datetime import timedelta

from kubetriage.evidence.queries import Scope, select_queries
from kubetriage.models.base import ObjectRef
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.models.vocabulary import Action, Category
from tests.support import autoscalers
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, by_category

ROUTER = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
_JOB = '{namespace="shop",job=~"(.+/)?checkout"}'


def _rate(first: float, last: float) -> MetricSummary:
    return make.metric(
        f"sum(rate(http_server_requests_total{_JOB}[5m]))",
        name="http_server_request_rate",
        first=first,
        last=last,
        trend="rising",
    )


def _errors(first: float, last: float) -> MetricSummary:
    return make.metric(
        f'sum(rate(http_server_requests_total{{namespace="shop",code=~"5.."}}[5m])) / '
        f"sum(rate(http_server_requests_total{_JOB}[5m]))",
        name="http_server_requests_5xx_ratio",
        first=first,
        last=last,
        trend="rising",
    )


def test_rate_and_5xx_ratio_are_queried_for_an_error_alert() -> None:
    scope = Scope(namespace="ads", job="bid-router")
    names = {
        q.name for q in select_queries(scope, timedelta(hours=1), families=frozenset({"errors"}))
    }
    assert {"http_server_request_rate", "http_server_requests_5xx_ratio"} <= names


def test_rate_tripled_with_5xx_is_saturation_though_cpu_is_low() -> None:
    ev = make.evidence(
        workload=make.deployment(replicas=3),
        pods=[make.pod(f"checkout-7d9f6c8b5-p{i}", make.container("app")) for i in range(3)],
        metrics=[_rate(1000, 3100), _errors(0.001, 0.3)],
    )
    assert_leads(analyze(ev), Category.RESOURCE_SATURATION, Action.SCALE_OUT, ROUTER)


def _at_max_within_range(*metrics: MetricSummary) -> list[Category]:
    hpa = autoscalers.hpa(ROUTER, current=4, maximum=4, conditions=[autoscalers.IN_RANGE])
    ev = make.evidence(
        workload=make.deployment(replicas=4),
        pods=[make.pod(f"checkout-7d9f6c8b5-p{i}", make.container("app")) for i in range(4)],
        autoscalers=[hpa],
        metrics=list(metrics),
    )
    return [f.category for f in by_category(analyze(ev), Category.RESOURCE_SATURATION)]


def test_at_max_within_range_with_traffic_grown_alone_is_no_saturation() -> None:
    assert _at_max_within_range(_rate(300, 540), _errors(0.001, 0.001)) == []


def test_at_max_within_range_with_traffic_and_errors_up_stays_saturation() -> None:
    assert _at_max_within_range(_rate(300, 540), _errors(0.001, 0.2))
