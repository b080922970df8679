"""The operator's Prometheus metrics without an operator: the Incident index behind the
``kubetriage_incidents`` gauge, diagnosis accounting (LLM calls, tokens, estimated cost,
skipped diagnoses, the budget left), and a memory that cannot be counted.
Real: ``kubetriage.metrics`` and prometheus-client's registry and exposition."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kubetriage.llm.budget import BudgetLimits, Grant, LLMBudget
from kubetriage.metrics import IncidentState, OperatorMetrics, incident_state
from kubetriage.models.base import ObjectRef
from kubetriage.models.findings import Finding
from kubetriage.models.vocabulary import Action, Category, Severity
from kubetriage.settings import ModelPrice


def _samples(metrics: OperatorMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.exposition().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _finding(analyzer: str, category: Category) -> Finding:
    return Finding(
        analyzer=analyzer,
        category=category,
        confidence=0.9,
        summary="s",
        action=Action.INCREASE_MEMORY,
        target=ObjectRef(kind="Deployment", namespace="a", name="b"),
    )


def test_incident_state_from_status() -> None:
    assert incident_state({}) == IncidentState("Pending", "none")
    assert incident_state(None) == IncidentState("Pending", "none")
    assert incident_state(
        {"phase": "Diagnosed", "diagnosis": {"category": "oom-killed"}}
    ) == IncidentState("Diagnosed", "oom-killed")


def test_incident_gauge_follows_updates_and_deletions() -> None:
    metrics = OperatorMetrics()
    metrics.incidents.update("a", "one", IncidentState("Investigating", "none"))
    metrics.incidents.update("a", "two", IncidentState("Diagnosed", "oom-killed"))
    metrics.incidents.update("b", "one", IncidentState("Diagnosed", "oom-killed"))
    metrics.incidents.update("a", "one", IncidentState("Diagnosed", "image-pull"))
    metrics.incidents.update("b", "one", None)
    samples = _samples(metrics)
    gauge = {k[1]: v for k, v in samples.items() if k[0] == "kubetriage_incidents"}
    assert gauge == {
        (("category", "image-pull"), ("phase", "Diagnosed")): 1,
        (("category", "oom-killed"), ("phase", "Diagnosed")): 1,
    }


def test_diagnosis_accounting() -> None:
    metrics = OperatorMetrics()
    findings = [_finding("oom", Category.OOM_KILLED), _finding("oom", Category.OOM_KILLED)]
    metrics.observe_diagnosis(
        seconds=1.5, findings=findings, llm_outcome="ok", input_tokens=100, output_tokens=20
    )
    metrics.observe_diagnosis(
        seconds=0.5, findings=[], llm_outcome="timeout", input_tokens=None, output_tokens=None
    )
    metrics.observe_diagnosis(
        seconds=0.2, findings=[], llm_outcome=None, input_tokens=None, output_tokens=None
    )
    samples = _samples(metrics)
    assert samples[("kubetriage_diagnosis_duration_seconds_count", ())] == 3
    assert samples[("kubetriage_diagnosis_duration_seconds_sum", ())] == pytest.approx(2.2)
    assert samples[("kubetriage_llm_calls_total", (("outcome", "ok"),))] == 1
    assert samples[("kubetriage_llm_calls_total", (("outcome", "timeout"),))] == 1
    assert samples[("kubetriage_llm_tokens_total", (("type", "input"),))] == 100
    assert samples[("kubetriage_llm_tokens_total", (("type", "output"),))] == 20
    hits = ("kubetriage_analyzer_hits_total", (("analyzer", "oom"), ("category", "oom-killed")))
    assert samples[hits] == 2


class _BrokenMemory:
    def record_count(self) -> int | None:
        raise RuntimeError("qdrant is down")


class _Memory:
    def record_count(self) -> int | None:
        return 7


def test_memory_gauge_reads_the_store_and_survives_it_failing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert _samples(OperatorMetrics(memory=_Memory()))[("kubetriage_memory_records", ())] == 7
    text = OperatorMetrics(memory=_BrokenMemory()).exposition().decode()
    assert "# TYPE kubetriage_memory_records gauge" in text
    assert "\nkubetriage_memory_records " not in text
    assert "incident memory count failed" in caplog.text


def test_registries_are_independent() -> None:
    first, second = OperatorMetrics(), OperatorMetrics()
    first.observe_webhook(202)
    assert ("kubetriage_webhook_requests_total", (("code", "202"),)) in _samples(first)
    assert ("kubetriage_webhook_requests_total", (("code", "202"),)) not in _samples(second)


def test_cost_skips_and_budget_remaining() -> None:
    """Estimated cost from the configured prices (served model first, then the configured
    one; an unpriced model costs nothing known), skipped diagnoses by reason, and the
    budget's remaining share read at scrape time from a real ``LLMBudget``."""
    clock_now = datetime(2026, 3, 4, 10, 15, tzinfo=UTC)
    budget = LLMBudget(
        BudgetLimits(calls_per_minute=20, tokens_per_hour=50_000, call_estimate_tokens=2_000),
        lambda: clock_now,
    )
    grant = budget.acquire(Severity.WARNING)
    assert isinstance(grant, Grant)
    budget.settle(grant, 1_200)
    metrics = OperatorMetrics(
        budget=budget,
        prices={"gpt-x": ModelPrice(input_per_million=2.0, output_per_million=8.0)},
        model="gpt-x",
    )
    metrics.observe_diagnosis(
        seconds=1,
        findings=[],
        llm_outcome="ok",
        input_tokens=1_000,
        output_tokens=200,
        model="gpt-x-2026-01-01",
    )
    for skipped in ("calls-per-minute", "severity"):
        metrics.observe_diagnosis(
            seconds=1,
            findings=[],
            llm_outcome=None,
            input_tokens=None,
            output_tokens=None,
            skipped=skipped,
        )
    samples = _samples(metrics)
    cost = samples[("kubetriage_llm_estimated_cost_total", (("model", "gpt-x-2026-01-01"),))]
    assert cost == pytest.approx((1_000 * 2.0 + 200 * 8.0) / 1_000_000)
    assert samples[("kubetriage_llm_skipped_total", (("reason", "calls-per-minute"),))] == 1
    assert samples[("kubetriage_llm_skipped_total", (("reason", "severity"),))] == 1
    assert samples[("kubetriage_llm_calls_total", (("outcome", "ok"),))] == 1
    remaining = {
        dict(k[1])["limit"]: v
        for k, v in samples.items()
        if k[0] == "kubetriage_llm_budget_remaining"
    }
    assert remaining == {"calls-per-minute": 19, "tokens-per-hour": 50_000 - 1_200}


def test_no_price_no_cost() -> None:
    metrics = OperatorMetrics(model="local")
    metrics.observe_diagnosis(
        seconds=1, findings=[], llm_outcome="ok", input_tokens=10, output_tokens=5
    )
    names = {name for name, _ in _samples(metrics)}
    assert "kubetriage_llm_estimated_cost_total" not in names
