"""Clients waiting for a pooled connection: the symptom a connection pool shows when the
server behind it answers late. A pooler (PgBouncer's ``cl_waiting``, ProxySQL's queued
connections) or a client library's pool (pending leases, pending acquires) holds a fixed
number of server connections; when each call on them takes longer, the connections stay
busy and new callers queue for one. An SRE reads "clients waiting" as the caller being
slower at its work, the same as a latency alert: the question is then why the server behind
the pool is slow (its CPU quota, its locks, its disk), not whether the pool is too small.

Read by the callee-throttling rule (``metrics``): a pool's waiting clients while the workload
it pools for is throttled by its CPU limit are that throttling's symptom.

Pure functions of Evidence.
"""

from __future__ import annotations

import re
from typing import Final

from kubetriage.analyzers.support import item
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem
from kubetriage.models.object_evidence import MetricSummary

# An alert (name or summary) that says callers wait or are pending ...
_WAITING: Final = re.compile(r"(?i)(waiting|pending|queued)")
# ... for a connection of a pool (not a container waiting, not a pod pending).
_POOLED: Final = re.compile(r"(?i)(client|connection|pool|lease|acquire)")
# Series counting the clients that wait for a pooled connection: PgBouncer's exporter
# (``pgbouncer_pools_client_waiting_connections``, ``cl_waiting``), client pools' pending
# leases or acquires (Micrometer's ``*_pool_*_pending``, HikariCP's ``pending``).
_WAITING_SERIES: Final = re.compile(
    r"(?i)(client_?waiting|cl_waiting|waiting_(client|connection)|"
    r"pool_\w*pending|pending_(lease|acquire|connection|thread))"
)
# Fewer waiting clients than this is a blip, not a queue.
QUEUED: Final = 5.0


def _queue_grew(metric: MetricSummary) -> bool:
    """Whether the series began near empty and holds a queue now (or at its peak)."""
    low = metric.first if metric.first is not None else metric.min
    high = metric.last if metric.last is not None else metric.max
    return low is not None and high is not None and low < 1.0 and high >= QUEUED


def pool_waits(evidence: Evidence) -> list[EvidenceItem]:
    """Clients queueing for a pooled connection, as one fact: a firing alert that says so,
    else a waiting-clients series that grew from empty to a queue. Empty otherwise."""
    for alert in evidence.alerts:
        if alert.status == "resolved":
            continue
        name = alert.labels.get("alertname", "alert")
        text = f"{name} {alert.annotations.get('summary', '')}"
        if _WAITING.search(text) and _POOLED.search(text):
            return [item("alert", f"{name} fires: clients wait for a pooled connection")]
    for metric in evidence.metrics:
        if _WAITING_SERIES.search(f"{metric.name} {metric.query}") and _queue_grew(metric):
            low = metric.first if metric.first is not None else metric.min
            high = metric.last if metric.last is not None else metric.max
            return [item("metrics", f"{metric.name}: {low:g} -> {high:g} clients waiting")]
    return []
