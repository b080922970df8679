"""What the cluster reported, for analyzer tests: Events, log tails and metric summaries
(among them the HTTP 5xx ratio).
"""

from __future__ import annotations

from typing import Literal

from kubetriage.models.base import ObjectRef
from kubetriage.models.signals import (
    EventEvidence,
    LogSource,
    LogTail,
    MetricSummary,
)
from tests.support.evidence_time import ago


def event(
    reason: str,
    message: str,
    *,
    name: str,
    kind: str = "Pod",
    namespace: str | None = "shop",
    type_: str = "Warning",
    count: int = 1,
) -> EventEvidence:
    return EventEvidence(
        type=type_,
        reason=reason,
        message=message,
        involved=ObjectRef(kind=kind, namespace=namespace, name=name),
        count=count,
        first_seen=ago(30),
        last_seen=ago(1),
    )


def log(
    pod_name: str,
    container_name: str,
    text: str,
    *,
    namespace: str = "shop",
    source: LogSource = "scope",
) -> LogTail:
    """A log tail read for ``source`` (default: one of the incident's own pods)."""
    return LogTail(
        namespace=namespace,
        pod=pod_name,
        container=container_name,
        lines=[line for line in text.strip().splitlines() if line.strip()],
        source=source,
    )


def metric(
    query: str,
    *,
    last: float,
    first: float | None = None,
    max_: float | None = None,
    min_: float | None = None,
    name: str | None = None,
    labels: dict[str, str] | None = None,
    trend: Literal["rising", "falling", "flat", "unknown"] = "unknown",
    changed_minutes_ago: float | None = None,
) -> MetricSummary:
    """A metric's summary; ``changed_minutes_ago``: when its level stepped."""
    values = [v for v in (first, last, max_, min_) if v is not None]
    changed = {} if changed_minutes_ago is None else {"changed_at": ago(changed_minutes_ago)}
    return MetricSummary(
        name=name or query.split("{", 1)[0],
        query=query,
        labels=labels or {},
        last=last,
        first=first,
        min=min_ if min_ is not None else min(values),
        max=max_ if max_ is not None else max(values),
        trend=trend,
        samples=60,
        **changed,
    )


def error_ratio(
    *,
    first: float,
    last: float,
    changed_minutes_ago: float,
    job: str | None = "checkout",
    trend: Literal["rising", "falling", "flat", "unknown"] = "unknown",
) -> MetricSummary:
    """The ratio of HTTP 5xx answers (of ``job``'s requests, or of all without a job),
    stepping from ``first`` to ``last`` ``changed_minutes_ago``."""
    errors, total = (
        (f'{{job="{job}",code=~"5.."}}', f'{{job="{job}"}}') if job else ('{code=~"5.."}', "")
    )
    query = (
        f"sum(rate(http_requests_total{errors}[5m])) / sum(rate(http_requests_total{total}[5m]))"
    )
    return metric(
        query,
        name="http_5xx_ratio",
        first=first,
        last=last,
        trend=trend,
        changed_minutes_ago=changed_minutes_ago,
    )
