"""The resource-saturation rule read from the workload's own series, when no autoscaler at
its maximum, KubeHpaMaxedOut alert, capacity taken away or scale-up policy tells the story:
traffic or queues that grew with latency (its series, or a firing latency alert), errors or
busy connections; else CPU rising with no CPU limit (or below it while the server says its
workers are all busy) and no new revision while the service is slower. A per-request ratio
is cost, not demand; a dead-letter queue grows with failures, not demand; crashing pods are
another rule's case. The fix is more replicas.

Called by ``kubetriage.analyzers.saturation``; series are read by what they measure with
``demand``; pure functions of Evidence.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import make_finding
from kubetriage.analyzers.demand import (
    ERROR_NAME,
    LATENCY_NAME,
    QUEUE_NAME,
    RATE_NAME,
    SCALE_BY,
    SCALE_MAX,
    SCALE_MIN,
    is_rate,
    is_traffic,
    latency_alerted,
    measures_latency,
    scale_params,
)
from kubetriage.analyzers.log_signatures import POOL_EXHAUSTED
from kubetriage.analyzers.pods import metric_for, pod_failing
from kubetriage.analyzers.recency import rolled_out_recently
from kubetriage.analyzers.support import (
    DOUBLING,
    RISE,
    cpu_usage_jumps,
    divides,
    grep_logs,
    item,
    metric_growth,
    parse_quantity,
)
from kubetriage.evidence.queue_consumers import dead_letter_source
from kubetriage.evidence.targets import queue_names
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a resource-saturation finding read from the series is, by the evidence that
    earns it."""

    traffic_slower: float = 0.7  # traffic grew, and latency or busy connections with it
    queues: float = 0.6  # queues or consumer lag grew
    traffic_errors: float = 0.45  # traffic grew with errors only: capacity, or a dependency
    traffic_alerted: float = 0.6  # traffic grew while a latency alert fires (no latency series)
    load_exhausted: float = 0.7  # CPU rose, no CPU limit, and the server says its workers are
    # all busy (worker connections, thread or process pool exhausted)
    load: float = 0.6  # latency and CPU rose together, with no CPU limit and no new revision
    load_alerted: float = 0.55  # CPU rose while a latency alert fires, no CPU limit, no revision


CONFIDENCE: Final = _Confidence()

# Capacity in use: open connections, requests in flight, busy workers, utilisation.
_BUSY_NAME = re.compile(
    r"(?i)(connections|in_?flight|busy|active_(workers|threads|requests)|utili[sz]ation)"
)


def _no_cpu_limit(evidence: Evidence) -> bool:
    containers = evidence.workload.containers if evidence.workload else []
    if not containers:
        containers = [c for p in evidence.pods for c in p.containers if not c.init]
    return bool(containers) and all("cpu" not in c.limits for c in containers)


# A container whose CPU usage stays below this share of its CPU limit is not throttled.
HEADROOM = 0.8


def _cpu_headroom(evidence: Evidence, cpu: list[MetricSummary]) -> EvidenceItem | None:
    """A fact when every container whose CPU usage rose stays below ``HEADROOM`` of its CPU
    limit: the limit is not what holds it back, the work is."""
    containers = evidence.workload.containers if evidence.workload else []
    if not containers:
        containers = [c for p in evidence.pods for c in p.containers if not c.init]
    shares: list[str] = []
    for metric in cpu:
        limits = [
            parse_quantity(c.limits.get("cpu")) for c in containers if metric_for(metric, c.name)
        ]
        limit = min((v for v in limits if v), default=None)
        if limit is None or metric.last is None:
            continue  # no limit on it: nothing throttles it
        if metric.last >= HEADROOM * limit:
            return None
        shares.append(
            f"{metric.labels.get('container', 'its container')} uses "
            f"{prose.number(metric.last)} of its {prose.number(limit)}-core CPU limit"
        )
    if not shares or not evidence.workload:
        return None
    return item(evidence.workload.ref.display(), "; ".join(shares[:2]) + " (not throttling)")


def _load_saturation(evidence: Evidence, workload: ObjectRef) -> list[Finding]:
    """CPU usage jumps with no CPU limit to throttle it and no new revision to blame, while
    the service is slower (its latency series, or a latency alert) or says that its workers
    are all busy (worker connections, a thread or process pool exhausted): the pods are
    simply busier than they can absorb; more replicas share the load."""
    cpu = cpu_usage_jumps(evidence)
    latency = [
        m
        for m in evidence.metrics
        if measures_latency(m) and (g := metric_growth(m)) is not None and g >= RISE
    ]
    exhausted = grep_logs(evidence.logs, POOL_EXHAUSTED, limit=3)
    alerted = latency_alerted(evidence) if not latency else []
    if not cpu or not (latency or exhausted or alerted):
        return []
    headroom = _cpu_headroom(evidence, cpu) if exhausted else None
    if not (_no_cpu_limit(evidence) or headroom is not None) or rolled_out_recently(evidence):
        return []
    rose = [
        item(
            "metrics",
            f"{m.name or m.query}: {prose.number(m.first or m.min or 0.0)} -> "
            f"{prose.number(m.last)}",
        )
        for m in (latency[:1] + cpu[:2])
        if m.last is not None
    ]
    busy = [item(h.source, h.line) for h in exhausted[:2]]
    unlimited = headroom or item(
        workload.display(), "no CPU limit on the containers (not throttling)"
    )
    params = scale_params(evidence, SCALE_BY)
    because = [
        prose.claim(
            "Latency and CPU usage rose together" if latency else "CPU usage rose",
            *rose,
        )
    ]
    if alerted:
        because.append(prose.claim("The latency alert fires meanwhile", *alerted))
    if busy:
        because.append(prose.claim("Its workers time out or are all busy", *busy))
    because.append(
        prose.claim(
            (
                "Its CPU stays below its limit"
                if headroom
                else "There is no CPU limit to throttle it"
            )
            + " and no new revision is there to blame, so the pods are simply busier than they "
            "can absorb",
            unlimited,
        )
    )
    if exhausted:
        confidence = CONFIDENCE.load_exhausted
    else:
        confidence = CONFIDENCE.load if latency else CONFIDENCE.load_alerted
    return [
        make_finding(
            "resource-saturation",
            Category.RESOURCE_SATURATION,
            confidence,
            prose.narrative(
                f"{prose.obj(workload)} is saturated",
                f"scale out to {params['replicas']} replicas",
                aside=("latency and CPU rose together" if latency or alerted else "CPU rose")
                + (", workers exhausted" if exhausted else ""),
                because=because[:4],
            ),
            [*rose, *alerted, *busy, unlimited],
            Action.SCALE_OUT,
            workload,
            params,
        )
    ]


