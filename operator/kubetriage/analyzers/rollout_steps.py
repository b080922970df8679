"""What stepped up after a workload's revision rolled out, as the bad-rollout rule reads it:
error-rate series that at least doubled, latency that rose or CPU usage that doubled at or
after the rollout (not traffic, which is demand, nor another workload's series; a step long
after the rollout, while nothing filled since, is not the revision's), and server errors only
in the new revision's pods while the previous revision's pods, serving beside them, log none.

Read by ``kubetriage.analyzers.rollout``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from datetime import datetime

from kubetriage import prose
from kubetriage.analyzers.demand import ERROR_NAME, LATENCY_NAME, is_rate, is_traffic
from kubetriage.analyzers.log_signatures import SERVER_ERROR_LOG
from kubetriage.analyzers.onset import filling_since, series_onset, stepped_long_after
from kubetriage.analyzers.support import (
    CPU_USAGE,
    DOUBLING,
    RISE,
    grep_logs,
    item,
    log_source,
    logs_of,
    metric_growth,
    of_callee,
    timestamp,
)
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem
from kubetriage.models.object_evidence import PodEvidence


def errors_only_in_new_pods(
    evidence: Evidence, new_pods: list[PodEvidence], old_healthy: list[PodEvidence]
) -> list[EvidenceItem]:
    """Server errors in the logs of the new revision's pods while the previous revision's
    pods, serving beside them (a paused or partial rollout), log none: the same requests
    fail only on the new code, whatever callee the errors name."""
    old_read = [logs_of(evidence, p) for p in old_healthy]
    old_read = [logs for logs in old_read if any(log.lines for log in logs)]
    if not old_read or any(grep_logs(logs, SERVER_ERROR_LOG, limit=1) for logs in old_read):
        return []
    hits = [
        hit for p in new_pods for hit in grep_logs(logs_of(evidence, p), SERVER_ERROR_LOG, limit=2)
    ]
    return [
        item(log_source(hit.log), f"only the new revision logs errors: {hit.line}")
        for hit in hits[:2]
    ]


def errors_rose_after(evidence: Evidence, rolled_out: datetime | None) -> list[EvidenceItem]:
    """Error-rate series (5xx ratios...) that stepped up at or after the rollout."""
    return _rose_after(evidence, rolled_out, ERROR_NAME, DOUBLING)


def load_rose_after(evidence: Evidence, rolled_out: datetime | None) -> list[EvidenceItem]:
    """Latency or CPU usage that stepped up at or after the rollout: with traffic unchanged,
    the new code does more work per request (a costly regex, a lost cache, a hot loop)."""
    cpu = re.compile(re.escape(CPU_USAGE))
    return _rose_after(evidence, rolled_out, LATENCY_NAME, RISE) + _rose_after(
        evidence, rolled_out, cpu, DOUBLING
    )


def _rose_after(
    evidence: Evidence, rolled_out: datetime | None, name: re.Pattern[str], factor: float
) -> list[EvidenceItem]:
    if rolled_out is None:
        return []
    facts: list[EvidenceItem] = []
    for metric in evidence.metrics:
        label = f"{metric.name} {metric.query}"
        if not name.search(label) or not is_rate(metric) or metric.last is None:
            continue
        if of_callee(metric):
            continue  # another workload's pods
        if is_traffic(metric):
            continue  # more requests are demand, not the new code's cost
        growth = metric_growth(metric)
        began = series_onset(metric)
        stepped = (
            began is not None
            and timestamp(began) >= timestamp(rolled_out)
            # the new revision served at the earlier level for a while: the step is not its
            and not (stepped_long_after(metric, rolled_out) and not filling_since(evidence))
        )
        if growth is not None and growth >= factor and metric.last > 0 and stepped:
            facts.append(
                item(
                    "metrics",
                    f"{metric.name or metric.query} rose to {prose.number(metric.last)} "
                    "after the rollout",
                )
            )
    return facts
