"""Credentials rotated under running replicas: the Secrets Store CSI driver (with rotation on)
rewrites the files it mounts, and the Kubernetes Secret it syncs, when the external store's
secret changes, and says so with an event on each pod (``MountRotationComplete``,
``SecretRotationComplete``); it never restarts the pods. Most programs read a credential once,
at start, so replicas started before the rotation keep presenting the old one: once the server
stops accepting it (a single-user password rotation, or pooled connections aging out and
logging in again) their logins are refused, while a replica of the same revision started after
the rotation logs in with the new one. The file and the store hold the right value; an SRE
restarts the workload so every replica reads it (and makes the program re-read it).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.dependency_server import LOGIN_REFUSED
from kubetriage.analyzers.split_config import started_at
from kubetriage.analyzers.support import (
    grep_logs,
    item,
    log_source,
    logs_of,
    pod_source,
    timestamp,
)
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import PodEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a rotated-credential finding is, by the evidence that earns it."""

    # Replicas of one revision started before a rotation of what they mount have their logins
    # refused, one started after it logs in: above an escalation of the refused calls.
    stale_replicas: float = 0.8


CONFIDENCE: Final = _Confidence()

# Events a secrets driver puts on a pod when it rewrote what the pod mounts (Secrets Store
# CSI driver: the mounted files, the Kubernetes Secret synced from them).
ROTATED: Final = frozenset({"MountRotationComplete", "SecretRotationComplete"})


@dataclass(frozen=True, slots=True)
class StaleReplicas:
    """The first rotation of what the replicas mount (``at``, its event), the replicas started
    before it whose logins are refused, with those lines, and the replicas started after it."""

    at: datetime
    rotation: EvidenceItem
    stale: list[PodEvidence]
    refused: list[EvidenceItem]
    fresh: list[PodEvidence]


def _refused(evidence: Evidence, pod: PodEvidence) -> list[EvidenceItem]:
    hits = grep_logs(logs_of(evidence, pod), LOGIN_REFUSED, limit=1)
    return [item(log_source(h.log), h.line) for h in hits]


def stale_replicas(evidence: Evidence) -> StaleReplicas | None:
    """The replicas of one revision split by the first rotation of what they mount: those
    started before it log refused logins, none started after it does. None without a rotation
    event on the workload's pods, without replicas on both sides, or when the replicas run
    two revisions (a rollout under way)."""
    pods = [p for p in evidence.pods if p.phase == "Running" and p.owner is not None]
    if len({p.owner.key() for p in pods if p.owner is not None}) != 1:
        return None
    names = {p.name for p in pods}
    rotations = [
        (when, e)
        for e in evidence.events
        if e.reason in ROTATED
        and e.involved.kind == "Pod"
        and e.involved.name in names
        and (when := e.first_seen or e.last_seen) is not None
    ]
    if not rotations:
        return None
    at, event = min(rotations, key=lambda r: timestamp(r[0]))
    starts = [(p, started_at(p)) for p in pods]
    stale = [p for p, s in starts if s is not None and timestamp(s) < timestamp(at)]
    fresh = [p for p, s in starts if s is not None and timestamp(s) >= timestamp(at)]
    if not stale or not fresh or any(_refused(evidence, p) for p in fresh):
        return None
    refused = {p.name: lines for p in stale if (lines := _refused(evidence, p))}
    if not refused:
        return None
    rotation = item(
        "events", f"{event.reason} on pod {event.involved.name} at {at:%H:%M}: {event.message}"
    )
    return StaleReplicas(
        at=at,
        rotation=rotation,
        stale=[p for p in stale if p.name in refused],
        refused=[lines[0] for lines in refused.values()][:2],
        fresh=fresh,
    )


def check_rotated_mounts(evidence: Evidence) -> list[Finding]:
    """Replicas started before a rotation of their mounted credentials are refused, one
    started after it is not: restart the workload."""
    workload = evidence.workload
    if workload is None or workload.ref.kind not in ACTION_TARGET_KINDS[Action.RESTART]:
        return []
    found = stale_replicas(evidence)
    if found is None:
        return []
    target = workload.ref
    fresh = [
        item(pod_source(p), f"started {started_at(p) or found.at:%H:%M}, after the rotation")
        for p in found.fresh[:1]
    ]
    text = prose.narrative(
        f"{prose.obj(target)}'s older replicas still use credentials rotated at {found.at:%H:%M}",
        "restart it",
        aside=f"{len(found.stale)} started before the rotation, {len(found.fresh)} after",
        because=[
            prose.claim(
                "The secrets driver rotated what the pods mount, without restarting them",
                found.rotation,
            ),
            prose.claim(
                "Replicas started before the rotation have their logins refused",
                *found.refused,
            ),
            prose.claim("A replica started after it logs in with the new value", *fresh),
        ],
    )
    return [
        make_finding(
            "rotated-mounts",
            Category.CONFIG_MISSING,
            CONFIDENCE.stale_replicas,
            text,
            [found.rotation, *found.refused, *fresh],
            Action.RESTART,
            target,
            {},
        )
    ]


ROTATED_MOUNT_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("rotated-mounts", (Category.CONFIG_MISSING,), check_rotated_mounts),
)
