"""Metric-driven analyzers: CPU throttling by the container's CFS quota, read from the
Prometheus summaries (``Evidence.metrics``; for an incident whose alert names no workload,
the namespace's containers, each by its pod) or, without them, from a CPUThrottlingHigh alert,
or from CPU usage pinned at the limit while the service is slower (its latency series or a
latency alert) when no throttling series was found; and a called workload throttled while
the caller's calls to it fail (its slowness is the caller's timeouts), or while the caller,
not throttled itself, is slower or falls behind its backlog as the callee's throttling rose.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence. Metric summaries
are matched by metric name in their template name or PromQL query, so this works whichever
query the Prometheus stage chose (raw counters or a ratio of rates).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.calls import dependency_hits
from kubetriage.analyzers.capacity import blind_condition_item
from kubetriage.analyzers.cfs import (
    CALLEE_THROTTLED,
    HEAVILY_THROTTLED_SHARE,
    NAMESPACE_THROTTLED,
    PINNED_SHARE,
    THROTTLED_SHARE,
    container_of,
    cpu_limit,
    namespace_throttle_ratio,
    of_workload,
    throttle_ratios,
)
from kubetriage.analyzers.changes import cap_explained
from kubetriage.analyzers.demand import latency_alerted, measures_latency, traffic_rose
from kubetriage.analyzers.pool_waits import pool_waits
from kubetriage.analyzers.queues import backlog_alerted
from kubetriage.analyzers.saturation import at_maximum, maxed_autoscaler_item, scaling_limited
from kubetriage.analyzers.serving import off_request_path
from kubetriage.analyzers.support import (
    CPU_USAGE,
    DOUBLING,
    RISE,
    divides,
    item,
    iter_containers,
    metrics_named,
    parse_quantity,
    suggest_cpu,
    workload_ref,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Claim, EvidenceItem, Finding
from kubetriage.models.object_evidence import ContainerEvidence, MetricSummary, PodEvidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a cpu-throttling finding is, by the evidence that earns it (always with a CPU
    limit: without a CFS quota nothing is throttled)."""

    throttled: float = 0.7  # THROTTLED_SHARE or more of its CFS periods throttled
    heavily_bonus: float = 0.05  # ... at least HEAVILY_THROTTLED_SHARE
    alerted: float = 0.7  # CPUThrottlingHigh fired for the container (at least this sure)
    # No throttling series: its CPU usage runs at its limit while it is slower (latency
    # series or alert); the quota is what caps it.
    pinned: float = 0.6
    alert_bonus: float = 0.05  # ... on top of a measured ratio
    latency_bonus: float = 0.1  # latency rose while it was throttled
    callee: float = 0.75  # a called workload is throttled while calls to it fail
    callee_heavily_bonus: float = 0.1  # ... in HEAVILY_THROTTLED_SHARE of its periods or more
    # No failing calls: the caller is only slower (latency series or alert) or falls behind
    # (backlog alert) while a called workload's throttled share rose to THROTTLED_SHARE or
    # more within the window.
    callee_slower: float = 0.7
    cap: float = 0.9  # the most a cpu-throttling finding claims
    # Its autoscaler runs its maximum while the request rate grew by half or more: the load
    # pins each pod at its limit and the replicas ran out, so the throttling is what the
    # load does and the saturation rule (0.8-0.85) leads with more replicas. The same when
    # its autoscaler cannot read its metric (ScalingActive=False): it added no replica for
    # the load, and the blind-autoscaler rule (0.65) leads with scaling out.
    load_driven: float = 0.6


CONFIDENCE: Final = _Confidence()


def _latency_rising(evidence: Evidence) -> list[EvidenceItem]:
    facts: list[EvidenceItem] = []
    for metric in evidence.metrics:
        if not measures_latency(metric) or metric.last is None:
            continue
        low = metric.first if metric.first is not None else metric.min
        if metric.trend == "rising" or (low and metric.last / low >= RISE):
            before = prose.number(low) if low is not None else "?"
            facts.append(
                item(
                    "metrics",
                    f"{metric.name or metric.query}: {before} -> {prose.number(metric.last)}",
                )
            )
    return facts


