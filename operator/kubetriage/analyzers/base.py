"""The analyzer contract: a named, pure rule ``Evidence -> list[Finding]``.

Each family module (containers, scheduling, rollout, network, metrics) builds its
``Analyzer`` values from plain functions; ``kubetriage.analyzers`` collects them into the
immutable registry the pipeline runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kubetriage import prose
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding, Narrative
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class Analyzer:
    """A deterministic rule. ``categories`` lists what it may conclude, for documentation and
    for the coverage test; ``check`` must not do I/O or keep state."""

    name: str
    categories: tuple[Category, ...]
    check: Callable[[Evidence], list[Finding]]

    def run(self, evidence: Evidence) -> list[Finding]:
        return self.check(evidence)


def make_finding(
    analyzer: str,
    category: Category,
    confidence: float,
    text: Narrative,
    evidence: Iterable[EvidenceItem],
    action: Action,
    target: ObjectRef,
    params: dict[str, str] | None = None,
) -> Finding:
    """A finding whose target kind is one the action may act on (a programming error
    otherwise, so it raises and ``run_analyzers`` reports it). ``text`` is built with
    ``prose.narrative``; its summary is rendered here, once."""
    if target.kind not in ACTION_TARGET_KINDS[action]:
        raise ValueError(f"{analyzer}: {action} cannot target a {target.kind}")
    items: list[EvidenceItem] = []
    for entry in evidence:
        if entry not in items:
            items.append(entry)
    return Finding(
        analyzer=analyzer,
        category=category,
        confidence=round(min(max(confidence, 0.0), 1.0), 3),
        summary=prose.narrative_summary(text),
        narrative=text,
        evidence=items[:12],
        action=action,
        target=target,
        params=params or {},
    )
