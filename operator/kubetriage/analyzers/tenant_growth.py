"""The tenant whose own use grew with a node-level alert: the alert names only a node (its
file descriptors nearly used up, a filesystem filling, its disk I/O saturated), and the
incident's target is that Node. An SRE lists the node's pods, reads each one's own series of
the resource the alert names (the open file descriptors of its processes, its bytes on the
node's disk, its disk writes) and picks the one whose series grew with the alert: when that
workload rolled out a new revision before the growth, the release is what uses the node up,
and it is rolled back; with no change, a workload leaking file descriptors is restarted to
give them back (its owner then looks for the leak).

Silent when the alert's resource has no per-pod series (a filesystem's inodes: cAdvisor's
inode series are the filesystem's, alike for every container on it), when no tenant's series
grew, when the growth is spread over several tenants (none holds ``DOMINANT`` of it), and
for a disk alert without a rollout (the disk's owner decides what to free).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.onset import earliest_onset, follows_within
from kubetriage.analyzers.shared_dependency import rollout_line
from kubetriage.analyzers.support import item, metrics_named, object_source
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.neighbours import NodeTenantEvidence
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a tenant-growth finding is, by the evidence that earns it."""

    # The one tenant whose own series of the node's resource grew with the alert, and whose
    # rollout came before it: the node's own exhaustion findings stay below.
    rollout: float = 0.82
    # The same tenant, unchanged, leaking file descriptors: restarting gives them back.
    leak: float = 0.62


CONFIDENCE: Final = _Confidence()
NAME: Final = "node-tenant-growth"
# The share of all the tenants' growth one tenant must hold to be the node's driver.
DOMINANT: Final = 0.8
# How much a tenant's series must grow over the window (last / first) to count as growing.
GROWTH: Final = 1.1


@dataclass(frozen=True, slots=True)
class _Resource:
    """A node resource an alert can name: the words naming it, the per-pod series measuring
    a tenant's use of it, and how the findings say it."""

    words: re.Pattern[str]
    series: tuple[str, ...]
    said: str
    leaks: bool  # a process holds it until it exits (restarting the workload gives it back)


# Inodes first: "NodeFilesystemFilesFillingUp" also says "filesystem" and "filling".
_INODES: Final = re.compile(r"(?i)(inode|filesystemfiles|files? filling)")
_RESOURCES: Final = (
    _Resource(
        re.compile(r"(?i)(file.?descriptor|filefd|open.?files)"),
        ("process_open_fds", "container_file_descriptors"),
        "open file descriptors",
        leaks=True,
    ),
    _Resource(
        re.compile(r"(?i)conntrack"),
        ("tenant_connections_accepted_per_second",),
        "new connections",
        leaks=False,
    ),
    _Resource(
        re.compile(r"(?i)(disk.?io|io.?saturation|iowait|io.?time)"),
        ("container_fs_writes_bytes_total", "container_fs_reads_bytes_total"),
        "disk I/O",
        leaks=False,
    ),
    _Resource(
        re.compile(r"(?i)((filesystem|disk).*(space|full|filling)|out of (disk )?space)"),
        ("container_fs_usage_bytes",),
        "bytes on the node's disk",
        leaks=False,
    ),
)


def alert_resource(evidence: Evidence) -> _Resource | None:
    """The resource the first alert that names one is about (its name, summary and
    description); None for inodes and anything else."""
    for alert in evidence.alerts:
        text = " ".join(
            (
                alert.labels.get("alertname", ""),
                alert.annotations.get("summary", ""),
                alert.annotations.get("description", ""),
            )
        )
        if _INODES.search(text):
            return None
        for resource in _RESOURCES:
            if resource.words.search(text):
                return resource
    return None


def _growth(metric: MetricSummary) -> float | None:
    """How much a series rose over the window (last minus first), when it grew by at least
    ``GROWTH``; None otherwise."""
    low = metric.first if metric.first is not None else metric.min
    if metric.last is None or low is None or metric.last <= low:
        return None
    if low > 0 and metric.last / low < GROWTH:
        return None
    return metric.last - low


