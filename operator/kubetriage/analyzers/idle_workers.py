"""Workers that went idle while their calls to a dependency time out: waiting, not working.

An autoscaler that scales on a backlog (a queue's length, consumer lag, requests in flight)
adds replicas whenever work waits, whatever keeps it waiting. When a callee slows, each
worker holds its job while it waits for the answer: the backlog grows, the autoscaler runs
its maximum, and the pods' CPU falls to a fraction of what it was, for they wait rather
than compute. An SRE reads a maximum reached by pods that went idle, whose logs say their
calls time out, as a slow dependency: more replicas would wait on it too. Pods that started
during the window (already idle when they began) say nothing either way; a pod whose CPU
rose says the work grew, and then the pods are not idle.

Pure functions of Evidence; used by the autoscaler doubts
(``kubetriage.analyzers.autoscaler_doubts``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.calls import dependency_hits
from kubetriage.analyzers.log_signatures import ANSWER_TIMEOUT_LOG
from kubetriage.analyzers.support import (
    CPU_USAGE,
    RISE,
    divides,
    item,
    metric_growth,
    metrics_named,
)
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem
from kubetriage.models.object_evidence import MetricSummary


@dataclass(frozen=True, slots=True)
class _Idle:
    """When a pod's CPU use says it went idle."""

    # A pod now using at most this share of the CPU it used at the window's start waits.
    share: float = 0.35
    # Below this many cores at the start, a pod was never busy enough for its fall to say so.
    busy_cores: float = 0.05


IDLE: Final = _Idle()


def _usage_rates(evidence: Evidence) -> list[MetricSummary]:
    """The workload's CPU usage rate series (cores): never a raw counter, nor a ratio."""
    return [
        m
        for m in metrics_named(evidence, CPU_USAGE)
        if "rate(" in m.query and not divides(m.query.split("rate(", 1)[0])
    ]


def went_idle(evidence: Evidence) -> list[MetricSummary]:
    """The workload's pods whose CPU use fell to IDLE.share of what it was or less, from at
    least IDLE.busy_cores; empty when any of its pods' CPU rose by RISE or more."""
    fell: list[MetricSummary] = []
    for metric in _usage_rates(evidence):
        growth = metric_growth(metric)
        if growth is None:
            continue
        if growth >= RISE:
            return []
        first = metric.first if metric.first is not None else metric.min
        if first is not None and first >= IDLE.busy_cores and growth <= IDLE.share:
            fell.append(metric)
    return fell


def idle_waiting(evidence: Evidence) -> tuple[str, EvidenceItem] | None:
    """Why the workload's autoscaler at its maximum is not short of replicas: its pods went
    idle (``went_idle``) while its logs say calls to something else time out waiting for an
    answer; they wait on that callee. None otherwise."""
    waits = [h for h in dependency_hits(evidence) if ANSWER_TIMEOUT_LOG.search(h.line)]
    idle = went_idle(evidence)
    if not waits or not idle:
        return None
    metric = idle[0]
    first = metric.first if metric.first is not None else metric.min
    pod = metric.labels.get("pod", "")
    fact = item(
        "metrics",
        f"{metric.name or metric.query}{f' {pod}' if pod else ''}: "
        f"{prose.number(first or 0.0)} -> {prose.number(metric.last or 0.0)} cores",
    )
    return (
        f"Its pods' CPU use fell as the backlog grew ({prose.count(len(idle), 'pod')} "
        "down to a third or less) while their calls to a dependency time out: they wait on "
        "it, and more replicas would wait too",
        fact,
    )
