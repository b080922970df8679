"""How recent a rollout is: the one window within which a revision still counts as "just
rolled out", and the questions the analyzers ask of it (how old the current revision is,
which rollouts of the change timeline fell inside the window, whether the workload itself
rolled out lately).

Called by the analyzers that weigh a release against other explanations (crashes,
rollouts, saturation, node pressure, worker timeouts) and by ``kubetriage.unknown`` when it
says what was ruled out. Pure functions of an ``Evidence`` and its models.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from kubetriage.analyzers.revisions import current_and_previous_revision
from kubetriage.analyzers.support import timestamp
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import ChangeEvidence, RevisionEvidence

# The kube-state-metrics series of the Deployment's available replicas (a query template).
AVAILABLE_REPLICAS = "deployment_replicas_available"
# How far apart a rollout and the step of that series may be and still be one event.
STEP_TOLERANCE = timedelta(minutes=2)

# A revision younger than this counts as a recent rollout: within a working day of a
# release, a symptom may still be the release's; beyond it, other changes intervene.
RECENT_ROLLOUT = timedelta(hours=6)


def revision_age(evidence: Evidence, revision: RevisionEvidence | None) -> float | None:
    """Seconds between ``revision``'s creation and the collection; None when unknown."""
    if revision is None or revision.created_at is None:
        return None
    return timestamp(evidence.collected_at) - timestamp(revision.created_at)


def is_recent(age: float | None) -> bool:
    """Whether an age in seconds (None: unknown) falls within RECENT_ROLLOUT."""
    return age is not None and age <= RECENT_ROLLOUT.total_seconds()


def rolled_out_recently(evidence: Evidence) -> bool:
    """Whether the workload's current revision replaced an older one within RECENT_ROLLOUT
    (a first revision is not a rollout)."""
    current, previous = current_and_previous_revision(evidence)
    return previous is not None and is_recent(revision_age(evidence, current))


def rollouts_within(
    changes: Iterable[ChangeEvidence], now: float, window: timedelta = RECENT_ROLLOUT
) -> list[ChangeEvidence]:
    """The dated rollouts among ``changes`` that happened within ``window`` (RECENT_ROLLOUT
    unless given) of ``now``, or after it."""
    return [
        c
        for c in changes
        if c.kind == "rollout"
        and c.at is not None
        and now - timestamp(c.at) <= window.total_seconds()
    ]


def own_rollouts_within(evidence: Evidence) -> list[ChangeEvidence]:
    """The incident workload's own rollouts within RECENT_ROLLOUT of the collection."""
    workload = evidence.workload
    if workload is None:
        return []
    own = [c for c in evidence.changes if c.object.same_object(workload.ref)]
    return rollouts_within(own, timestamp(evidence.collected_at))


def served_until(evidence: Evidence, revision: RevisionEvidence) -> bool:
    """Whether the workload had available replicas until ``revision`` went out and has none
    since: the series of its available replicas stepped down to zero at the rollout, or its
    ``Available`` condition turned False then. A Recreate rollout removes the previous
    revision's pods before it starts the new ones, so no pod of the previous revision is left
    to show that it served; the series and the condition's transition do."""
    if revision.created_at is None:
        return False
    at = timestamp(revision.created_at)
    tolerance = STEP_TOLERANCE.total_seconds()
    if any(
        m.name == AVAILABLE_REPLICAS
        and m.changed_at is not None
        and abs(timestamp(m.changed_at) - at) <= tolerance
        and (m.before or 0.0) >= 1.0
        and m.last == 0.0
        for m in evidence.metrics
    ):
        return True
    conditions = evidence.workload.conditions if evidence.workload is not None else []
    return any(
        c.type == "Available"
        and c.status == "False"
        and c.last_transition_time is not None
        and 0 <= timestamp(c.last_transition_time) - at <= tolerance
        for c in conditions
    )
