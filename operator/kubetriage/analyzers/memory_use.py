"""A container's memory use read against its limit: the limit (the container's own, its
workload template's, or kube-state-metrics' plain limit series), the working set's peak in bytes
or as a share of the limit, and whether that peak pressed on the limit. Read by the oom-killed
rule (``oom``); pure functions of Evidence.
"""

from __future__ import annotations

from kubetriage.analyzers.pods import metric_for
from kubetriage.analyzers.support import divides, metrics_named, parse_quantity, workload_container
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import ContainerEvidence

# The share of the memory limit a working set that peaked there pressed on it: with a kill,
# the kill was for memory; with an old kill, memory is climbing back to the next one.
AT_LIMIT = 0.85


def memory_limit(evidence: Evidence, container: ContainerEvidence) -> float | None:
    """The memory limit of ``container`` in bytes, or None when none is known."""
    limit = parse_quantity(container.limits.get("memory"))
    if limit is None:
        template = workload_container(evidence, container.name)
        limit = parse_quantity(template.limits.get("memory")) if template else None
    if limit is None:
        for metric in metrics_named(evidence, "kube_pod_container_resource_limits"):
            is_memory = metric.labels.get("resource") == "memory" or 'resource="memory"' in (
                metric.query
            )
            # A ratio query mentions the limit metric too; only a plain limit is bytes.
            plain = not divides(metric.query)
            if is_memory and plain and metric_for(metric, container.name) and metric.last:
                limit = metric.last
    return limit


def peak_ratio(evidence: Evidence, container: str) -> float | None:
    """The working set's peak share of the limit when a ratio query was run."""
    peaks = [
        m.max
        for m in metrics_named(evidence, "container_memory_working_set_bytes")
        if m.max is not None
        and metric_for(m, container)
        and divides(m.query)
        and "kube_pod_container_resource_limits" in m.query
    ]
    return max(peaks) if peaks else None


def peak_working_set(evidence: Evidence, container: str) -> float | None:
    """The working set's peak in bytes over the plain (not ratio) series of ``container``."""
    peaks = [
        m.max
        for m in metrics_named(evidence, "container_memory_working_set_bytes")
        if m.max is not None and metric_for(m, container) and not divides(m.query)
    ]
    return max(peaks) if peaks else None


def presses_limit(evidence: Evidence, container: ContainerEvidence) -> bool:
    """Whether the working set of ``container`` was read peaking at ``AT_LIMIT`` of its limit
    or more: memory climbing back to the limit keeps an old kill part of the incident."""
    limit = memory_limit(evidence, container)
    peak = peak_working_set(evidence, container.name)
    if limit and peak:
        return peak / limit >= AT_LIMIT
    ratio = peak_ratio(evidence, container.name)
    return ratio is not None and ratio >= AT_LIMIT
