"""A summary's p99 (a gauge with a ``quantile`` label, as Go and Java clients and Micrometer
export it) is the service's latency when it has no histogram.

Real: the query templates (run by the real ``promtool test rules``) and ``analyzers.demand``
over metric summaries built with the test factories.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from kubetriage.analyzers.demand import is_traffic, measures_latency
from kubetriage.evidence.queries import build_scope, select_queries
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from tests.support import evidence as make
from tests.support.promtool_checks import assert_evaluates


def _latency_query() -> str:
    scope = build_scope(
        ObjectRef(kind="Namespace", name="shop"),
        [Alert(status="firing", labels={"alertname": "X", "namespace": "shop", "job": "cart"})],
    )
    queries = {q.name: q.promql for q in select_queries(scope, timedelta(minutes=66))}
    return queries["http_latency_p99_seconds"]


def test_the_latency_query_reads_a_summarys_p99_and_no_other_quantile(tmp_path: Path) -> None:
    series = [
        ('http_request_duration_seconds{namespace="shop",job="cart",quantile="0.99"}', "2.5x30"),
        # Near misses: the median of the same summary, the Go runtime's GC pause summary
        # (a duration, not the requests'), and another job's p99.
        ('http_request_duration_seconds{namespace="shop",job="cart",quantile="0.5"}', "0.1x30"),
        ('go_gc_duration_seconds{namespace="shop",job="cart",quantile="0.99"}', "9x30"),
        ('http_request_duration_seconds{namespace="shop",job="other",quantile="0.99"}', "7x30"),
    ]
    assert_evaluates(tmp_path, series, _latency_query(), 2.5)


def test_a_histogram_answers_before_a_summary(tmp_path: Path) -> None:
    bucket = 'http_request_duration_seconds_bucket{namespace="shop",job="cart",le="%s"}'
    series = [
        (bucket % "0.5", "0+60x30"),
        (bucket % "+Inf", "0+60x30"),
        ('http_server_requests_seconds{namespace="shop",job="cart",quantile="0.99"}', "3x30"),
    ]
    assert_evaluates(tmp_path, series, _latency_query(), 0.495)


def test_a_summarys_quantile_gauge_reads_as_latency() -> None:
    p99 = make.metric(
        'http_server_requests_seconds{namespace="shop",quantile="0.99"}',
        labels={"namespace": "shop", "quantile": "0.99"},
        first=0.4,
        last=2.9,
    )
    assert measures_latency(p99)
    assert not is_traffic(p99)
    # Near misses: the same summary's request count, and a quantile of something other than
    # the requests' time (the bytes of their responses).
    count = make.metric(
        'http_server_requests_seconds_count{namespace="shop"}', first=10.0, last=4000.0
    )
    size = make.metric(
        'http_server_response_size_bytes{namespace="shop",quantile="0.99"}',
        labels={"namespace": "shop", "quantile": "0.99"},
        first=800.0,
        last=2400.0,
    )
    assert not measures_latency(count)
    assert not measures_latency(size)