def _pinned_at_limit(
    evidence: Evidence, container: ContainerEvidence, limit: float
) -> MetricSummary | None:
    """The container's CPU usage series that ends at its limit (or within PINNED_SHARE)."""
    for metric in metrics_named(evidence, CPU_USAGE):
        if "rate(" not in metric.query or divides(metric.query):
            continue  # a raw counter, or a ratio (CPU per request) that is no usage
        if container_of(metric) not in (container.name, None) or metric.last is None:
            continue
        if metric.last >= PINNED_SHARE * limit:
            return metric
    return None


def check_cpu_throttling(evidence: Evidence) -> list[Finding]:
    return cap_explained(evidence, _check_cpu_throttling(evidence))


def _maxed_by_load(evidence: Evidence, target: ObjectRef) -> EvidenceItem | None:
    """The autoscaler of ``target`` at its maximum while the request rate rose (RISE or
    more), as its evidence line: the pods are short in number, not each short of CPU."""
    if not traffic_rose(evidence):
        return None
    for hpa in evidence.autoscalers:
        if not hpa.scales(target) or not at_maximum(hpa):
            continue
        return maxed_autoscaler_item(hpa, scaling_limited(hpa))
    return None


def _off_path(evidence: Evidence, pod: PodEvidence, container: ContainerEvidence) -> bool:
    """Whether ``container`` is outside the pod's request path and no alert names it."""
    named = any(a.labels.get("container") == container.name for a in evidence.alerts)
    return not named and off_request_path(evidence, pod, container)


