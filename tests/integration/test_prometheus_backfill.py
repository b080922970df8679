"""Checks that case metrics backfilled with the real promtool are queryable in a real Prometheus.

Real: ``/usr/bin/promtool`` writes the blocks, ``/usr/bin/prometheus`` serves them on
127.0.0.1, and the assertions read its HTTP API. Nothing is mocked.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from datetime import datetime, timedelta
from typing import Any

import pytest

from kubetriage.models.case import CaseMetrics, CaseSeries
from kubetriage.replay.promtool import (
    LocalPrometheus,
    PromtoolError,
    backfill,
    expand_series_values,
    start_with_case_metrics,
)
from tests.integration.prometheus_fixtures import (
    MAILER_CASE,
    OOM_CASE,
    load_case,
)


def _query(url: str, promql: str, at: datetime) -> list[dict[str, Any]]:
    params = urllib.parse.urlencode({"query": promql, "time": at.timestamp()})
    with urllib.request.urlopen(f"{url}/api/v1/query?{params}", timeout=10) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def test_every_case_sample_is_stored(prometheus: LocalPrometheus, end: datetime) -> None:
    for case_id in (OOM_CASE, MAILER_CASE):
        metrics = load_case(case_id).metrics
        assert metrics is not None
        for series in metrics.series:
            values = expand_series_values(series.values)
            present = [v for v in values if isinstance(v, float)]
            window = f"{len(values) + 1}m"
            result = _query(prometheus.url, f"count_over_time({series.series}[{window}])", end)
            assert len(result) == 1, series.series
            assert float(result[0]["value"][1]) == len(present), series.series


def test_last_sample_is_at_end_and_earlier_ones_step_back(
    prometheus: LocalPrometheus, end: datetime
) -> None:
    metrics = load_case(OOM_CASE).metrics
    assert metrics is not None
    restarts = next(s for s in metrics.series if "restarts" in s.series)
    values = expand_series_values(restarts.values)
    for minutes_back in (0, 5, 23, 24, 60):
        expected = values[len(values) - 1 - minutes_back]
        at = end - timedelta(minutes=minutes_back)
        result = _query(prometheus.url, f"last_over_time({restarts.series}[1s])", at)
        assert float(result[0]["value"][1]) == expected, minutes_back


def test_missing_samples_are_absent(prometheus: LocalPrometheus, end: datetime) -> None:
    # The OOM working set ends with "_x2": the two newest minutes have no sample.
    selector = 'container_memory_working_set_bytes{namespace="exports"}'
    assert _query(prometheus.url, f"last_over_time({selector}[1s])", end) == []
    result = _query(prometheus.url, selector, end)  # the 5m lookback bridges the gap
    assert float(result[0]["value"][1]) == 251658240.0


def test_instance_is_stopped_and_cleaned_up(end: datetime) -> None:
    metrics = CaseMetrics(interval="30s", series=[CaseSeries(series="x", values="1 2 3")])
    running = start_with_case_metrics(metrics, end)
    url, data_dir = running.url, running.data_dir
    assert _query(url, "x", end)[0]["value"][1] == "3"
    running.stop()
    assert not data_dir.exists()
    with pytest.raises(OSError, match="refused"):
        urllib.request.urlopen(f"{url}/-/ready", timeout=2)


async def test_async_context_manager_serves_an_empty_tsdb(end: datetime) -> None:
    async with LocalPrometheus() as running:
        assert _query(running.url, "vector(1)", end)[0]["value"][1] == "1"
        assert _query(running.url, "x", end) == []


def test_backfill_reports_promtool_errors(tmp_path: Any) -> None:
    with pytest.raises(PromtoolError, match="promtool backfill failed"):
        backfill("this is not openmetrics\n", tmp_path / "data")
