"""The revisions of the incident's workload, for the analyzers: which revision is current and
which came before it, which revision a pod runs, and the release a rollback would undo
(``rollback_subject``: the workload, when it is of a kind that can be rolled back, with its
current and previous revisions).

Called by the analyzer modules in this package. Pure functions of an ``Evidence``.
"""

from __future__ import annotations

from typing import NamedTuple

from kubetriage.analyzers.support import workload_ref
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import PodEvidence, RevisionEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action

# The label a StatefulSet or DaemonSet controller puts on each pod: its ControllerRevision.
CONTROLLER_REVISION_LABEL = "controller-revision-hash"


def current_and_previous_revision(
    evidence: Evidence,
) -> tuple[RevisionEvidence | None, RevisionEvidence | None]:
    """The current revision and the newest one before it (by revision number)."""
    if not evidence.revisions:
        return None, None
    ordered = sorted(evidence.revisions, key=lambda r: r.revision)
    current = next((r for r in ordered if r.current), None)
    if current is None:
        wanted = evidence.workload.revision if evidence.workload else None
        current = next((r for r in ordered if r.revision == wanted), ordered[-1])
    older = [r for r in ordered if r.revision < current.revision]
    return current, (older[-1] if older else None)


def pod_revision(pod: PodEvidence, evidence: Evidence) -> RevisionEvidence | None:
    """The revision a pod runs: its owning ReplicaSet, or for a StatefulSet's or DaemonSet's
    pod (owned by the workload itself) the ControllerRevision its ``controller-revision-hash``
    label names (the full revision name on a StatefulSet's pods, the bare hash on a
    DaemonSet's, whose revision is ``<daemonset>-<hash>``)."""
    if pod.owner is None:
        return None
    names = {pod.owner.name}
    if pod.owner.kind in ("StatefulSet", "DaemonSet") and (
        label := pod.labels.get(CONTROLLER_REVISION_LABEL)
    ):
        names = {label, f"{pod.owner.name}-{label}"}
    return next((r for r in evidence.revisions if r.name in names), None)


def image_changed_from_serving(evidence: Evidence, pod: PodEvidence, container: str) -> bool:
    """Whether ``pod`` runs the current revision, which changed ``container``'s image from the
    previous revision while that one still has ready pods (the same spec ran the old image)."""
    current, previous = current_and_previous_revision(evidence)
    if current is None or previous is None or previous.ready_replicas == 0:
        return False
    ours = pod_revision(pod, evidence)
    if ours is None or ours.name != current.name:
        return False
    new, old = current.images.get(container), previous.images.get(container)
    return new is not None and old is not None and new != old


class Release(NamedTuple):
    """The incident's workload, of a kind a rollback applies to, and its two newest revisions."""

    target: ObjectRef
    current: RevisionEvidence
    previous: RevisionEvidence


def rollback_subject(evidence: Evidence) -> Release | None:
    """The release a rollback of the incident's workload would undo, or None when the workload
    is unknown, of a kind that cannot be rolled back, or has no revision before the current."""
    current, previous = current_and_previous_revision(evidence)
    target = workload_ref(evidence)
    if current is None or previous is None or target is None:
        return None
    if target.kind not in ACTION_TARGET_KINDS[Action.ROLLBACK]:
        return None
    return Release(target, current, previous)
