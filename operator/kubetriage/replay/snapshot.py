"""Evidence from a captured snapshot (a case's objects and logs) instead of a live API.

The same pure builder the operator uses on live objects; used to seed memory with the
signature a live diagnosis of a case would have, and as an ``EvidenceSource`` wherever a
pipeline runs on captured state (tests, benchmarks).
"""

from __future__ import annotations

from datetime import datetime

from kubetriage.evidence.build import build_evidence
from kubetriage.evidence.logs import tail_from_text
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.targets import candidate_targets
from kubetriage.models.base import ObjectRef
from kubetriage.models.case import Case, parse_go_duration
from kubetriage.models.evidence import Evidence
from kubetriage.models.incident import Alert
from kubetriage.tenancy import Scope, allowed_candidates


def alert_of(case: Case, now: datetime) -> Alert:
    return Alert(
        status="firing",
        labels=dict(case.alert.labels),
        annotations=dict(case.alert.annotations),
        starts_at=now - parse_go_duration(case.alert.starts_ago),
    )


class SnapshotEvidenceSource:
    """An ``EvidenceSource`` answering from a case's objects and logs."""

    def __init__(self, case: Case, *, limits: EvidenceLimits | None = None) -> None:
        self._case = case
        self._limits = limits or EvidenceLimits()

    async def collect(
        self,
        *,
        target: ObjectRef | None,
        alerts: list[Alert],
        title: str,
        description: str | None,
        now: datetime,
        scope: Scope | None = None,
    ) -> Evidence:
        if scope is not None and target is None:
            allowed, _ = allowed_candidates(scope, None, alerts)
            target = allowed[0] if allowed else None
        return self.build(
            target=target, alerts=alerts, title=title, description=description, now=now
        )

    def build(
        self,
        *,
        target: ObjectRef | None,
        alerts: list[Alert],
        title: str,
        description: str | None,
        now: datetime,
    ) -> Evidence:
        logs = []
        for key, text in self._case.logs.items():
            namespace, pod, container = key.split("/")
            logs.append(tail_from_text(namespace, pod, container, text, limits=self._limits))
        if target is None:
            candidates = candidate_targets(None, alerts)
            target = candidates[0] if candidates else None
        return build_evidence(
            self._case.cluster,
            logs,
            target=target,
            alerts=alerts,
            title=title,
            description=description,
            now=now,
            limits=self._limits,
        )
