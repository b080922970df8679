"""Which Incidents may use the model at all: rules by severity, namespace, the analyzers'
best category and their best confidence (``llm_only_*``, ``llm_skip_namespaces``,
``llm_below_confidence``). Pure; the pipeline asks ``GateRules.check`` before the budget
and the model, and an Incident a rule keeps away says "model not used: rule X" in
``status.diagnosis.llm``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kubetriage.models.findings import Finding
from kubetriage.models.vocabulary import Category, Severity
from kubetriage.settings import Settings


@dataclass(frozen=True)
class Refusal:
    """A rule that keeps the model out of this diagnosis."""

    rule: str  # severity | namespace | category | confidence
    detail: str

    @property
    def reason(self) -> str:
        """The ``status.diagnosis.llm.reason`` text."""
        return f"model not used: rule {self.rule} ({self.detail})"


@dataclass(frozen=True)
class GateRules:
    severities: frozenset[Severity] = frozenset()
    namespaces: frozenset[str] = frozenset()
    skip_namespaces: frozenset[str] = frozenset()
    categories: frozenset[Category] = frozenset()
    below_confidence: float | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> GateRules:
        return cls(
            severities=frozenset(settings.llm_only_severities),
            namespaces=frozenset(settings.llm_only_namespaces),
            skip_namespaces=frozenset(settings.llm_skip_namespaces),
            categories=frozenset(settings.llm_only_categories),
            below_confidence=settings.llm_below_confidence,
        )

    def check(
        self, *, severity: Severity, namespace: str | None, findings: Sequence[Finding]
    ) -> Refusal | None:
        """The first rule the Incident fails, or None when the model may be asked."""
        if self.severities and severity not in self.severities:
            allowed = ", ".join(sorted(s.value for s in self.severities))
            return Refusal("severity", f"{severity.value} is not one of {allowed}")
        if self.namespaces and namespace not in self.namespaces:
            allowed = ", ".join(sorted(self.namespaces))
            return Refusal("namespace", f"{namespace} is not one of {allowed}")
        if namespace is not None and namespace in self.skip_namespaces:
            return Refusal("namespace", f"{namespace} is excluded")
        best = max(findings, key=lambda f: f.confidence, default=None)
        category = best.category if best is not None else Category.UNKNOWN
        if self.categories and category not in self.categories:
            allowed = ", ".join(sorted(c.value for c in self.categories))
            return Refusal(
                "category", f"the analyzers' best category {category.value} is not one of {allowed}"
            )
        confidence = best.confidence if best is not None else 0.0
        if self.below_confidence is not None and confidence >= self.below_confidence:
            return Refusal(
                "confidence",
                f"the analyzers' best confidence {confidence:.2f} is not below "
                f"{self.below_confidence:.2f}",
            )
        return None
