"""The store-strain rule: a followed store's own exporter shows it falling behind on its own
work (ClickHouse's parts piling up while merges stall, replicated tables gone read-only, a
Kafka broker's under-replicated partitions, Elasticsearch's pending cluster tasks), and that
climb began before the caller's first failing sign and still holds. An SRE reads it as a
timeline: the store degraded first, the caller failed after, so the store is where the fault
is, whatever the caller changed since (a release 20 minutes into the climb did not start it).
That is ``dependency-failure`` on the Service the caller reaches the store through, escalated
to its owner (who finds the mutation, the lost Keeper session, the slow replica); it outweighs
a rollout of the caller that the symptom merely followed (``changes``).

Not this rule: a store whose climb began after the caller's first sign (the caller's failures
came first: its retries or its load may drive the store), or within ``ONSET_AFTER_CHANGE``
after a change of the caller (the change may be what the store cannot keep up with: smaller
batches make more parts), a caller whose own request rate rose (its load may be what the
store falls behind on), or a series at the level it began at.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.callee_exporters import faulty_callee
from kubetriage.analyzers.calls import caller
from kubetriage.analyzers.demand import traffic_rose
from kubetriage.analyzers.log_signatures import SERVER_ERROR_LOG
from kubetriage.analyzers.onset import ONSET_AFTER_CHANGE, ONSET_TOLERANCE, first_signs
from kubetriage.analyzers.support import RISE, grep_logs, item, metric_growth, timestamp
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a store-strain finding is, by the evidence that earns it."""

    # The store's own exporter shows a climb that began before the caller's first failing
    # sign and before any change of the caller, and still holds, while the caller is alerted
    # or fails on the store: above a rollout of the caller (0.88) the failures followed, as
    # for a database whose sessions queue for a lock (0.9).
    climbed_first: float = 0.9


CONFIDENCE: Final = _Confidence()

# The query (``kubetriage.evidence.query_templates_callees``) of each callee pod's strain.
STORE_STRAIN = "callee_store_strain"
# What each ``signal`` of it counts, as a person reads it.
_COUNTS: Final = {
    "parts_per_partition": "parts in the busiest partition",
    "readonly_replicas": "read-only replicated tables",
    "under_replicated_partitions": "under-replicated partitions",
    "pending_cluster_tasks": "pending cluster tasks",
}
# Signs this far back are of the incident (as ``onset.first_sign_before`` reads them).
_RECENT = timedelta(hours=6)


def first_failing_sign(evidence: Evidence) -> tuple[datetime, EvidenceItem] | None:
    """The caller's earliest sign of the symptom within the last six hours
    (``onset.first_signs``: never a callee's series)."""
    now = timestamp(evidence.collected_at)
    recent = [
        (when, fact)
        for when, fact in first_signs(evidence)
        if now - timestamp(when) <= _RECENT.total_seconds()
    ]
    return min(recent, key=lambda sign: timestamp(sign[0]), default=None)


def _logs_errors(evidence: Evidence) -> bool:
    """Whether the workload's own pods log failures (``SERVER_ERROR_LOG``): an ingester that
    dead-letters its batches says so in its own words, which need not name the store."""
    own = {(pod.namespace, pod.name) for pod in evidence.pods}
    logs = [log for log in evidence.logs if (log.namespace, log.pod) in own]
    return bool(grep_logs(logs, SERVER_ERROR_LOG, limit=1))


def holds_climb(metric: MetricSummary) -> bool:
    """Whether a strain series climbed within the window (``climbed_at`` dates it) to at
    least ``RISE`` times its first level (any level from zero) and holds there: at least
    half-way from its lowest to its highest now, and not falling back."""
    if metric.climbed_at is None or metric.last is None or metric.max is None:
        return False
    low = metric.min if metric.min is not None else 0.0
    growth = metric_growth(metric)
    return (
        growth is not None
        and growth >= RISE
        and metric.last >= low + (metric.max - low) / 2
        and metric.trend != "falling"
    )


def _caller_changed_before(evidence: Evidence, climbed: datetime, store: str) -> bool:
    """Whether something other than the store changed up to ``ONSET_AFTER_CHANGE`` before
    its climb began (or within clock skew after): it may be what the store cannot keep up
    with."""
    at = timestamp(climbed)
    return any(
        change.at is not None
        and change.object.name != store
        and -ONSET_TOLERANCE.total_seconds()
        <= at - timestamp(change.at)
        <= ONSET_AFTER_CHANGE.total_seconds()
        for change in evidence.changes
    )


def check_store_strain(evidence: Evidence) -> list[Finding]:
    sign = first_failing_sign(evidence)
    if sign is None or traffic_rose(evidence):
        return []  # nothing failed yet, or the caller's own load rose: capacity is a rival
    failed_at, failed = sign
    bar = timestamp(failed_at) - ONSET_TOLERANCE.total_seconds()

    def climbed_first(metric: MetricSummary) -> bool:
        return (
            holds_climb(metric)
            and metric.climbed_at is not None
            and timestamp(metric.climbed_at) < bar
        )

    found = faulty_callee(evidence, STORE_STRAIN, climbed_first, failing=_logs_errors(evidence))
    climbed = found.worst.climbed_at if found is not None else None
    if found is None or climbed is None:
        return []
    worst, workload, service = found.worst, found.workload, found.service
    if _caller_changed_before(evidence, climbed, workload.name):
        return []
    counts = _COUNTS.get(worst.labels.get("signal", ""), "its backlog")
    strain = item(
        "metrics",
        f"{counts} of {found.pod()} climbed from {_number(worst.first)} to "
        f"{_number(worst.last)} since {climbed:%H:%M}",
    )
    facts = [*found.facts(strain), failed]
    who = caller(evidence)
    return [
        make_finding(
            "store-strain",
            Category.DEPENDENCY_FAILURE,
            CONFIDENCE.climbed_first,
            prose.narrative(
                f"{prose.obj(service)} fell behind before its caller failed",
                "escalate to its owner",
                because=[
                    prose.claim(f"{prose.obj(workload)} began to fall behind first", strain),
                    prose.claim(
                        f"{who} failed only after, from {failed_at:%H:%M}: "
                        "no change of it since started the climb",
                        failed,
                    ),
                    prose.claim(
                        f"{who} reaches it through {prose.obj(service)}",
                        *facts[1:-1],
                    ),
                ],
            ),
            facts,
            Action.ESCALATE,
            service,
        )
    ]


def _number(value: float | None) -> str:
    """A gauge's value as a person reads it: whole when whole."""
    if value is None:
        return "?"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


STORE_STRAIN_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("store-strain", (Category.DEPENDENCY_FAILURE,), check_store_strain),
)
