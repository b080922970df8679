"""A request rate is demand only when some requests succeed: when every counted request failed
all window, its rate grows with the outage and its retries (``demand.traffic_rose``)."""

from __future__ import annotations

from kubetriage.analyzers.demand import only_failures_counted, traffic_rose
from tests.support import evidence as make

RATE = 'sum(rate(http_requests_total{namespace="shop",job=~"(.+/)?cart"}[5m]))'
RATIO = (
    'sum(rate(http_requests_total{namespace="shop",job=~"(.+/)?cart",code=~"5.."}[5m]))'
    ' / sum(rate(http_requests_total{namespace="shop",job=~"(.+/)?cart"}[5m]))'
)


def test_a_rate_that_only_counts_failures_is_no_demand() -> None:
    failing = make.metric(RATIO, name="http_5xx_ratio", first=1.0, last=1.0)
    ev = make.evidence(
        metrics=[make.metric(RATE, name="http_request_rate", first=1.0, last=20.0), failing]
    )
    assert only_failures_counted(ev)
    assert not traffic_rose(ev)


def test_a_rate_with_successes_in_it_is_demand() -> None:
    # Errors rose to nearly all requests, but some succeeded at first: the traffic counts.
    partly = make.metric(RATIO, name="http_5xx_ratio", first=0.01, last=0.97)
    ev = make.evidence(
        metrics=[make.metric(RATE, name="http_request_rate", first=1.0, last=20.0), partly]
    )
    assert not only_failures_counted(ev)
    assert traffic_rose(ev)
    assert traffic_rose(
        make.evidence(metrics=[make.metric(RATE, name="http_request_rate", first=1.0, last=20.0)])
    )
