"""Checks that the public case set's metrics replay into a real Prometheus as their story says.

Real: every case with metrics is rendered to OpenMetrics and backfilled with the real
``promtool tsdb create-blocks-from openmetrics``; for one case per metric-driven category a
real ``/usr/bin/prometheus`` serves the backfill on 127.0.0.1 and the operator's
``PrometheusEvidenceCollector`` runs its query templates for the case's expected target, so
the asserted summaries (throttled share, p99, error ratio, probe, volume fill) are what the
operator itself would see during a replay.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest

from kubetriage.evidence.prometheus import MetricsResult, PrometheusEvidenceCollector
from kubetriage.models.base import ObjectRef
from kubetriage.models.case import Case, parse_go_duration
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.replay.cases import load_case
from kubetriage.replay.promtool import backfill, start_with_case_metrics, write_openmetrics
from tests.integration.prometheus_fixtures import case_alert, external_hosts, replay_end
from tests.support.cases import TRAIN

CASES_DIR = TRAIN


def _load(case_id: str) -> Case:
    # The product's loader: the same YAML and validation, parsed by libyaml (the pure-Python
    # parser made importing this module, which reads every train case, take most of collection).
    return load_case(CASES_DIR / case_id)


def _metric_case_ids() -> list[str]:
    return sorted(
        path.name
        for path in CASES_DIR.iterdir()
        if path.is_dir() and _load(path.name).metrics is not None
    )


METRIC_CASE_IDS = _metric_case_ids()
# A backfill mostly waits on promtool's start-up and the disk, not on a core: four at a time
# (threads, each waiting on its own promtool) took half the wall time of one after another here.
BACKFILLS_AT_ONCE = 4


def _backfill(case_id: str, data_dir: Path) -> list[Path]:
    """The case's series backfilled by promtool into ``data_dir``; the blocks it wrote."""
    case = _load(case_id)
    assert case.metrics is not None
    text = write_openmetrics(
        case.metrics.series, parse_go_duration(case.metrics.interval), replay_end()
    )
    backfill(text, data_dir)
    return [p for p in data_dir.iterdir() if (p / "meta.json").is_file()]


@pytest.fixture(scope="module")
def backfills(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Future[list[Path]]]:
    """Every metric case backfilled, each into its own directory; a case's failure is raised
    by its own test (``Future.result``), not by the others'."""
    root = tmp_path_factory.mktemp("backfills")
    with ThreadPoolExecutor(max_workers=BACKFILLS_AT_ONCE) as pool:
        return {
            case_id: pool.submit(_backfill, case_id, root / case_id / "data")
            for case_id in METRIC_CASE_IDS
        }


@pytest.mark.parametrize("case_id", METRIC_CASE_IDS)
def test_case_metrics_backfill_with_promtool(
    case_id: str, backfills: dict[str, Future[list[Path]]]
) -> None:
    blocks = backfills[case_id].result()
    assert blocks, f"{case_id}: promtool wrote no blocks"


async def _collect(case: Case, end: datetime) -> MetricsResult:
    assert case.metrics is not None
    assert case.expect is not None
    with start_with_case_metrics(case.metrics, end) as prometheus:
        collector = PrometheusEvidenceCollector(prometheus.url, timeout_seconds=10.0)
        result = await collector.collect(
            ObjectRef(**case.expect.target.model_dump()),
            [case_alert(case, end)],
            end,
            dependency_hosts=external_hosts(case),
        )
    assert result.status == "ok", result.message
    assert result.query_errors == []
    return result


def _one(result: MetricsResult, name: str) -> MetricSummary:
    found = [s for s in result.summaries if s.name == name]
    assert len(found) == 1, (name, [s.name for s in result.summaries])
    return found[0]


def _values(summary: MetricSummary) -> tuple[float, float, float]:
    assert summary.first is not None
    assert summary.last is not None
    assert summary.max is not None
    return summary.first, summary.last, summary.max


@pytest.fixture
def end() -> datetime:
    return replay_end()


