"""Checks promtool series-notation expansion, selector parsing and the OpenMetrics writer.

Pure functions, no mocks. The cross-check tests run the real ``promtool test rules`` on the
shared example cases' series, so our expansion is compared with Prometheus' own parser.
"""

from __future__ import annotations

import math
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetriage.models.case import Case, CaseSeries
from kubetriage.replay.promtool import (
    STALE,
    NotationError,
    SeriesValue,
    expand_series_values,
    parse_series_selector,
    write_openmetrics,
)
from tests.support.cases import EXAMPLES
from tests.support.promtool_checks import expect, run_promtool

CASES_DIR = EXAMPLES
END = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def _case_series() -> list[tuple[str, CaseSeries]]:
    found: list[tuple[str, CaseSeries]] = []
    for path in sorted(CASES_DIR.glob("*/case.yaml")):
        case = Case.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        assert case.metrics is not None
        found.extend((case.id, series) for series in case.metrics.series)
    return found


CASE_SERIES = _case_series()


@pytest.mark.parametrize(
    ("notation", "expected"),
    [
        ("1+2x3", [1.0, 3.0, 5.0, 7.0]),
        ("10-2.5x2", [10.0, 7.5, 5.0]),
        ("7x2", [7.0, 7.0, 7.0]),
        ("7+0x2", [7.0, 7.0, 7.0]),
        ("7", [7.0]),
        ("_", [None]),
        ("_x3", [None, None, None]),
        ("stale", [STALE]),
        ("1 _ stale 2", [1.0, None, STALE, 2.0]),
        ("-5", [-5.0]),
        ("+5", [5.0]),
        ("-1-1x2", [-1.0, -2.0, -3.0]),
        ("1e3+1e2x1", [1000.0, 1100.0]),
        ("1.5e-3", [0.0015]),
        (".5x1", [0.5, 0.5]),
        ("1x0", [1.0]),
        ("  1   2  ", [1.0, 2.0]),
        ("", []),
    ],
)
def test_expand_forms(notation: str, expected: list[SeriesValue]) -> None:
    assert expand_series_values(notation) == expected


def test_expand_special_numbers() -> None:
    values = expand_series_values("Inf -Inf NaN")
    assert values[0] == math.inf
    assert values[1] == -math.inf
    assert isinstance(values[2], float)
    assert math.isnan(values[2])


@pytest.mark.parametrize("notation", ["1x", "x3", "1+x3", "stalex2", "1+2", "abc", "0x1f", "1x2.5"])
def test_expand_rejects_invalid(notation: str) -> None:
    with pytest.raises(NotationError):
        expand_series_values(notation)


def test_expand_oom_case_series_shape() -> None:
    by_name = {s.series.split("{")[0]: s.values for case_id, s in CASE_SERIES if "oom" in case_id}
    memory = expand_series_values(by_name["container_memory_working_set_bytes"])
    restarts = expand_series_values(by_name["kube_pod_container_status_restarts_total"])
    assert len(memory) == 61
    assert len(restarts) == 61
    assert memory.count(None) == 7
    assert memory[:35] == [63963136.0] * 35
    assert memory[-3:] == [251658240.0, None, None]
    assert restarts[-1] == 5.0
    assert restarts[37:39] == [0.0, 1.0]


def _checks(series: CaseSeries, values: list[SeriesValue]) -> list[dict[str, Any]]:
    """``promtool test rules`` checks asserting, minute by minute, the values we expanded.

    ``last_over_time(m[1ms])`` at minute t sees only a sample written exactly at t (range
    selectors skip staleness markers), so a missing or stale sample expects no result.
    """
    selector = parse_series_selector(series.series)
    pairs = [("__name__", selector.name), *selector.labels]
    labels = "{" + ",".join(f'{k}="{v}"' for k, v in pairs) + "}"
    return [
        expect(
            f"last_over_time({selector.name}[1ms])",
            value if isinstance(value, float) else None,
            labels=labels,
            at=f"{minute}m",
        )
        for minute, value in enumerate(values)
    ]