def _check_cpu_throttling(evidence: Evidence) -> list[Finding]:
    ratios = throttle_ratios(evidence)
    alert_containers = {
        a.labels.get("container")
        for a in evidence.alerts
        if a.labels.get("alertname") == "CPUThrottlingHigh"
    }
    latency = _latency_rising(evidence)
    slower = latency or latency_alerted(evidence)
    namespace_wide = any(m.name == NAMESPACE_THROTTLED for m in evidence.metrics)
    if not ratios and not alert_containers and not slower and not namespace_wide:
        return []
    findings: list[Finding] = []
    seen: set[str] = set()
    for pod, container in iter_containers(evidence, include_init=False):
        if container.name in seen:
            continue
        ratio = ratios.get(container.name)
        if ratio is None and len({c.name for _, c in iter_containers(evidence)}) == 1:
            ratio = ratios.get(None)
        if ratio is None:
            ratio = namespace_throttle_ratio(evidence, pod.name, container.name)
        alerted = container.name in alert_containers or (None in alert_containers and not seen)
        if not alerted and _off_path(evidence, pod, container):
            continue  # a sidecar no request passes through: its throttling slows none
        limit = cpu_limit(evidence, container)
        if limit is None:
            continue  # no CFS quota: whatever is slow, it is not the limit
        pinned = None
        if (ratio is None or ratio < THROTTLED_SHARE) and not alerted:
            # Without a throttling series, usage pinned at the limit while it is slower is
            # the quota at work; a measured low throttling share says it is not.
            pinned = _pinned_at_limit(evidence, container, limit) if ratio is None else None
            if pinned is None or not slower:
                continue
        target = workload_ref(evidence, pod)
        if target is None or target.kind not in ACTION_TARGET_KINDS[Action.INCREASE_CPU]:
            continue
        seen.add(container.name)
        facts: list[EvidenceItem] = []
        because: list[Claim] = []
        confidence = 0.0
        if ratio is not None and ratio >= THROTTLED_SHARE:
            heavily = ratio >= HEAVILY_THROTTLED_SHARE
            confidence = CONFIDENCE.throttled + (CONFIDENCE.heavily_bonus if heavily else 0.0)
            facts.append(
                item(
                    "metrics",
                    f"{prose.percent(ratio)} of CFS periods throttled for "
                    f"{container.name} (limit {prose.cpu(limit)})",
                )
            )
            because.append(
                prose.claim(
                    f"The kernel throttled container {container.name} in "
                    f"{prose.percent(ratio)} of its CFS periods",
                    facts[-1],
                )
            )
        if pinned is not None and pinned.last is not None:
            confidence = CONFIDENCE.pinned
            facts.append(
                item(
                    "metrics",
                    f"CPU usage of {container.name} {prose.cpu(pinned.last)} against its "
                    f"{prose.cpu(limit)} limit",
                )
            )
            because.append(
                prose.claim(
                    f"Container {container.name} uses its whole {prose.cpu(limit)} CPU limit",
                    facts[-1],
                )
            )
            if not latency:
                facts.extend(slower[:1])
                because.append(prose.claim("The latency alert fires meanwhile", *slower[:1]))
        if alerted:
            confidence = max(confidence, CONFIDENCE.alerted) + (
                CONFIDENCE.alert_bonus if facts else 0.0
            )
            facts.append(item("alert", f"CPUThrottlingHigh for container {container.name}"))
            because.append(prose.claim("CPUThrottlingHigh fired for it", facts[-1]))
        if latency:
            confidence += CONFIDENCE.latency_bonus
            facts.extend(latency[:2])
            because.append(prose.claim("Latency rose while it was throttled", *latency[:2]))
        suggested = suggest_cpu(limit)
        maxed = _maxed_by_load(evidence, target)
        if maxed is not None:
            confidence = min(confidence, CONFIDENCE.load_driven)
            facts.append(maxed)
            because.append(
                prose.claim(
                    "Its autoscaler runs its maximum while the request rate grew, so the "
                    "load pins each pod at its limit",
                    maxed,
                )
            )
        elif (blind := blind_condition_item(evidence, target)) is not None:
            confidence = min(confidence, CONFIDENCE.load_driven)
            facts.append(blind)
            because.append(
                prose.claim(
                    "Its autoscaler cannot read its metric, so it added no replica for the "
                    "load that pins each pod at its limit",
                    blind,
                )
            )
        because.append(
            prose.claim(
                f"Each throttled period stalls the process until the next one; a "
                f"{prose.cpu(limit)} limit is too tight for its load"
            )
        )
        findings.append(
            make_finding(
                "cpu-throttling",
                Category.CPU_THROTTLING,
                min(confidence, CONFIDENCE.cap),
                prose.narrative(
                    f"{prose.obj(target)} is throttled by its {prose.cpu(limit)} limit",
                    f"raise the limit to {prose.cpu(parse_quantity(suggested) or 2 * limit)}",
                    aside=f"container {container.name}"
                    + (f", {prose.percent(ratio)} of periods" if ratio is not None else ""),
                    because=because[:4],
                ),
                facts,
                Action.INCREASE_CPU,
                target,
                {"container": container.name, "cpu": suggested},
            )
        )
    return findings


def throttled_callees(
    evidence: Evidence,
) -> list[tuple[DependencyEvidence, ObjectRef, str, float]]:
    """Followed dependencies whose own containers are throttled in THROTTLED_SHARE of their
    CFS periods or more: (dependency, its workload, container, share), most throttled first."""
    found: list[tuple[DependencyEvidence, ObjectRef, str, float]] = []
    for metric in evidence.metrics:
        value = metric.last if metric.last is not None else metric.max
        if metric.name != CALLEE_THROTTLED or value is None or value < THROTTLED_SHARE:
            continue
        for dep in evidence.dependencies:
            ref = dep.workload
            if ref is None or not of_workload(metric, ref):
                continue
            if ref.kind in ACTION_TARGET_KINDS[Action.INCREASE_CPU] and not any(
                f[1] == ref for f in found
            ):
                found.append((dep, ref, metric.labels.get("container", ""), value))
    return sorted(found, key=lambda f: -f[3])


