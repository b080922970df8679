"""The replica-lag rule: a followed dependency is a database or cache replica whose own
exporter says it fell behind its primary during the window (postgres_exporter's replication
lag, mysqld_exporter's ``Seconds_Behind_Master``, redis_exporter's silence from the master),
while its caller is alerted as failing or slow. Every pod of it is up and ready, so nothing
in the cluster looks wrong: what the caller reads from it is stale (a row it just wrote is
not there yet), and the replica's apply is stuck (a long query holding a recovery conflict,
a saturated disk, a broken stream). That is ``dependency-failure`` on the Service the caller
reads through, escalated to its owner: no action of the caller fixes the replica's replay,
and rolling the caller back would not bring the rows.

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
    """How sure a lagging-replica finding is, by the evidence that earns it."""

    # The replica's own exporter shows it falling behind within the window, and the caller
    # is alerted as failing or slow (or fails on it in its own words): above the caller's
    # surface and a rollout of the caller that only carried the stale reads.
    lagging: float = 0.86


CONFIDENCE: Final = _Confidence()

# The query (``kubetriage.evidence.query_templates``) of each callee pod's replication lag.
REPLICATION_LAG = "callee_replication_lag_seconds"
# How far behind a replica serves reads a client notices as missing: beyond the retries and
# short waits a read-after-write client allows (seconds).
STALE_SECONDS = 30.0


def fell_behind(metric: MetricSummary) -> bool:
    """Whether a replica's lag series shows it falling behind within the window: it lags
    ``STALE_SECONDS`` or more now, was caught up at some point of the window, and is not
    catching up (a replica delayed on purpose lags the same all along)."""
    if metric.last is None or metric.min is None:
        return False
    return metric.last >= STALE_SECONDS > metric.min and metric.trend != "falling"


def check_replica_lag(evidence: Evidence) -> list[Finding]:
    found = faulty_callee(evidence, REPLICATION_LAG, fell_behind)
    if found is None:
        return []
    worst, workload, service = found.worst, found.workload, found.service
    pod, since = found.pod(), found.since()
    lag = item(
        "metrics",
        f"replication lag of {pod} is {prose.duration(worst.last or 0.0)}{since} "
        f"(lowest {prose.duration(worst.min or 0.0)} in the window)",
    )
    facts = found.facts(lag)
    who = caller(evidence)
    return [
        make_finding(
            "replica-lag",
            Category.DEPENDENCY_FAILURE,
            CONFIDENCE.lagging,
            prose.narrative(
                f"{prose.obj(service)} serves {who} from a replica that fell behind its primary",
                f"escalate to the owner of {prose.obj(workload)} to find what holds "
                "its replay (a long query, its disk, its stream)",
                because=[
                    prose.claim(f"{prose.obj(workload)} stopped keeping up", lag),
                    prose.claim(
                        f"{who} reads through {prose.obj(service)} and fails or slows",
                        *facts[1:],
                    ),
                    prose.claim("Its pods are up, so what they serve is stale, not absent"),
                ],
            ),
            facts,
            Action.ESCALATE,
            service,
        )
    ]


REPLICA_LAG_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("replica-lag", (Category.DEPENDENCY_FAILURE,), check_replica_lag),
)
