"""The split-configuration rule: a Secret or ConfigMap that the workload's containers read
through their environment (``env`` ``valueFrom``, ``envFrom``) was written (rotated by an
operator such as External Secrets, edited by hand), and the workload's replicas now run with
both values: the kubelet resolves environment variables once, when a container starts, so the
replicas started before the write keep the old value and those started after it (a drained
node, a rescheduled pod) hold the new one. Replicas that must agree on a value (a session
cookie's signing secret, a shared key, a token audience) then reject each other's work behind
a load balancer, while every pod is running and ready. An SRE sees the start times straddle
the write and restarts the workload so every replica reads the same value; correcting the
object is not the fix (it holds the intended value).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.onset import ONSET_TOLERANCE, earliest_onset
from kubetriage.analyzers.support import RECENT_ROLLOUT, item, pod_source, timestamp
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ChangeEvidence, PodEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a split-configuration finding is, by the evidence that earns it."""

    # Every replica runs and is ready, some started before the write of an object they read
    # through their environment and some after, and the symptom began after the write: the
    # replicas disagree on its value. Above an escalation of the healthy-looking workload.
    straddled: float = 0.74


CONFIDENCE: Final = _Confidence()


def started_at(pod: PodEvidence) -> datetime | None:
    """When the pod's app containers last started (the latest start among them: the moment
    the environment was resolved), else when the pod was created."""
    starts = [
        c.state.started_at
        for c in pod.containers
        if not c.init and c.state.state == "running" and c.state.started_at is not None
    ]
    return max(starts, key=timestamp) if starts else pod.created_at


def _reads_through_env(pod: PodEvidence, ref: ObjectRef) -> str | None:
    """How the pod reads ``ref`` through its environment ("env X", "envFrom"), if it does."""
    for config in pod.config_refs:
        if config.kind == ref.kind and config.name == ref.name and config.via.startswith("env"):
            return config.via
    return None


def _healthy(pod: PodEvidence) -> bool:
    return pod.phase == "Running" and all(
        c.ready and c.state.state == "running" for c in pod.containers if not c.init
    )


def straddling(
    evidence: Evidence,
) -> tuple[ChangeEvidence, list[PodEvidence], list[PodEvidence], str] | None:
    """The newest recent write of a Secret or ConfigMap that the workload's running, ready
    replicas of one revision (one owner) read through their environment, when some of them
    started before it and some after: (the write, the pods before, the pods after, how they
    read it)."""
    workload = evidence.workload
    if workload is None or workload.ref.kind not in ACTION_TARGET_KINDS[Action.RESTART]:
        return None
    now = timestamp(evidence.collected_at)
    writes = sorted(
        (
            c
            for c in evidence.changes
            if c.kind == "config"
            and c.object.kind in ("Secret", "ConfigMap")
            and c.at is not None
            and 0 <= now - timestamp(c.at) <= RECENT_ROLLOUT.total_seconds()
        ),
        key=lambda c: -timestamp(c.at or evidence.collected_at),
    )
    for write in writes:
        at = timestamp(write.at or evidence.collected_at)
        readers = [
            (p, via)
            for p in evidence.pods
            if p.namespace == write.object.namespace
            and (via := _reads_through_env(p, write.object)) is not None
        ]
        if len(readers) < 2 or not all(_healthy(p) for p, _ in readers):
            continue
        if len({p.owner.key() if p.owner else None for p, _ in readers}) != 1:
            continue  # replicas of two revisions: a rollout under way, not a rotation
        starts = [(p, started_at(p)) for p, _ in readers]
        if any(s is None for _, s in starts):
            continue
        before = [p for p, s in starts if s is not None and timestamp(s) < at]
        after = [p for p, s in starts if s is not None and timestamp(s) >= at]
        if before and after:
            return write, before, after, readers[0][1]
    return None


def check_split_config(evidence: Evidence) -> list[Finding]:
    """Replicas that read a rotated Secret or edited ConfigMap through their environment,
    some started before the write and some after, with the symptom after it: restart."""
    found = straddling(evidence)
    onset = earliest_onset(evidence)
    if found is None or onset is None or evidence.workload is None:
        return []
    write, before, after, via = found
    at = write.at or evidence.collected_at
    if timestamp(onset) < timestamp(at) - ONSET_TOLERANCE.total_seconds():
        return []
    target = evidence.workload.ref
    obj = write.object
    written = item(
        f"{obj.kind.lower()}/{obj.namespace}/{obj.name}",
        f"written at {at:%H:%M}" + (f": {write.details[0]}" if write.details else ""),
    )
    read = item(pod_source(before[0]), f"reads {prose.obj(obj)} through {via}")
    old = [
        item(pod_source(p), f"started {started_at(p) or at:%Y-%m-%d %H:%M}, before the write")
        for p in before[:2]
    ]
    new = [
        item(pod_source(p), f"started {started_at(p) or at:%H:%M}, after the write")
        for p in after[:2]
    ]
    text = prose.narrative(
        f"{prose.obj(target)}'s replicas hold different values of {prose.obj(obj)}",
        "restart it",
        aside=f"{len(before)} started before its write, {len(after)} after",
        because=[
            prose.claim(f"{prose.obj(obj)} was written at {at:%H:%M}", written),
            prose.claim(
                "Its containers read it through their environment, resolved only when a "
                "container starts",
                read,
            ),
            prose.claim(
                f"{prose.count(len(before), 'replica')} started before that write and "
                f"{prose.count(len(after), 'replica')} after it, all running and ready",
                *old,
                *new,
            ),
        ],
    )
    return [
        make_finding(
            "split-config",
            Category.CONFIG_MISSING,
            CONFIDENCE.straddled,
            text,
            [written, read, *old, *new],
            Action.RESTART,
            target,
            {},
        )
    ]


SPLIT_CONFIG_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("split-config", (Category.CONFIG_MISSING,), check_split_config),
)
