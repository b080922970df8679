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

The same start-time split read the other way: after a write of a ConfigMap or Secret the
workload's replicas read (through env or a mounted file, which most programs read once, at
start), the replicas of one revision started since the write exit on their own again and again
while a replica started before it runs untouched. The write went unnoticed until pods were
recreated (a drained node, an eviction, a scale-out), so the symptom comes hours after it and
no rollout lies between: the written object is what the new processes cannot start with, and
the fix is to correct it (a restart would break the last healthy replica too).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.changes import dependency_outage
from kubetriage.analyzers.onset import ONSET_TOLERANCE, earliest_onset
from kubetriage.analyzers.recency import RECENT_ROLLOUT
from kubetriage.analyzers.support import item, object_source, pod_source, timestamp
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ChangeEvidence, ContainerEvidence, PodEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a split-configuration finding is, by the evidence that earns it."""

    # Every replica runs and is ready, some started before the write of an object they read
    # through their environment and some after, and the symptom began after the write: the
    # replicas disagree on its value. Above an escalation of the healthy-looking workload.
    straddled: float = 0.74
    # Replicas of one revision started since the write of an object they read exit on their
    # own, a replica started before it runs with no restart: above a bare crash loop.
    broken_since_write: float = 0.84


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


def config_writes(evidence: Evidence) -> list[ChangeEvidence]:
    """The timed writes of Secrets and ConfigMaps in the change timeline, newest first."""
    return sorted(
        (
            c
            for c in evidence.changes
            if c.kind == "config" and c.object.kind in ("Secret", "ConfigMap") and c.at is not None
        ),
        key=lambda c: -timestamp(c.at or evidence.collected_at),
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
    window = RECENT_ROLLOUT.total_seconds()
    for write in config_writes(evidence):
        if not 0 <= now - timestamp(write.at or evidence.collected_at) <= window:
            continue
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
        object_source(obj),
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


def _reads(pod: PodEvidence, ref: ObjectRef) -> str | None:
    """How the pod reads ``ref`` (env, envFrom, a volume), if it does."""
    for config in pod.config_refs:
        if config.kind == ref.kind and config.name == ref.name:
            return config.via
    return None


def _exits_on_its_own(pod: PodEvidence) -> ContainerEvidence | None:
    """An app container that has restarted after exiting non-zero by itself (not killed for
    memory): the process cannot keep running."""
    for c in pod.containers:
        last = c.last_state
        if (
            not c.init
            and c.restart_count > 0
            and last is not None
            and last.state == "terminated"
            and last.exit_code not in (None, 0)
            and last.reason != "OOMKilled"
        ):
            return c
    return None


def _untouched(pod: PodEvidence) -> bool:
    return _healthy(pod) and all(c.restart_count == 0 for c in pod.containers if not c.init)


def broken_since_write(
    evidence: Evidence,
) -> tuple[ChangeEvidence, list[PodEvidence], list[PodEvidence], str] | None:
    """The newest write of a ConfigMap or Secret the workload's replicas of one revision read,
    when every replica started since it exits on its own and one started before it runs with
    no restart, not split by node: (the write, the pods before, the pods since, how they read
    it)."""
    if evidence.workload is None or dependency_outage(evidence) is not None:
        return None  # new processes that need a callee down at start fail the same way
    for write in config_writes(evidence):
        at = timestamp(write.at or evidence.collected_at)
        readers = [
            (p, via)
            for p in evidence.pods
            if p.namespace == write.object.namespace
            and (via := _reads(p, write.object)) is not None
        ]
        if len({p.owner.key() if p.owner else None for p, _ in readers}) != 1:
            continue  # replicas of two revisions: the template differs too
        starts = [(p, started_at(p)) for p, _ in readers]
        if any(s is None for _, s in starts):
            continue
        before = [p for p, s in starts if s is not None and timestamp(s) < at]
        since = [p for p, s in starts if s is not None and timestamp(s) >= at]
        if not since or not any(_untouched(p) for p in before):
            continue
        if not all(_exits_on_its_own(p) for p in since):
            continue  # a replica started since the write runs: the write is not the cause
        if any(_exits_on_its_own(p) for p in before):
            continue  # replicas older than the write fail too
        failing_nodes = {p.node for p in since}
        if len(failing_nodes) == 1 and not any(p.node in failing_nodes for p in before):
            continue  # the split follows a node as well as the write: the node's rule decides
        return write, [p for p in before if _untouched(p)], since, readers[0][1]
    return None


def check_broken_since_write(evidence: Evidence) -> list[Finding]:
    """Replicas started since a ConfigMap or Secret they read was written crash at start,
    one started before runs: correct the object."""
    found = broken_since_write(evidence)
    if found is None:
        return []
    write, before, since, via = found
    obj = write.object
    at = write.at or evidence.collected_at
    written = item(
        object_source(obj),
        f"written at {at:%Y-%m-%d %H:%M}" + (f": {write.details[0]}" if write.details else ""),
    )
    read = item(pod_source(since[0]), f"reads {prose.obj(obj)} through {via}")
    exited = [
        item(
            pod_source(p),
            f"started {started_at(p) or at:%H:%M}, after the write; {c.name} exited "
            f"{c.last_state.exit_code if c.last_state else '?'}, restarted "
            f"{prose.count(c.restart_count, 'time')}",
        )
        for p in since[:2]
        if (c := _exits_on_its_own(p)) is not None
    ]
    old = [
        item(pod_source(p), f"started {started_at(p) or at:%Y-%m-%d %H:%M}, before the write; runs")
        for p in before[:1]
    ]
    text = prose.narrative(
        f"{prose.obj(obj)} as written at {at:%H:%M} breaks the start of "
        f"{prose.obj(evidence.workload.ref if evidence.workload else obj)}",
        f"correct {obj.kind} {obj.name}",
        aside=f"{len(since)} started since its write and crash, {len(before)} before it runs",
        because=[
            prose.claim(f"{prose.obj(obj)} was written at {at:%H:%M}", written),
            prose.claim("The replicas read it when they start", read),
            prose.claim(
                "Every replica started since that write exits on its own, while one of the "
                "same revision started before it runs",
                *exited,
                *old,
            ),
        ],
    )
    return [
        make_finding(
            "broken-since-write",
            Category.CONFIG_MISSING,
            CONFIDENCE.broken_since_write,
            text,
            [written, read, *exited, *old],
            Action.FIX_CONFIG,
            obj,
            {},
        )
    ]


SPLIT_CONFIG_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("split-config", (Category.CONFIG_MISSING,), check_split_config),
    Analyzer("broken-since-write", (Category.CONFIG_MISSING,), check_broken_since_write),
)
