"""Running the real analyzer registry on synthetic evidence and asserting on its findings
(no analyzer raised, which finding leads, which ranks below).
"""

from __future__ import annotations

from kubetriage.analyzers import AnalyzerRun, run_analyzers
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.vocabulary import Action, Category


def analyze(ev: Evidence) -> AnalyzerRun:
    result = run_analyzers(ev)
    assert not result.errors, result.errors
    return result


def top(ev: Evidence) -> Finding:
    result = analyze(ev)
    assert result.findings, "no analyzer fired"
    return result.findings[0]


def by_category(result: AnalyzerRun, category: Category) -> list[Finding]:
    return [f for f in result.findings if f.category is category]


def assert_leads(
    result: AnalyzerRun, category: Category, action: Action, target: ObjectRef
) -> Finding:
    """The first finding, once checked to name ``category``, ``action`` and ``target``."""
    first = result.findings[0]
    assert (first.category, first.action, first.target) == (category, action, target), first
    return first


def assert_ranks_below(result: AnalyzerRun, category: Category, leader: Finding) -> None:
    """A finding of ``category`` was made, and the first of them ranks below ``leader``."""
    found = by_category(result, category)
    assert found, f"no {category.value} finding"
    assert found[0].confidence < leader.confidence, (found[0], leader)
