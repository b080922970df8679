"""How ``kubetriage diagnose`` prints a diagnosis the model was kept out of: the rule or
budget limit once, without a "not used (model not used" stutter, and an
``LLMBudgetExhausted=False`` (the good state) not reported as a degradation. Pure: real
``Diagnosis`` and ``Condition`` models through ``render_diagnosis``."""

from __future__ import annotations

from datetime import UTC, datetime

from kubetriage.models.diagnosis import Diagnosis, LLMUsage
from kubetriage.models.vocabulary import Category
from kubetriage.render import render_diagnosis
from kubetriage.status import ConditionStatus, condition

NOW = datetime(2026, 3, 4, 10, 15, tzinfo=UTC)


def _render(usage: LLMUsage, *conditions: tuple[str, ConditionStatus, str]) -> list[str]:
    diagnosis = Diagnosis(summary="s", category=Category.OOM_KILLED, confidence=0.9, llm=usage)
    return render_diagnosis(
        diagnosis,
        name="shop/x",
        phase="Diagnosed",
        conditions=[condition(t, s, r, "m", now=NOW) for t, s, r in conditions],
    ).splitlines()


def test_a_skipped_model_is_named_once() -> None:
    reason = "model not used: rule severity (info is not one of critical)"
    lines = _render(
        LLMUsage(used=False, reason=reason, skipped="severity"),
        ("LLMBudgetExhausted", "False", "NotAsked"),
        ("MetricsAvailable", "False", "NotConfigured"),
    )
    assert f"  llm: {reason}; analyzers and memory" in lines
    notes = [line for line in lines if line.startswith("  note:")]
    assert notes == ["  note: MetricsAvailable=False (NotConfigured) m"]


def test_a_model_failure_keeps_its_wording() -> None:
    lines = _render(LLMUsage(used=False, reason="timeout: 60s"))
    assert "  llm: not used (timeout: 60s); analyzers and memory" in lines
