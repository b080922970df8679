"""CFS throttling as the metric summaries show it: the share of a container's CFS periods in
which the kernel throttled it, from a ratio query or from the two counters' increases. Read
by the cpu-throttling rule (``metrics``) and by the saturation rule, which must not call a
throttled pod short of replicas.

Pure functions of Evidence.
"""

from __future__ import annotations

import re

from kubetriage.analyzers.support import metrics_named, parse_quantity, workload_container
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import ContainerEvidence, MetricSummary

# Shares of CFS periods throttled: enough to slow the process, and heavily.
THROTTLED_SHARE = 0.25
HEAVILY_THROTTLED_SHARE = 0.5
# CPU usage at this share of the limit or above is pinned at it (rates are averaged over 5m).
PINNED_SHARE = 0.9

THROTTLED = "container_cpu_cfs_throttled_periods_total"
PERIODS = "container_cpu_cfs_periods_total"
# The throttled share of the containers of workloads the incident's workload calls.
CALLEE_THROTTLED = "callee_cpu_throttled_ratio"
# The throttled share of every container of the namespace (a namespace-wide incident).
NAMESPACE_THROTTLED = "namespace_cpu_throttled_ratio"
# The throttled share of every container of the workload's namespace (a latency incident).
NEIGHBOUR_THROTTLED = "neighbour_cpu_throttled_ratio"
# Series about other pods than the incident's own, read per pod, never by container name.
_OTHER_PODS = frozenset({CALLEE_THROTTLED, NAMESPACE_THROTTLED, NEIGHBOUR_THROTTLED})


def cpu_limit(evidence: Evidence, container: ContainerEvidence) -> float | None:
    """The container's CPU limit, from the pod or else from the workload's pod template;
    None without one (no CFS quota)."""
    limit = parse_quantity(container.limits.get("cpu"))
    if limit is None:
        template = workload_container(evidence, container.name)
        limit = parse_quantity(template.limits.get("cpu")) if template else None
    return limit


def container_of(metric: MetricSummary) -> str | None:
    """The container a series is of: its label, or the matcher in its query."""
    if "container" in metric.labels:
        return metric.labels["container"]
    match = re.search(r'container="([^"]+)"', metric.query)
    return match.group(1) if match else None


def _delta(metric: MetricSummary) -> float | None:
    low = metric.first if metric.first is not None else metric.min
    if metric.last is None or low is None:
        return None
    return metric.last - low


def throttle_ratios(evidence: Evidence) -> dict[str | None, float]:
    """Throttled share of CFS periods per container: a ratio query's value, or the ratio of
    the two counters' increases over the window."""
    ratios: dict[str | None, float] = {}
    throttled = [m for m in metrics_named(evidence, THROTTLED) if m.name not in _OTHER_PODS]
    periods = [
        m
        for m in metrics_named(evidence, PERIODS)
        if THROTTLED not in m.query and m.name not in _OTHER_PODS
    ]
    for metric in throttled:
        container = container_of(metric)
        if PERIODS in metric.query or "ratio" in metric.name:
            value = metric.last if metric.last is not None else metric.max
            if value is not None:
                ratios[container] = max(ratios.get(container, 0.0), value)
            continue
        partner = next((p for p in periods if container_of(p) == container), None)
        if partner is None:
            continue
        done, total = _delta(metric), _delta(partner)
        if done is None or not total or total <= 0:
            continue
        ratios[container] = max(ratios.get(container, 0.0), done / total)
    return ratios


def namespace_throttle_ratio(evidence: Evidence, pod: str, container: str) -> float | None:
    """Throttled share of CFS periods of one pod's container, from the namespace-wide series
    (an incident whose alert names no workload), None without such a series."""
    for metric in evidence.metrics:
        labels = metric.labels
        if metric.name != NAMESPACE_THROTTLED:
            continue
        if labels.get("pod") != pod or labels.get("container") != container:
            continue
        return metric.last if metric.last is not None else metric.max
    return None


def of_workload(metric: MetricSummary, ref: ObjectRef) -> bool:
    """Whether a per-pod series of another workload's pods (``CALLEE_THROTTLED``) is of a pod
    of ``ref``: its namespace, and a pod named after it."""
    pod = metric.labels.get("pod", "")
    return metric.labels.get("namespace") == ref.namespace and pod.startswith(f"{ref.name}-")


def request_path_hops(evidence: Evidence) -> list[ObjectRef]:
    """The workloads in front of the incident's workload that every request to it crosses:
    the backends an alerted Ingress sends to (``DependencyEvidence.in_request_path``) and the
    proxies and caches a mounted file routes to its Services (``CallerEvidence.fronts``)."""
    hops = [d.workload for d in evidence.dependencies if d.in_request_path() and d.workload]
    return hops + [c.ref for c in evidence.callers if c.fronts() and c.ref not in hops]


def request_path_throttle_steps(evidence: Evidence) -> list[MetricSummary]:
    """The throttled-share series of the hops in the request path in front of the workload
    (``request_path_hops``) that stepped up: a proxy every request crosses began stalling
    them then, the symptom's first sign however late the alert fired."""
    hops = request_path_hops(evidence)
    return [
        metric
        for metric in evidence.metrics
        if metric.name == CALLEE_THROTTLED
        and metric.changed_at is not None
        and metric.trend == "rising"
        and (metric.last or 0.0) >= THROTTLED_SHARE
        and any(of_workload(metric, ref) for ref in hops)
    ]


def workload_throttle_shares(evidence: Evidence, ref: ObjectRef) -> dict[str, float]:
    """Throttled share of CFS periods per container of another workload's pods (``ref``, not
    the incident's own): its per-pod ratio series (``CALLEE_THROTTLED``), or the two
    counters' increases of its pods, the highest of its pods per container."""
    shares: dict[str, float] = {}

    def keep(container: str, share: float) -> None:
        shares[container] = max(shares.get(container, 0.0), share)

    counters: dict[tuple[str, str], dict[str, float]] = {}
    for metric in evidence.metrics:
        if not of_workload(metric, ref):
            continue
        container = metric.labels.get("container", "")
        if metric.name == CALLEE_THROTTLED:
            value = metric.last if metric.last is not None else metric.max
            if value is not None and container:
                keep(container, value)
        elif metric.name in (THROTTLED, PERIODS) and (delta := _delta(metric)) is not None:
            counters.setdefault((metric.labels.get("pod", ""), container), {})[metric.name] = delta
    for (_, container), deltas in counters.items():
        total = deltas.get(PERIODS)
        if container and total and total > 0 and THROTTLED in deltas:
            keep(container, deltas[THROTTLED] / total)
    return shares