def _tenant_series(
    evidence: Evidence, resource: _Resource
) -> dict[int, tuple[float, list[MetricSummary]]]:
    """Index of each tenant in ``evidence.node_tenants`` -> the growth of its pods' series
    of ``resource`` (each pod's largest) and the series that grew."""
    pods = {
        (tenant.ref.namespace, pod): i
        for i, tenant in enumerate(evidence.node_tenants)
        for pod in tenant.pods
    }
    per_pod: dict[tuple[str | None, str], tuple[float, MetricSummary]] = {}
    for metric in metrics_named(evidence, *resource.series):
        key = (metric.labels.get("namespace"), metric.labels.get("pod", ""))
        grown = _growth(metric)
        if key not in pods or grown is None:
            continue
        if key not in per_pod or grown > per_pod[key][0]:
            per_pod[key] = (grown, metric)
    found: dict[int, tuple[float, list[MetricSummary]]] = {}
    for key, (grown, metric) in per_pod.items():
        total, series = found.get(pods[key], (0.0, []))
        found[pods[key]] = (total + grown, [*series, metric])
    return found


def driving_tenant(
    evidence: Evidence,
) -> tuple[NodeTenantEvidence, _Resource, list[MetricSummary]] | None:
    """The one tenant of the alerted Node whose own series of the alert's resource grew
    with it, holding at least ``DOMINANT`` of all the tenants' growth."""
    target = evidence.target
    if target is None or target.kind != "Node" or not evidence.node_tenants:
        return None
    resource = alert_resource(evidence)
    if resource is None:
        return None
    grown = _tenant_series(evidence, resource)
    total = sum(g for g, _ in grown.values())
    if total <= 0:
        return None
    index, (most, series) = max(grown.items(), key=lambda kv: kv[1][0])
    if most < DOMINANT * total:
        return None
    return evidence.node_tenants[index], resource, series


def series_fact(metric: MetricSummary, said: str) -> EvidenceItem:
    low = metric.first if metric.first is not None else metric.min
    return item(
        "metrics",
        f"{metric.name} of pod {metric.labels.get('pod', '')}: {said} "
        f"{prose.number(low or 0)} -> {prose.number(metric.last or 0)}",
    )


def check_tenant_growth(evidence: Evidence) -> list[Finding]:
    """Roll back (or, unchanged and leaking, restart) the node's tenant whose own use of
    the alert's resource grew with it."""
    found = driving_tenant(evidence)
    if found is None:
        return []
    tenant, resource, series = found
    target = tenant.ref
    node = evidence.target.name if evidence.target is not None else "the node"
    grew = [series_fact(m, resource.said) for m in series[:2]]
    onset = earliest_onset(evidence)
    change = next(
        (
            c
            for c in tenant.changes[:1]
            if onset is not None and follows_within(c.at, onset) is not None
        ),
        None,
    )
    because = [
        prose.claim(
            f"Of the workloads on node {node}, the {resource.said} of {prose.obj(target)}'s "
            "pods grew with the alert, and no other tenant's did as much",
            *grew,
        )
    ]
    if change is not None and target.kind in ACTION_TARGET_KINDS[Action.ROLLBACK]:
        rolled = item(object_source(target), rollout_line(change))
        because.append(prose.claim(f"{prose.obj(target)} rolled out before the growth", rolled))
        return [
            make_finding(
                NAME,
                Category.BAD_ROLLOUT,
                CONFIDENCE.rollout,
                prose.narrative(
                    f"{prose.obj(target)}'s new revision uses up node {node}'s {resource.said}",
                    "roll it back",
                    because=because,
                ),
                [*grew, rolled],
                Action.ROLLBACK,
                target,
                {},
            )
        ]
    if not resource.leaks or target.kind not in ACTION_TARGET_KINDS[Action.RESTART]:
        return []
    because.append(
        prose.claim(f"{prose.obj(target)} did not change: its processes hold what they opened")
    )
    return [
        make_finding(
            NAME,
            Category.RESOURCE_SATURATION,
            CONFIDENCE.leak,
            prose.narrative(
                f"{prose.obj(target)} leaks node {node}'s {resource.said}",
                "restart it to release them, and have its owner find the leak",
                because=because,
            ),
            grew,
            Action.RESTART,
            target,
            {},
        )
    ]


TENANT_GROWTH_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(NAME, (Category.BAD_ROLLOUT, Category.RESOURCE_SATURATION), check_tenant_growth),
)
