"""A request counter split by response status is demand only in its successful series: the
series of a 5xx status (or a gRPC code other than OK) counts failures, whose rise is strain,
not traffic (``demand.counts_failures``, ``is_traffic``, ``strain_facts``). Near misses: a
2xx or 4xx series, a series with no status label, a gRPC OK series.

Real: the demand functions on MetricSummary models built by the shared factories.
"""

from __future__ import annotations

import pytest

from kubetriage.analyzers.demand import counts_failures, is_traffic, strain_facts, traffic_rose
from kubetriage.models.object_evidence import MetricSummary
from tests.support import evidence as make

QUERY = "ingress:nginx_ingress_controller_requests:rate1m"


def _rate(labels: dict[str, str], first: float, last: float) -> MetricSummary:
    return make.metric(QUERY, labels=labels, first=first, last=last)


@pytest.mark.parametrize(
    "labels",
    [
        {"status": "504"},
        {"code": "500"},
        {"code": "5xx"},
        {"http_response_status_code": "503"},
        {"grpc_code": "Unavailable"},
        {"grpc_status": "14"},
    ],
)
def test_a_series_of_server_errors_is_no_traffic(labels: dict[str, str]) -> None:
    metric = _rate({"ingress": "imgproxy", **labels}, 0.0, 14.0)
    assert counts_failures(metric)
    assert not is_traffic(metric)


@pytest.mark.parametrize(
    "labels",
    [{"status": "200"}, {"status": "429"}, {"code": "404"}, {}, {"grpc_code": "OK"}],
)
def test_a_series_of_answered_requests_is_traffic(labels: dict[str, str]) -> None:
    metric = _rate({"ingress": "imgproxy", **labels}, 310.0, 950.0)
    assert not counts_failures(metric)
    assert is_traffic(metric)


def test_only_the_5xx_series_rising_is_strain_not_demand() -> None:
    ok = _rate({"status": "200"}, 310.0, 320.0)
    failing = _rate({"status": "504"}, 1.0, 14.0)
    ev = make.evidence(metrics=[ok, failing])
    assert not traffic_rose(ev)
    assert [f.fact for f in strain_facts(ev)] == [f"{QUERY}: 1 -> 14"]
    # The same rise in the 200 series is demand, and no strain.
    grown = make.evidence(metrics=[_rate({"status": "200"}, 310.0, 950.0)])
    assert traffic_rose(grown)
    assert strain_facts(grown) == []
