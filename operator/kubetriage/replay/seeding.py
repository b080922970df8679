"""Seed incident memory from solved cases in the shared format.

A case is remembered by the same signature a live incident of it would produce: its objects
and logs are turned into evidence by the same builder the operator uses, redacted, run
through the analyzers, and normalised by ``canonical_text``. So "this looks like that case"
compares like with like. Used by ``kubetriage memory import``, and by ``diagnose``/``eval``
``--memory-from`` (which leave the case being replayed out: leave-one-out).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from kubetriage.alerts import spec_from_alerts
from kubetriage.analyzers import run_analyzers
from kubetriage.memory.canonical import canonical_text, parts_from_evidence
from kubetriage.memory.records import MemoryRecord, record_from_case
from kubetriage.memory.store import IncidentMemory
from kubetriage.models.case import Case
from kubetriage.redaction import redact_evidence
from kubetriage.replay.snapshot import SnapshotEvidenceSource, alert_of


def case_signature(case: Case, *, now: datetime | None = None) -> str:
    """The canonical text a live diagnosis of ``case`` would be searched with (category
    from the analyzers, exactly as live; ``expect`` is not used here)."""
    now = now or datetime.now(UTC)
    alert = alert_of(case, now)
    spec = spec_from_alerts([alert])
    evidence = SnapshotEvidenceSource(case).build(
        target=None, alerts=[alert], title=spec.title, description=spec.description, now=now
    )
    evidence = redact_evidence(evidence)
    findings = list(run_analyzers(evidence).findings)
    return canonical_text(parts_from_evidence(evidence, findings))


def seed_from_cases(
    memory: IncidentMemory,
    cases: Iterable[Case],
    *,
    cluster: str = "replay",
    exclude_ids: frozenset[str] = frozenset(),
) -> list[str]:
    """Store every solved case (those with ``expect``) except ``exclude_ids``."""
    items: list[tuple[MemoryRecord, str]] = []
    for case in cases:
        if case.id in exclude_ids or case.expect is None:
            continue
        items.append((record_from_case(case, cluster=cluster), case_signature(case)))
    return memory.store_many(items)
