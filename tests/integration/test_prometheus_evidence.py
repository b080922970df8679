"""Checks PrometheusEvidenceCollector end to end against a real Prometheus holding case data.

Real: promtool backfills the OOM and mailer example cases' metrics, ``/usr/bin/prometheus``
serves them on 127.0.0.1 (one instance for the module), and the collector talks to it with
prometheus-api-client over HTTP. The failure tests use a stopped Prometheus, a socket that
never answers, and a small local HTTP server that records request headers.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from pydantic import SecretStr

from kubetriage.evidence.prometheus import MetricsResult, PrometheusEvidenceCollector
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.replay.promtool import LocalPrometheus
from kubetriage.settings import Settings
from tests.integration.prometheus_fixtures import (
    MAILER_CASE,
    OOM_CASE,
    case_alert,
    external_hosts,
    load_case,
    replay_end,
)

MEMORY_LIMIT = 268435456.0
OOM_POD = ObjectRef(kind="Pod", name="csv-exporter-5f7d8c9b6d-k2x9p", namespace="exports")


def _collector(url: str | None, **kwargs: float) -> PrometheusEvidenceCollector:
    return PrometheusEvidenceCollector(url, timeout_seconds=kwargs.get("timeout", 5.0))


def _one(result: MetricsResult, name: str) -> MetricSummary:
    found = [s for s in result.summaries if s.name == name]
    assert len(found) == 1, (name, [s.name for s in result.summaries])
    return found[0]


async def test_oom_case_summaries(prometheus: LocalPrometheus, end: datetime) -> None:
    case = load_case(OOM_CASE)
    result = await _collector(prometheus.url).collect(OOM_POD, [case_alert(case, end)], end)
    assert result.status == "ok", result.message
    assert result.query_errors == []

    working_set = _one(result, "memory_working_set_bytes")
    assert working_set.labels == {"pod": OOM_POD.name, "container": "exporter"}
    assert working_set.max is not None
    assert 0.9 * MEMORY_LIMIT <= working_set.max <= MEMORY_LIMIT
    assert working_set.first == 63963136.0
    assert working_set.trend == "rising"
    assert working_set.samples <= 120

    assert _one(result, "memory_limit_bytes").last == MEMORY_LIMIT
    ratio = _one(result, "memory_working_set_vs_limit")
    assert ratio.max == pytest.approx(251658240 / MEMORY_LIMIT)

    restarts = _one(result, "container_restarts")
    assert (restarts.first, restarts.last, restarts.trend) == (0.0, 5.0, "rising")
    # The fifth restart was counted 5 minutes before "now"; the step is at most 34s.
    assert restarts.changed_at is not None
    assert end - timedelta(minutes=5) <= restarts.changed_at <= end - timedelta(minutes=4)

    increase = _one(result, "container_restarts_increase_15m")
    assert increase.last is not None
    assert increase.last > 0


async def test_range_starts_a_window_before_the_alert(
    prometheus: LocalPrometheus, end: datetime
) -> None:
    case = load_case(OOM_CASE)
    collector = PrometheusEvidenceCollector(prometheus.url, window=timedelta(minutes=10))
    result = await collector.collect(OOM_POD, [case_alert(case, end)], end)
    restarts = _one(result, "container_restarts")
    # Alert began 6m ago, so the range is the last 16m: restarts went 3 -> 5 in it.
    assert restarts.first == 2.0 or restarts.first == 3.0
    assert restarts.last == 5.0


async def test_mailer_dependency_probe(prometheus: LocalPrometheus, end: datetime) -> None:
    case = load_case(MAILER_CASE)
    target = ObjectRef(kind="Deployment", name="mailer", namespace="newsletter")
    result = await _collector(prometheus.url).collect(
        target, [case_alert(case, end)], end, dependency_hosts=external_hosts(case)
    )
    assert result.status == "ok", result.message
    probe = _one(result, "dependency_probe_success")
    assert probe.labels["instance"] == "https://api.mailprovider.example.com/health"
    assert (probe.first, probe.last, probe.trend) == (1.0, 0.0, "falling")
    # probe_success went 1 -> 0 25 minutes before "now".
    assert probe.changed_at is not None
    assert end - timedelta(minutes=25) <= probe.changed_at <= end - timedelta(minutes=24)
    assert not any(s.name.startswith("memory") for s in result.summaries)


async def test_namespace_wide_incident_finds_failing_probes(
    prometheus: LocalPrometheus, end: datetime
) -> None:
    case = load_case(MAILER_CASE)
    target = ObjectRef(kind="Namespace", name="newsletter")
    result = await _collector(prometheus.url).collect(target, [case_alert(case, end)], end)
    assert result.status == "ok", result.message
    probe = _one(result, "failing_probes")
    assert probe.last == 0.0
    assert probe.changed_at is not None


async def test_alert_expression_runs_as_alert_expr(
    prometheus: LocalPrometheus, end: datetime
) -> None:
    case = load_case(OOM_CASE)
    alert = case_alert(case, end).model_copy(
        update={
            "generator_url": "http://prometheus:9090/graph?g0.expr="
            "kube_pod_container_status_restarts_total%7Bnamespace%3D%22exports%22%7D+%3E+3"
            "&g0.tab=1"
        }
    )
    result = await _collector(prometheus.url).collect(OOM_POD, [alert], end)
    expr = _one(result, "alert_expr")
    assert expr.query == 'kube_pod_container_status_restarts_total{namespace="exports"} > 3'
    assert (expr.min, expr.last) == (4.0, 5.0)


async def test_broken_alert_expression_is_a_query_error_not_a_failure(
    prometheus: LocalPrometheus, end: datetime
) -> None:
    alert = case_alert(load_case(OOM_CASE), end).model_copy(
        update={"generator_url": "http://p/graph?g0.expr=rate(%28&g0.tab=1"}
    )
    result = await _collector(prometheus.url).collect(OOM_POD, [alert], end)
    assert result.status == "ok"
    assert len(result.query_errors) == 1
    assert result.query_errors[0].startswith("alert_expr:")


async def test_target_without_data_is_no_data(prometheus: LocalPrometheus, end: datetime) -> None:
    target = ObjectRef(kind="Deployment", name="ghost", namespace="nowhere")
    alert = Alert(status="firing", labels={"alertname": "X", "namespace": "nowhere"})
    result = await _collector(prometheus.url).collect(target, [alert], end)
    assert result.status == "no_data"
    assert result.summaries == []
    assert result.queries_run > 5
    assert result.query_errors == []


async def test_hostile_labels_cannot_inject_promql(
    prometheus: LocalPrometheus, end: datetime
) -> None:
    hostile = 'x"} or vector(1) or up{a="'
    target = ObjectRef(kind="Deployment", name=hostile, namespace=hostile)
    alert = Alert(
        status="firing",
        labels={"alertname": "X", "namespace": hostile, "pod": hostile, "container": hostile},
    )
    result = await _collector(prometheus.url).collect(
        target, [alert], end, dependency_hosts=[hostile]
    )
    assert result.queries_run > 10
    # Had the value escaped its string, "or vector(1)" would have returned data.
    assert result.query_errors == []
    assert result.status == "no_data", [s.query for s in result.summaries]


async def test_stopped_prometheus_is_unavailable(end: datetime) -> None:
    stopped = LocalPrometheus().start()
    url = stopped.url
    stopped.stop()
    result = await _collector(url, timeout=2.0).collect(OOM_POD, [], end)
    assert result.status == "unavailable"
    assert url in result.message


async def test_silent_prometheus_times_out_as_unavailable(end: datetime) -> None:
    # A listening socket that never accepts: connect succeeds, the answer never comes.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        result = await _collector(url, timeout=0.5).collect(OOM_POD, [], end)
    assert result.status == "unavailable"
    assert url in result.message
    assert "0.5s" in result.message  # it was the timeout that ended the wait


async def test_not_configured() -> None:
    result = await PrometheusEvidenceCollector(None).collect(OOM_POD, [], replay_end())
    assert result.status == "not_configured"


class _NotPrometheus(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html>login</html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


class _Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[str | None]] = []

    def do_GET(self) -> None:
        type(self).seen.append(self.headers.get("Authorization"))
        body = json.dumps(
            {"status": "success", "data": {"resultType": "matrix", "result": []}}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@contextlib.contextmanager
def _http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


async def test_non_prometheus_answer_is_unavailable(end: datetime) -> None:
    with _http_server(_NotPrometheus) as url:
        result = await _collector(url).collect(OOM_POD, [], end)
    assert result.status == "unavailable"
    assert url in result.message
    assert "does not answer like a Prometheus API" in result.message


async def test_settings_auth_header_is_sent(end: datetime) -> None:
    _Recorder.seen = []
    with _http_server(_Recorder) as url:
        settings = Settings(
            prometheus_url=f"{url}/",
            prometheus_auth_header=SecretStr("Bearer s3cret"),
            prometheus_timeout_seconds=3.0,
            metrics_window_minutes=30,
        )
        collector = PrometheusEvidenceCollector.from_settings(settings)
        result = await collector.collect(OOM_POD, [], end)
    assert result.status == "no_data"
    assert len(_Recorder.seen) == 1 + result.queries_run
    assert set(_Recorder.seen) == {"Bearer s3cret"}