def _throttling_rose(evidence: Evidence, ref: ObjectRef) -> bool:
    """Whether a called workload's throttled share rose within the window (a step or a rising
    trend from below THROTTLED_SHARE, or one that at least doubled from below
    HEAVILY_THROTTLED_SHARE to above it): its quota began to stall it then, or began to
    stall it heavily, not always."""
    for metric in evidence.metrics:
        if metric.name != CALLEE_THROTTLED or not of_workload(metric, ref):
            continue
        low = metric.first if metric.first is not None else metric.min
        if low is None or metric.trend != "rising":
            continue
        high = metric.last if metric.last is not None else metric.max
        if low < THROTTLED_SHARE or (
            high is not None and low < HEAVILY_THROTTLED_SHARE <= high and high >= DOUBLING * low
        ):
            return True
    return False


def _own_throttling(evidence: Evidence) -> bool:
    """Whether the incident's own containers are throttled (their rule speaks for them)."""
    return any(share >= THROTTLED_SHARE for share in throttle_ratios(evidence).values())


def _slower_callee_symptom(evidence: Evidence, ref: ObjectRef) -> tuple[str, EvidenceItem] | None:
    """The caller's slowness as the symptom of a callee whose throttling rose, with the
    sentence that says so: a latency series of its own that rose, or else its latency alert,
    or else its backlog alert (a consumer behind a throttled broker or store falls behind);
    None when it is not slower, when its own containers are throttled, or when the callee's
    throttling did not rise."""
    if _own_throttling(evidence) or not _throttling_rose(evidence, ref):
        return None
    slower = _latency_rising(evidence) or latency_alerted(evidence)
    if slower:
        return "The caller is slower", slower[0]
    backlog = backlog_alerted(evidence)
    if backlog:
        return "The caller falls behind its backlog", backlog[0]
    waits = pool_waits(evidence)
    return ("The caller's clients wait for a pooled connection", waits[0]) if waits else None


def check_callee_throttling(evidence: Evidence) -> list[Finding]:
    """The caller's calls fail (time out, 5xx) while the workload it calls is throttled by its
    own CPU limit: the callee answers too slowly because its quota stalls it. Without failing
    calls, a caller that is only slower while the callee's throttling rose reads the same."""
    hits = dependency_hits(evidence)
    findings: list[Finding] = []
    for dep, ref, container, share in throttled_callees(evidence)[:1]:
        heavily = share >= HEAVILY_THROTTLED_SHARE
        if hits:
            calls = item(hits[0].source, hits[0].line)
            confidence = CONFIDENCE.callee
            symptom = "The caller's calls fail"
        else:
            slower = _slower_callee_symptom(evidence, ref)
            if slower is None:
                continue
            symptom, calls = slower
            confidence = CONFIDENCE.callee_slower
        confidence += CONFIDENCE.callee_heavily_bonus if heavily else 0.0
        throttled = item(
            "metrics",
            f"{prose.percent(share)} of CFS periods throttled for {ref.name}"
            + (f" container {container}" if container else ""),
        )
        served = f" behind Service {dep.service.name}" if dep.service is not None else ""
        findings.append(
            make_finding(
                "callee-cpu-throttling",
                Category.CPU_THROTTLING,
                min(confidence, CONFIDENCE.cap),
                prose.narrative(
                    f"{prose.obj(ref)}{served} is throttled by its CPU limit while calls to it "
                    + ("fail" if hits else "slow down"),
                    f"raise the CPU limit of {prose.obj(ref)}",
                    because=[
                        prose.claim(symptom, calls),
                        prose.claim(
                            f"The kernel throttles {prose.obj(ref)} in "
                            f"{prose.percent(share)} of its CFS periods",
                            throttled,
                        ),
                        prose.claim(
                            "A throttled callee answers late, so its callers slow down or time "
                            "out; its limit is too tight for its load"
                        ),
                    ],
                ),
                [throttled, calls],
                Action.INCREASE_CPU,
                ref,
                {"container": container} if container else {},
            )
        )
    return findings


METRIC_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("cpu-throttling", (Category.CPU_THROTTLING,), check_cpu_throttling),
    Analyzer("callee-cpu-throttling", (Category.CPU_THROTTLING,), check_callee_throttling),
)