def _dead_letters(metric: MetricSummary) -> bool:
    """Whether every queue a series is split by is a dead-letter queue: it grows with the
    messages consumers failed, whatever their number, so it is no demand to scale out for."""
    names = queue_names(metric.labels)
    return bool(names) and all(dead_letter_source(n) is not None for n in names)


def traffic_saturation(evidence: Evidence, workload: ObjectRef | None) -> list[Finding]:
    """Demand that outgrew the workload's replicas, read from its own series: traffic or
    queues that grew with strain, else CPU load with no limit to blame."""
    if workload is None or workload.kind not in ACTION_TARGET_KINDS[Action.SCALE_OUT]:
        return []
    if any(
        pod_failing(p) and any(c.restart_count > 0 for c in p.containers) for p in evidence.pods
    ):
        return []  # crashing pods are another analyzer's case, not demand
    traffic: list[tuple[MetricSummary, float]] = []
    strain: list[tuple[MetricSummary, float]] = []
    queues: list[tuple[MetricSummary, float]] = []
    slower = False
    for metric in evidence.metrics:
        growth = metric_growth(metric)
        if growth is None or not is_rate(metric):
            continue
        label = f"{metric.name} {metric.query}"
        if is_traffic(metric):
            if growth >= RISE:
                traffic.append((metric, growth))
            continue
        if divides(metric.query) and RATE_NAME.search(label) and not ERROR_NAME.search(label):
            continue  # a per-request ratio (CPU per request) is cost, not demand
        if QUEUE_NAME.search(label) and growth >= DOUBLING:
            if not _dead_letters(metric):
                queues.append((metric, growth))
        elif (
            (LATENCY_NAME.search(label) and growth >= RISE)
            or (ERROR_NAME.search(label) and growth >= DOUBLING)
            or (_BUSY_NAME.search(label) and growth >= RISE)
        ):
            strain.append((metric, growth))
            slower = slower or bool(LATENCY_NAME.search(label) or _BUSY_NAME.search(label))
        elif RATE_NAME.search(label) and growth >= RISE:
            traffic.append((metric, growth))
    # No latency series of its own, but the alert says it is slow: that is the strain.
    alerted = latency_alerted(evidence) if traffic and not strain else []
    if not queues and not (traffic and (strain or alerted)):
        # More traffic that the service absorbs (latency and errors back to normal) is not
        # saturation; without a queue or strain, only load with no CPU limit is.
        return _load_saturation(evidence, workload)
    if traffic and slower:
        confidence = CONFIDENCE.traffic_slower
    elif queues:
        confidence = CONFIDENCE.queues
    elif alerted:
        confidence = CONFIDENCE.traffic_alerted
    else:
        confidence = CONFIDENCE.traffic_errors
    facts = [
        item(
            "metrics",
            f"{m.name or m.query}: {prose.number(m.first or m.min or 0.0)} -> "
            f"{prose.number(m.last)} (x{g:.1f})",
        )
        for m, g in (traffic + queues + strain)[:5]
        if m.last is not None
    ]
    factor = max((g for _, g in traffic + queues if math.isfinite(g)), default=SCALE_BY)
    params = scale_params(evidence, min(max(factor, SCALE_MIN), SCALE_MAX))
    grew = "Queues" if queues and not traffic else "Traffic"
    demand = len(traffic + queues)
    because = [prose.claim(f"{grew} grew about {factor:.1f}x over the window", *facts[:demand][:2])]
    if strain:
        because.append(
            prose.claim("Latency, errors or busy connections rose with it", *facts[demand:][:2])
        )
    elif alerted:
        facts.extend(alerted)
        because.append(prose.claim("The latency alert fires meanwhile", *alerted))
    because.append(prose.claim("No pod is crash-looping, so the load is what changed"))
    return [
        make_finding(
            "resource-saturation",
            Category.RESOURCE_SATURATION,
            confidence,
            prose.narrative(
                f"Demand on {prose.obj(workload)} grew about {factor:.1f}x",
                f"scale out to {params['replicas']} replicas",
                aside="strain rose with it" if strain or alerted else "",
                because=because,
            ),
            facts,
            Action.SCALE_OUT,
            workload,
            params,
        )
    ]
