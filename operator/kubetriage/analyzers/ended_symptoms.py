"""A symptom that ended while the suspect revision still serves does not indict it: the failures
a workload counted rose after its rollout, then stopped, and every replica has run the new
revision without them since. A release that breaks a workload keeps breaking it as long as it
runs; one that served cleanly for minutes after the burst did not cause the burst (a rollout's
pod turnover, a record created a moment late, a dependency that recovered). With no other
suspect, an SRE escalates (unknown) instead of rolling back a revision that works.

Read by ``changes.explaining_change`` (a change whose symptom ended explains nothing);
pure functions of Evidence.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Final

from kubetriage.analyzers.demand import counts_failures
from kubetriage.analyzers.onset import symptom_series
from kubetriage.analyzers.revisions import current_and_previous_revision, pod_revision
from kubetriage.analyzers.support import RATE_FUNCTION, item, of_callee, timestamp
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem
from kubetriage.models.object_evidence import ChangeEvidence, MetricSummary

# A failure series that has not moved for this long has stopped: the workload fails no more.
QUIET: Final = timedelta(minutes=5)
# A counter read as is, and a query that turns one into a rate.
_RAW_COUNTER: Final = re.compile(r"_(total|count)\b")


def _own(evidence: Evidence, metric: MetricSummary) -> bool:
    """Whether the series is the workload's: not a callee's, and its labels name none of
    another namespace's or another workload's pods (a caller's errors are the caller's)."""
    if of_callee(metric):
        return False
    workload = evidence.workload.ref if evidence.workload is not None else None
    namespace = metric.labels.get("namespace")
    if namespace is not None and workload is not None and namespace != workload.namespace:
        return False
    pod = metric.labels.get("pod")
    return pod is None or any(p.name == pod for p in evidence.pods)


def _moved_after(metric: MetricSummary, change: ChangeEvidence) -> bool:
    """Whether the series was still moving after the change: its final run of equal values
    began after it."""
    return (
        change.at is not None
        and metric.held_since is not None
        and metric.first_at is not None
        and timestamp(metric.held_since) > timestamp(change.at)
        and timestamp(metric.held_since) > timestamp(metric.first_at)
    )


def _stopped(metric: MetricSummary) -> bool:
    """Whether the value it holds means no more failures: a raw counter (``..._total``, no
    ``rate()``) that holds its highest value counts none; a rate or ratio must hold its
    lowest, the level it began at (one that holds a high value fails all along)."""
    if metric.last is None:
        return False
    if _RAW_COUNTER.search(metric.query) and not RATE_FUNCTION.search(metric.query):
        return metric.last == metric.max
    return metric.last == metric.min and metric.first is not None and metric.last <= metric.first


def _quiet(evidence: Evidence, metric: MetricSummary) -> bool:
    """Whether the series has held a value that means no more failures (``_stopped``) for
    ``QUIET`` or longer."""
    if metric.held_since is None or not _stopped(metric):
        return False
    held = timestamp(evidence.collected_at) - timestamp(metric.held_since)
    return held >= QUIET.total_seconds()


def _serving_current(evidence: Evidence, change: ChangeEvidence) -> bool:
    """Whether every pod of the workload runs the revision the change rolled out, ready and
    never restarted."""
    current, _ = current_and_previous_revision(evidence)
    if current is None or change.to_revision is None or current.revision != change.to_revision:
        return False
    if not evidence.pods or change.at is None:
        return False
    for pod in evidence.pods:
        ours = pod_revision(pod, evidence)
        if ours is None or ours.name != current.name:
            return False
        for container in pod.containers:
            if container.ready is not True or container.state.state != "running":
                return False
            if container.restart_count:
                return False  # its pods began after the change: any restart came since
    return True


def symptom_ended(evidence: Evidence, change: ChangeEvidence) -> EvidenceItem | None:
    """The fact that the failures which rose after the workload's rollout ``change`` have
    stopped while its new revision still serves every replica (module doc); None when the
    evidence does not show it: no failure series moved after the change, one still moves (or
    another symptom series still rises), or a replica is not the new revision's, not ready, or
    restarted since."""
    if change.kind != "rollout":
        return None
    failures = [m for m in evidence.metrics if counts_failures(m) and _own(evidence, m)]
    moved = [m for m in failures if _moved_after(m, change)]
    if not moved or not all(_quiet(evidence, m) for m in moved):
        return None
    if any(not _quiet(evidence, m) for m in symptom_series(evidence)):
        return None  # another symptom (latency, memory, restarts) still rises
    if not _serving_current(evidence, change):
        return None
    last = max(moved, key=lambda m: timestamp(m.held_since or evidence.collected_at))
    stopped = last.held_since or evidence.collected_at
    return item(
        "metrics",
        f"{last.name or last.query} has not risen since {stopped:%H:%M} while every replica "
        f"runs revision {change.to_revision}",
    )
