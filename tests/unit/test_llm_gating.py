"""The gating rules that keep the model out of some diagnoses (``kubetriage.llm.gating``):
by severity, by namespace (allowed and excluded), by the analyzers' best category and by
their best confidence, each naming itself in "model not used: rule X"; no rule set lets
every Incident through. Pure code over real ``Finding`` models and ``Settings``."""

from __future__ import annotations

import pytest

from kubetriage.llm.gating import GateRules
from kubetriage.models.base import ObjectRef
from kubetriage.models.findings import Finding
from kubetriage.models.vocabulary import Action, Category, Severity
from kubetriage.settings import Settings

TARGET = ObjectRef(kind="Deployment", namespace="shop", name="checkout")


def _finding(category: Category, confidence: float) -> Finding:
    return Finding(
        analyzer="test",
        category=category,
        confidence=confidence,
        summary=f"{category.value} at {confidence}",
        action=Action.INCREASE_MEMORY,
        target=TARGET,
    )


OOM = [_finding(Category.OOM_KILLED, 0.95), _finding(Category.CRASH_LOOP, 0.6)]


def test_no_rule_lets_every_incident_through() -> None:
    rules = GateRules.from_settings(Settings())
    assert rules.check(severity=Severity.INFO, namespace="any", findings=[]) is None


def test_severity_rule() -> None:
    rules = GateRules.from_settings(Settings(llm_only_severities=["critical", "warning"]))
    refusal = rules.check(severity=Severity.INFO, namespace="shop", findings=OOM)
    assert refusal is not None
    assert refusal.rule == "severity"
    assert refusal.reason == (
        "model not used: rule severity (info is not one of critical, warning)"
    )
    assert rules.check(severity=Severity.WARNING, namespace="shop", findings=OOM) is None


def test_namespace_rules_allow_and_exclude() -> None:
    only = GateRules.from_settings(Settings(llm_only_namespaces=["shop"]))
    assert only.check(severity=Severity.WARNING, namespace="shop", findings=OOM) is None
    refusal = only.check(severity=Severity.WARNING, namespace="dev", findings=OOM)
    assert refusal is not None
    assert refusal.rule == "namespace"
    skip = GateRules.from_settings(Settings(llm_skip_namespaces=["dev"]))
    refusal = skip.check(severity=Severity.CRITICAL, namespace="dev", findings=OOM)
    assert refusal is not None
    assert refusal.reason == "model not used: rule namespace (dev is excluded)"
    assert skip.check(severity=Severity.CRITICAL, namespace="shop", findings=OOM) is None


def test_category_rule_reads_the_best_finding_and_unknown_without_findings() -> None:
    rules = GateRules.from_settings(Settings(llm_only_categories=["unknown", "crash-loop"]))
    refusal = rules.check(severity=Severity.WARNING, namespace="shop", findings=OOM)
    assert refusal is not None
    assert refusal.rule == "category"
    assert "best category oom-killed" in refusal.reason
    assert rules.check(severity=Severity.WARNING, namespace="shop", findings=[]) is None


def test_confidence_rule_asks_only_when_the_analyzers_are_unsure() -> None:
    rules = GateRules.from_settings(Settings(llm_below_confidence=0.9))
    refusal = rules.check(severity=Severity.CRITICAL, namespace="shop", findings=OOM)
    assert refusal is not None
    assert refusal.reason == (
        "model not used: rule confidence (the analyzers' best confidence 0.95 is not below 0.90)"
    )
    unsure = [_finding(Category.NETWORK, 0.5)]
    assert rules.check(severity=Severity.CRITICAL, namespace="shop", findings=unsure) is None
    assert rules.check(severity=Severity.CRITICAL, namespace="shop", findings=[]) is None


def test_rules_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBETRIAGE_LLM_ONLY_SEVERITIES", '["critical"]')
    monkeypatch.setenv("KUBETRIAGE_LLM_BELOW_CONFIDENCE", "0.8")
    rules = GateRules.from_settings(Settings())
    assert rules.severities == frozenset({Severity.CRITICAL})
    assert rules.below_confidence == 0.8
