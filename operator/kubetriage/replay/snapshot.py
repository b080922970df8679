"""Evidence from a captured snapshot (a case's objects and logs) instead of a live API.

The same pure builder the operator uses on live objects; used to seed memory with the
signature a live diagnosis of a case would have, and as an ``EvidenceSource`` wherever a
pipeline runs on captured state (tests, benchmarks).
"""

from __future__ import annotations

from datetime import datetime
from typing import Unpack

from kubetriage.evidence.build import build_evidence
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.logs import tail_from_text
from kubetriage.evidence.query import EvidenceQuery
from kubetriage.evidence.targets import candidate_targets
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
        self, *, scope: Scope | None = None, **query: Unpack[EvidenceQuery]
    ) -> Evidence:
        if scope is not None and query["target"] is None:
            allowed, _ = allowed_candidates(scope, None, query["alerts"])
            query["target"] = allowed[0] if allowed else None
        return self.build(**query)

    def build(self, **query: Unpack[EvidenceQuery]) -> Evidence:
        logs = []
        for key, text in self._case.logs.items():
            namespace, pod, container = key.split("/")
            logs.append(tail_from_text(namespace, pod, container, text, limits=self._limits))
        if query["target"] is None:
            candidates = candidate_targets(None, query["alerts"])
            query["target"] = candidates[0] if candidates else None
        return build_evidence(self._case.cluster, logs, limits=self._limits, **query)
