"""Request workers killed for outliving their timeout, read as calls that did not come back.

A prefork web server kills a worker whose request ran past its timeout: gunicorn logs
``WORKER TIMEOUT (pid:N)`` (and, when the worker has to be SIGKILLed, ``Perhaps out of
memory?``, which it writes for any SIGKILL), unicorn ``worker=N PID:N timeout (31s > 30s),
killing``, Puma ``Terminating timed out worker``. The request either computed that long or
waited that long. An SRE tells them apart by the workload's CPU: a worker that computes
past its timeout shows as CPU throttled or pinned at its limit, or as more requests per
pod; with the CPU neither throttled nor at its limit, the request rate not risen and no
rollout of the workload in the last hours, the worker waited, on a call to something it
depends on. Those lines are then failing calls without a host, which the dependency-failure
rule matches against the Services the workload's configuration names.

Pure functions of Evidence; used by ``kubetriage.analyzers.dependency_failure``.
"""

from __future__ import annotations

import re
from typing import Final

from kubetriage.analyzers.cfs import (
    PINNED_SHARE,
    THROTTLED_SHARE,
    container_of,
    cpu_limit,
    throttle_ratios,
)
from kubetriage.analyzers.demand import traffic_rose
from kubetriage.analyzers.recency import own_rollouts_within
from kubetriage.analyzers.support import (
    CPU_USAGE,
    LogHit,
    divides,
    grep_logs,
    iter_containers,
    metrics_named,
)
from kubetriage.models.evidence import Evidence

WORKER_TIMEOUT_LOG: Final = re.compile(
    r"\bWORKER TIMEOUT \(pid:\d+\)"  # gunicorn's arbiter
    r"|\btimeout \(\d+s > \d+s\), killing\b"  # unicorn's master
    r"|\bTerminating timed out worker\b"  # Puma's cluster mode
)


def _cpu_bound(evidence: Evidence) -> bool:
    """Whether a container of the workload is throttled (THROTTLED_SHARE of its CFS periods
    or more) or its CPU usage runs at its limit (PINNED_SHARE)."""
    if any(share >= THROTTLED_SHARE for share in throttle_ratios(evidence).values()):
        return True
    limits = _cpu_limits(evidence)
    for metric in metrics_named(evidence, CPU_USAGE):
        if "rate(" not in metric.query or divides(metric.query) or metric.max is None:
            continue
        name, distinct = container_of(metric), set(limits.values())
        # A series for no named container is the pod's: it has the one limit there is.
        limit = limits.get(name) if name else (min(distinct) if len(distinct) == 1 else None)
        if limit is not None and metric.max >= PINNED_SHARE * limit:
            return True
    return False


def _cpu_limits(evidence: Evidence) -> dict[str, float]:
    """The CPU limit of each container of the workload's pods (or its pod template)."""
    limits: dict[str, float] = {}
    for _, container in iter_containers(evidence, include_init=False):
        limit = cpu_limit(evidence, container)
        if limit is not None:
            limits[container.name] = limit
    return limits


def waiting_worker_timeouts(evidence: Evidence) -> list[LogHit]:
    """The workload's worker-timeout lines when its workers were waiting, not computing: its
    CPU neither throttled nor at its limit, its request rate not risen, and no rollout of it
    lately. Empty otherwise."""
    hits = grep_logs(evidence.logs, WORKER_TIMEOUT_LOG, limit=20)
    if not hits or _cpu_bound(evidence) or traffic_rose(evidence):
        return []
    if own_rollouts_within(evidence):
        return []
    return hits
