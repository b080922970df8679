"""Evaluating PromQL in tests with the real ``promtool test rules``: synthetic series in
promtool's expanding notation, expressions with the samples they must give at a time, one
check file, and an assertion that promtool agreed (its own report as the failure message).
The one way unit tests check that a rendered query reaches the series it is meant to."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from kubetriage.replay.promtool import PROMTOOL_BINARY

# Where a single expression is evaluated unless a test says otherwise: minute 20 of series
# sampled once a minute, past any rate window the queries use.
EVAL_AT = "20m"


def expect(
    expr: str, expected: float | None, *, labels: str = "{}", at: str = EVAL_AT
) -> dict[str, Any]:
    """One ``promql_expr_test``: ``expr`` at ``at`` is ``expected`` with ``labels``, or gives
    no sample at all when ``expected`` is None."""
    samples = [] if expected is None else [{"labels": labels, "value": expected}]
    return {"expr": expr, "eval_time": at, "exp_samples": samples}


def run_promtool(
    tmp_path: Path,
    series: Sequence[tuple[str, str]],
    checks: Sequence[dict[str, Any]],
) -> subprocess.CompletedProcess[str]:
    """``promtool test rules`` over ``series`` (``(selector, values)``, one sample a minute)
    with ``checks`` (built by ``expect``); its completed process, pass or fail."""
    check_file = {
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in series],
                "promql_expr_test": list(checks),
            }
        ]
    }
    path = tmp_path / "check.yml"
    path.write_text(yaml.safe_dump(check_file), encoding="utf-8")
    return subprocess.run(
        [PROMTOOL_BINARY, "test", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_promtool(
    tmp_path: Path,
    series: Sequence[tuple[str, str]],
    checks: Sequence[dict[str, Any]],
) -> None:
    completed = run_promtool(tmp_path, series, checks)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def assert_evaluates(
    tmp_path: Path,
    series: Sequence[tuple[str, str]],
    expr: str,
    expected: float | None,
    labels: str = "{}",
    *,
    at: str = EVAL_AT,
) -> None:
    """``expr`` over ``series`` at ``at`` is ``expected`` (None: no sample), as promtool says."""
    assert_promtool(tmp_path, series, [expect(expr, expected, labels=labels, at=at)])
