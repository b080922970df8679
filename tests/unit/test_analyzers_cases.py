"""Checks that the analyzers' top finding is right on the three shared example cases, end to
end from their case.yaml through the real evidence builder, with and without metrics.

Real: the case files in tests/cases, ``build_evidence``, ``tail_from_text``, the
promtool-notation expander and ``summarize_series`` (raw series stand in for Prometheus
answers); no part of the analyzers is replaced. ``expect`` is read only to score.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kubetriage.analyzers import run_analyzers
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.series import summarize_series
from kubetriage.models.case import Case, parse_go_duration
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.replay.cases import load_case
from kubetriage.replay.promtool import expand_series_values, parse_series_selector
from tests.support.built import case_evidence
from tests.support.cases import EXAMPLES

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
LIMITS = EvidenceLimits()
NAMES = ["example-oom-csv-exporter", "example-image-tag-typo", "example-external-api-503"]


def _metrics(case: Case) -> list[MetricSummary]:
    if case.metrics is None:
        return []
    step = parse_go_duration(case.metrics.interval)
    summaries = []
    for series in case.metrics.series:
        selector = parse_series_selector(series.series)
        values = expand_series_values(series.values)
        start = NOW - step * (len(values) - 1)
        points = [
            (start + step * i, value) for i, value in enumerate(values) if isinstance(value, float)
        ]
        summaries.append(
            summarize_series(selector.name, series.series, dict(selector.labels), points)
        )
    return summaries


def _evidence(name: str, *, with_metrics: bool) -> tuple[Case, Evidence]:
    case = load_case(EXAMPLES / name / "case.yaml")
    evidence = case_evidence(case)
    if with_metrics:
        evidence = evidence.model_copy(update={"metrics": _metrics(case)})
    return case, evidence


@pytest.mark.parametrize("with_metrics", [False, True], ids=["no-metrics", "metrics"])
@pytest.mark.parametrize("name", NAMES)
def test_top_finding_matches_the_expected_diagnosis(name: str, with_metrics: bool) -> None:
    case, evidence = _evidence(name, with_metrics=with_metrics)
    result = run_analyzers(evidence)
    assert not result.errors
    assert result.findings
    top = result.findings[0]
    assert case.expect is not None
    assert top.category.value == case.expect.category
    assert top.action.value in [a.value for a in case.expect.actions]
    assert case.expect.target is not None
    assert (top.target.kind, top.target.namespace, top.target.name) == (
        case.expect.target.kind,
        case.expect.target.namespace,
        case.expect.target.name,
    )


def test_oom_case_suggests_double_the_256mi_limit() -> None:
    _, evidence = _evidence("example-oom-csv-exporter", with_metrics=True)
    top = run_analyzers(evidence).findings[0]
    assert top.params["memory"] == "512Mi"
    assert top.confidence >= 0.9


def test_image_typo_case_offers_rollback_to_revision_3_second() -> None:
    _, evidence = _evidence("example-image-tag-typo", with_metrics=False)
    findings = run_analyzers(evidence).findings
    assert (findings[1].category.value, findings[1].action.value) == ("image-pull", "rollback")
    assert findings[1].params["revision"] == "3"


def test_mailer_case_probe_metric_raises_confidence() -> None:
    _, plain = _evidence("example-external-api-503", with_metrics=False)
    _, measured = _evidence("example-external-api-503", with_metrics=True)
    assert (
        run_analyzers(measured).findings[0].confidence > run_analyzers(plain).findings[0].confidence
    )