async def test_cpu_throttling_case_shows_throttling_and_latency(end: datetime) -> None:
    result = await _collect(_load("cpu-throttling-api-latency"), end)
    throttled = [s for s in result.summaries if s.name == "cpu_throttled_ratio"]
    assert {s.labels["pod"] for s in throttled} == {
        "accounts-api-xv4q25v2wp-7cw6t",
        "accounts-api-xv4q25v2wp-m6jbw",
    }
    for summary in throttled:
        first, last, _ = _values(summary)
        assert first < 0.1 < 0.5 < last
        assert summary.trend == "rising"
    limits = {s.labels["pod"]: s.last for s in result.summaries if s.name == "cpu_limit_cores"}
    usages = [s for s in result.summaries if s.name == "cpu_usage_cores"]
    assert len(usages) == 2
    for usage in usages:
        # Usage creeps up to the 0.5-core limit and cannot pass it.
        limit = limits[usage.labels["pod"]]
        assert limit == 0.5
        assert usage.last is not None
        assert 0.9 * limit <= usage.last <= limit
    first, last, _ = _values(_one(result, "http_latency_p99_seconds"))
    assert first < 0.15
    assert last > 0.5


async def test_saturation_case_shows_latency_rising_with_traffic(end: datetime) -> None:
    result = await _collect(_load("saturation-hpa-at-max-traffic-spike"), end)
    p99 = _one(result, "http_latency_p99_seconds")
    first, last, _ = _values(p99)
    assert first < 0.5
    assert last > 2.0
    assert p99.trend == "rising"
    for usage in (s for s in result.summaries if s.name == "cpu_usage_cores"):
        assert usage.trend == "rising"
    # No CPU limit on ticket-web: cAdvisor exports no CFS series, so nothing is throttled.
    assert not any(s.name == "cpu_throttled_ratio" for s in result.summaries)


async def test_bad_rollout_case_shows_error_ratio_rising_after_rollout(end: datetime) -> None:
    result = await _collect(_load("bad-rollout-error-rate-new-revision"), end)
    ratio = _one(result, "http_5xx_ratio")
    first, last, _ = _values(ratio)
    assert first == pytest.approx(0.002, abs=0.001)
    assert last == pytest.approx(0.1, abs=0.01)
    assert ratio.trend == "rising"
    # The Micrometer and status-label variants find nothing for a service using "code".
    assert not any(s.name == "http_5xx_ratio_status_label" for s in result.summaries)


async def test_dependency_case_shows_failing_probe_and_errors(end: datetime) -> None:
    case = _load("dependency-shipping-rates-api-timeouts")
    result = await _collect(case, end)
    probe = _one(result, "dependency_probe_success")
    assert probe.labels["instance"] == "https://rates.api.parcel-carrier.example/health"
    assert (probe.first, probe.last, probe.trend) == (1.0, 0.0, "falling")
    assert probe.changed_at is not None
    assert probe.changed_at < end


async def test_dependency_case_caller_errors_rise(end: datetime) -> None:
    # Scoped by the failing caller (the alert's job), as the operator does before it knows
    # the dependency: the caller's 502 share rises from almost nothing to most requests.
    case = _load("dependency-shipping-rates-api-timeouts")
    assert case.metrics is not None
    with start_with_case_metrics(case.metrics, end) as prometheus:
        collector = PrometheusEvidenceCollector(prometheus.url, timeout_seconds=10.0)
        result = await collector.collect(None, [case_alert(case, end)], end)
    ratio = _one(result, "http_server_5xx_ratio")
    first, last, _ = _values(ratio)
    assert first < 0.01
    assert last > 0.5


async def test_storage_case_shows_volume_filling_up(end: datetime) -> None:
    result = await _collect(_load("storage-postgres-volume-full"), end)
    used = _one(result, "volume_used_ratio")
    assert used.labels == {"persistentvolumeclaim": "data-orders-db-0"}
    first, last, _ = _values(used)
    assert 0.9 < first < last < 1.0
    assert last > 0.99
