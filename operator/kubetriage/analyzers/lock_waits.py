"""The lock-wait rule: a followed database's own exporter says its sessions piled up waiting
for a lock within the window (mysqld_exporter's processlist: "Waiting for table metadata
lock", "Waiting for table level lock"), while its caller is alerted as failing or slow (or
fails on it in its own words). Every pod of it is up and ready: its sessions queue behind
whoever holds (or waits for) the lock, a long transaction, a schema change stuck behind one,
an explicit ``LOCK TABLES``. No action of the caller releases it: rolling the caller back, or
adding replicas that open more sessions to queue, treats nothing. That is
``dependency-failure`` on the Service the caller reaches the database through, escalated to
its owner, who finds and ends the holder; it outweighs a rollout of the caller the symptom
merely followed (``changes``).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.callee_exporters import faulty_callee
from kubetriage.analyzers.calls import caller
from kubetriage.analyzers.support import item
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a lock-wait finding is, by the evidence that earns it."""

    # The database's own exporter shows a queue of sessions waiting for a lock that formed
    # within the window, and the caller is alerted as failing or slow (or fails on it in its
    # own words): above the caller's surface and a rollout of the caller (0.88) that the
    # queue followed, as for a database that says it refuses work (0.9).
    piled_up: float = 0.9


CONFIDENCE: Final = _Confidence()

# The query (``kubetriage.evidence.query_templates``) of each callee pod's lock waiters.
LOCK_WAITS = "callee_lock_waiting_sessions"
# Sessions waiting for a lock at once that ordinary contention does not reach: a few waiting
# for a row are a busy database's everyday, tens of them are a queue behind one holder.
PILED_UP = 20.0


def piled_up(metric: MetricSummary) -> bool:
    """Whether a lock-waiters series shows a queue that formed within the window: at least
    ``PILED_UP`` sessions wait now, fewer than a quarter of that did at some point of the
    window, and the queue is not draining."""
    if metric.last is None or metric.min is None:
        return False
    return metric.last >= PILED_UP and metric.min < PILED_UP / 4 and metric.trend != "falling"


def check_lock_waits(evidence: Evidence) -> list[Finding]:
    found = faulty_callee(evidence, LOCK_WAITS, piled_up)
    if found is None:
        return []
    worst, workload, service = found.worst, found.workload, found.service
    pod, since = found.pod(), found.since()
    waiting = item(
        "metrics",
        f"{prose.count(int(worst.last or 0.0), 'session')} of {pod} wait for a lock{since} "
        f"(as few as {int(worst.min or 0.0)} earlier in the window)",
    )
    facts = found.facts(waiting)
    who = caller(evidence)
    return [
        make_finding(
            "lock-waits",
            Category.DEPENDENCY_FAILURE,
            CONFIDENCE.piled_up,
            prose.narrative(
                f"Queries of {who} queue for a lock in {prose.obj(service)}",
                "escalate to its owner to end what holds the lock",
                because=[
                    prose.claim(f"The sessions of {prose.obj(workload)} queue for a lock", waiting),
                    prose.claim(
                        f"{who} queries through {prose.obj(service)} and fails or slows",
                        *facts[1:],
                    ),
                    prose.claim(
                        "Rolling back or scaling the caller only queues more sessions "
                        "behind the same lock"
                    ),
                ],
            ),
            facts,
            Action.ESCALATE,
            service,
        )
    ]


LOCK_WAIT_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("lock-waits", (Category.DEPENDENCY_FAILURE,), check_lock_waits),
)
