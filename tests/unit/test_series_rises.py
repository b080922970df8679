"""Checks when a series rose into the episode it still shows (``MetricSummary.rose_at``): a raw
counter by its increments, bursts as one episode from the first, and no date where the
samples show no level the series rose from.

Real: ``summarize_series`` over synthetic 1-minute samples ending at the tests' ``NOW``.
"""

from __future__ import annotations

from datetime import timedelta

from kubetriage.evidence.series import summarize_series
from kubetriage.models.object_evidence import MetricSummary
from tests.support.evidence import NOW, ago

ERRORS = 'http_requests_total{code="502"}'
RATIO = 'sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))'


def _summary(query: str, values: list[float]) -> MetricSummary:
    """``values`` one a minute, the last one at ``NOW``."""
    start = NOW - timedelta(minutes=len(values) - 1)
    points = [(start + timedelta(minutes=i), v) for i, v in enumerate(values)]
    return summarize_series(query.split("{", 1)[0], query, {}, points)


def _counter(increments: list[float], base: float = 1000.0) -> list[float]:
    values = [base]
    for step in increments:
        values.append(values[-1] + step)
    return values


def test_a_counter_of_bursts_rose_at_its_first_burst_not_its_latest() -> None:
    # 502s in bursts every 6 minutes from 40 minutes ago: the latest step is 4 minutes ago.
    increments = [0.0] * 60
    for minute in range(40, 0, -6):
        increments[59 - minute] = 130.0  # the value at ``ago(minute)``
    summary = _summary(ERRORS, _counter(increments))
    assert summary.rose_at == ago(40)
    assert summary.changed_at == ago(4)


def test_a_counter_that_always_ticked_rose_when_it_ticked_faster() -> None:
    # Near miss: a background of 50 errors a minute climbs from the first sample; the rise
    # is the move to 80 a minute 20 minutes ago, not the start of the window.
    increments = [50.0, 48.0, 52.0] * 13 + [80.0] * 21
    assert _summary(ERRORS, _counter(increments)).rose_at == ago(20)


def test_an_earlier_burst_followed_by_a_long_quiet_is_another_episode() -> None:
    # Near miss: a burst 50 minutes ago, quiet for 28 minutes, then errors from 20 minutes ago.
    ratio = [0.01] * 61
    ratio[10] = ratio[11] = 0.3
    for i in range(40, 61):
        ratio[i] = 0.3
    assert _summary(RATIO, ratio).rose_at == ago(20)


def test_bursts_within_a_quarter_hour_are_one_episode() -> None:
    ratio = [0.01] * 61
    for i in (20, 21, 32, 33, 44, 45, 56, 57, 58, 59, 60):
        ratio[i] = 0.3
    assert _summary(RATIO, ratio).rose_at == ago(40)


def test_a_series_high_from_its_first_samples_shows_no_rise() -> None:
    # Missing data is no proof: errors already high when the window began rose earlier
    # than it shows, and a flat series never rose.
    assert _summary(RATIO, [0.3] * 30 + [0.31] * 31).rose_at is None
    assert _summary(RATIO, [0.01] * 61).rose_at is None
    assert _summary(ERRORS, _counter([5.0] * 60)).rose_at is None


def test_failures_recurring_from_the_first_samples_show_no_rise() -> None:
    # Near miss: a pod crash-looping since yesterday restarts every 4 minutes all through
    # the window; its first restart in the window is not when its trouble began.
    increments = [0.0, 0.0, 0.0, 1.0] * 15
    assert (
        _summary("kube_pod_container_status_restarts_total", _counter(increments)).rose_at is None
    )
    # ... while the same restarts after 20 quiet minutes began then.
    late = [0.0] * 20 + [0.0, 0.0, 0.0, 1.0] * 10
    restarts = _summary("kube_pod_container_status_restarts_total", _counter(late))
    assert restarts.rose_at == ago(36)


def test_a_counter_reset_counts_from_zero() -> None:
    # A restarted exporter's counter starts again: the drop is no rise, the climb after is.
    values = [500.0] * 30 + [0.0] * 10 + [0.0 + 40.0 * i for i in range(1, 22)]
    assert _summary(ERRORS, values).rose_at == ago(20)
