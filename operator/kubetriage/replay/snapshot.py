"""Evidence from a captured snapshot (a case's objects and logs) instead of a live API.

The same pure builder the operator uses on live objects; used to seed memory with the
signature a live diagnosis of a case would have, and as an ``EvidenceSource`` wherever a
pipeline runs on captured state (tests, benchmarks). It reads the snapshot the way the
collector reads the cluster: the target is the first candidate that exists, the incident's own
log tails are those ``log_requests`` asks for from the pods in scope, and every other tail is
a followed dependency's (the builder keeps those of a dependency's first pods, as the
collector's dependency walk reads them).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Unpack

from kubetriage.evidence.build import build_evidence
from kubetriage.evidence.index import ObjectIndex, choose_target, resolve_scope
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.logs import log_requests, tail_from_text
from kubetriage.evidence.notes import Notes
from kubetriage.evidence.query import EvidenceQuery
from kubetriage.evidence.targets import candidate_targets, focus_containers
from kubetriage.models.base import ObjectRef
from kubetriage.models.case import Case, parse_go_duration
from kubetriage.models.evidence import Evidence, LogTail
from kubetriage.models.incident import Alert
from kubetriage.tenancy import Scope, allowed_candidates


def alert_of(case: Case, now: datetime) -> Alert:
    return Alert(
        status="firing",
        labels=dict(case.alert.labels),
        annotations=dict(case.alert.annotations),
        starts_at=now - parse_go_duration(case.alert.starts_ago),
    )


def _container_statuses(pod: dict[str, Any]) -> dict[str, dict[str, Any]]:
    status = pod.get("status") or {}
    statuses = (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or [])
    return {s.get("name", ""): s for s in statuses if isinstance(s, dict)}


def log_placement(case: Case) -> list[tuple[str, str, str, str, bool]]:
    """Where each case log goes: a container that is waiting or terminated now, with a
    terminated ``lastState``, printed those lines in its previous run, which is what
    ``kubectl logs --previous`` serves; otherwise they are the current container's log."""
    pods = {
        ((o.get("metadata") or {}).get("namespace", ""), o["metadata"]["name"]): o
        for o in case.cluster
        if o.get("kind") == "Pod"
    }
    placed = []
    for key, text in case.logs.items():
        namespace, pod_name, container = key.split("/")
        previous = False
        pod = pods.get((namespace, pod_name))
        if pod is not None:
            state = _container_statuses(pod).get(container, {})
            current = state.get("state") or {}
            last = state.get("lastState") or {}
            previous = "running" not in current and "terminated" in last
        placed.append((namespace, pod_name, container, text, previous))
    return placed


class SnapshotEvidenceSource:
    """An ``EvidenceSource`` answering from a case's objects and logs."""

    def __init__(self, case: Case, *, limits: EvidenceLimits | None = None) -> None:
        self._case = case
        self._limits = limits or EvidenceLimits()

    async def collect(
        self, *, scope: Scope | None = None, **query: Unpack[EvidenceQuery]
    ) -> Evidence:
        if scope is not None:
            allowed, _ = allowed_candidates(scope, query["target"], query["alerts"])
            query["target"] = self._first_present(allowed)
        return self.build(**query)

    def _first_present(self, candidates: list[ObjectRef]) -> ObjectRef | None:
        """The first candidate the snapshot holds, as the collector takes the first one it can
        read (a Secret or a Namespace it takes unread); else the first candidate."""
        index = ObjectIndex(self._case.cluster, Notes())
        unread = ("Secret", "Namespace")
        present = (c for c in candidates if c.kind in unread or index.exists(c))
        return next(present, candidates[0] if candidates else None)

    def _split_logs(self, **query: Unpack[EvidenceQuery]) -> tuple[list[LogTail], list[LogTail]]:
        """The incident's own tails (those the collector asks for from the pods in scope) and
        the rest (what a followed dependency says)."""
        tails = [
            tail_from_text(namespace, pod, container, text, previous=previous, limits=self._limits)
            for namespace, pod, container, text, previous in log_placement(self._case)
        ]
        index = ObjectIndex(self._case.cluster, Notes())
        chosen = choose_target(index, query["target"], query["alerts"], Notes())
        requests = log_requests(
            resolve_scope(index, chosen).pods, focus_containers(query["alerts"]), self._limits
        )
        wanted = {(namespace, pod, container) for namespace, pod, container, _ in requests}
        own = [t for t in tails if (t.namespace, t.pod, t.container) in wanted]
        return own, [t for t in tails if (t.namespace, t.pod, t.container) not in wanted]

    def build(self, **query: Unpack[EvidenceQuery]) -> Evidence:
        query["target"] = self._first_present(candidate_targets(query["target"], query["alerts"]))
        own, followed = self._split_logs(**query)
        return build_evidence(
            self._case.cluster, own, dependency_logs=followed, limits=self._limits, **query
        )