def _run_promtool(
    series: CaseSeries, tmp_path: Path, values: list[SeriesValue] | None = None
) -> subprocess.CompletedProcess[str]:
    """promtool over ``series`` expecting ``values`` (default: our expansion of it)."""
    expected = expand_series_values(series.values) if values is None else values
    return run_promtool(tmp_path, [(series.series, series.values)], _checks(series, expected))


@pytest.mark.parametrize(
    ("case_id", "series"), CASE_SERIES, ids=[f"{c}:{s.series[:40]}" for c, s in CASE_SERIES]
)
def test_expansion_agrees_with_promtool(case_id: str, series: CaseSeries, tmp_path: Path) -> None:
    completed = _run_promtool(series, tmp_path)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_expansion_of_all_forms_agrees_with_promtool(tmp_path: Path) -> None:
    series = CaseSeries(series='m{a="b"}', values="1 _x3 5 1+1x2 -2-1.5x1 1e2 stale 7 _ 3x1")
    completed = _run_promtool(series, tmp_path)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_promtool_cross_check_detects_a_wrong_expansion(tmp_path: Path) -> None:
    # Guards the cross-check itself: promtool must fail when our expectation is off by one.
    wrong = CaseSeries(series="m", values="1x1")
    completed = _run_promtool(wrong, tmp_path, [1.0, 1.0, 1.0])
    assert completed.returncode != 0


def test_selector_with_escapes_commas_and_braces() -> None:
    selector = parse_series_selector(r'm{b="x\"},y", a = "c\\d" , c="e,f}"}')
    assert selector.name == "m"
    assert selector.labels == (("a", "c\\d"), ("b", 'x"},y'), ("c", "e,f}"))


def test_selector_forms() -> None:
    assert parse_series_selector("up").labels == ()
    assert parse_series_selector('{__name__="up",job="x"}') == parse_series_selector('up{job="x"}')
    assert parse_series_selector("up{}").name == "up"


@pytest.mark.parametrize(
    "text",
    ['up{job=~"x"}', 'up{job="x"', "up job", '{job="x"}', 'up{job="x"} extra', 'up{="x"}'],
)
def test_selector_rejects_invalid(text: str) -> None:
    with pytest.raises(NotationError):
        parse_series_selector(text)


def test_openmetrics_layout() -> None:
    text = write_openmetrics(
        [
            CaseSeries(series='b_total{x="2"}', values="1 _ 3"),
            CaseSeries(series='a{q="say \\"hi\\""}', values="5 stale"),
            CaseSeries(series='b_total{x="1"}', values="9"),
        ],
        timedelta(minutes=1),
        END,
    )
    end = END.timestamp()
    assert text.splitlines() == [
        "# TYPE a unknown",
        f'a{{q="say \\"hi\\""}} 5.0 {end - 60:.3f}',
        "# TYPE b_total unknown",
        f'b_total{{x="1"}} 9.0 {end:.3f}',
        f'b_total{{x="2"}} 1.0 {end - 120:.3f}',
        f'b_total{{x="2"}} 3.0 {end:.3f}',
        "# EOF",
    ]


def test_openmetrics_special_values_and_gauge_type() -> None:
    text = write_openmetrics(
        [CaseSeries(series="g", values="Inf -Inf NaN")], timedelta(seconds=30), END, "gauge"
    )
    lines = text.splitlines()
    assert lines[0] == "# TYPE g gauge"
    assert [line.split()[1] for line in lines[1:4]] == ["+Inf", "-Inf", "NaN"]
    assert lines[1].split()[2] == f"{END.timestamp() - 60:.3f}"


def test_openmetrics_rejects_non_positive_interval() -> None:
    with pytest.raises(ValueError, match="interval"):
        write_openmetrics([CaseSeries(series="g", values="1")], timedelta(0), END)
