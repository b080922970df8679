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
from kubetriage.evidence.build import build_evidence, tail_from_text
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.targets import candidate_targets
from kubetriage.memory.canonical import canonical_text, parts_from_evidence
from kubetriage.memory.records import MemoryRecord, record_from_case
from kubetriage.memory.store import IncidentMemory
from kubetriage.models.case import Case, parse_go_duration
from kubetriage.models.incident import Alert
from kubetriage.redaction import redact_evidence


def case_signature(case: Case, *, now: datetime | None = None) -> str:
    """The canonical text a live diagnosis of ``case`` would be searched with (category
    from the analyzers, exactly as live; ``expect`` is not used here)."""
    now = now or datetime.now(UTC)
    alert = Alert(
        status="firing",
        labels=dict(case.alert.labels),
        annotations=dict(case.alert.annotations),
        starts_at=now - parse_go_duration(case.alert.starts_ago),
    )
    spec = spec_from_alerts([alert])
    limits = EvidenceLimits()
    logs = []
    for key, text in case.logs.items():
        namespace, pod, container = key.split("/")
        logs.append(tail_from_text(namespace, pod, container, text, limits=limits))
    candidates = candidate_targets(None, [alert])
    evidence = build_evidence(
        case.cluster,
        logs,
        target=candidates[0] if candidates else None,
        alerts=[alert],
        title=spec.title,
        description=spec.description,
        now=now,
        limits=limits,
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
