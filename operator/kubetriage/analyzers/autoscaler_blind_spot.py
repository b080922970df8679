"""The autoscaler blind to the load: a HorizontalPodAutoscaler that scales the workload on
memory only stays where it is (below its maximum) while the pods' CPU usage climbs to what
they request and their probes time out or the kubelet kills them for it. Memory of most
servers (a JVM heap, a Python or Node.js process) does not follow requests, so the
autoscaler never sees the demand; the pods are not throttled (no CPU limit, or usage well
under it) and no new revision made requests costlier, so they are simply short of replicas.
An SRE scales out (and gives the autoscaler a metric that follows demand); correcting the
probes only hides the overload. Called by the saturation rule (``saturation``), which checks
first that no recent rollout is there to blame.

Pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import make_finding
from kubetriage.analyzers.container_texts import PROBE_TIMEOUT
from kubetriage.analyzers.demand import SCALE_BY, alerted_strain, scale_params, strain_facts
from kubetriage.analyzers.pods import liveness_killed, metric_for, pod_events
from kubetriage.analyzers.support import (
    cpu_usage_jumps,
    event_fact,
    item,
    parse_quantity,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import AutoscalerEvidence, ContainerEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a blind-autoscaler finding is, by the evidence that earns it."""

    # It scales on memory only and stays below its maximum while CPU usage at least doubled
    # to the pods' CPU request, unthrottled, and their probes time out or they are killed:
    # above the liveness kill it causes (probe-failure, 0.85).
    memory_only: float = 0.87


CONFIDENCE: Final = _Confidence()
# CPU usage at this share of the request or more: the pods use what they were sized for.
AT_REQUEST = 0.9
# Usage below this share of a CPU limit is not held back by it (no throttling to blame).
UNDER_LIMIT = 0.8


def _memory_only(hpa: AutoscalerEvidence, workload: ObjectRef) -> bool:
    """The autoscaler scales ``workload``, only on memory, and has room to add replicas."""
    current = max(hpa.current_replicas or 0, hpa.desired_replicas or 0)
    return (
        hpa.scales(workload)
        and bool(hpa.metrics)
        and set(hpa.metrics) == {"memory"}
        and hpa.max_replicas > current
    )


def _busy_unthrottled(evidence: Evidence) -> list[EvidenceItem]:
    """A fact per container whose CPU usage at least doubled to AT_REQUEST of its request
    or more, while staying under UNDER_LIMIT of its CPU limit (if any)."""
    containers: list[ContainerEvidence] = (
        evidence.workload.containers if evidence.workload is not None else []
    )
    facts: list[EvidenceItem] = []
    for metric in cpu_usage_jumps(evidence):
        for container in containers:
            request = parse_quantity(container.requests.get("cpu"))
            limit = parse_quantity(container.limits.get("cpu"))
            if not metric_for(metric, container.name) or not request or metric.last is None:
                continue
            if metric.last < AT_REQUEST * request:
                continue
            if limit is not None and metric.last >= UNDER_LIMIT * limit:
                return []  # at its limit: the throttling rule's case
            low = metric.first if metric.first is not None else metric.min
            facts.append(
                item(
                    "metrics",
                    f"CPU usage of {container.name} rose from {prose.cpu(low or 0.0)} to "
                    f"{prose.cpu(metric.last)}, its request is {prose.cpu(request)}"
                    + (f" and its limit {prose.cpu(limit)}" if limit else " and it has no limit"),
                )
            )
    return facts[:1]


def _overload_signs(evidence: Evidence) -> list[EvidenceItem]:
    """What says the pods cannot keep up: probes that time out, liveness kills, slower or
    failing service (its series or a firing alert)."""
    signs: list[EvidenceItem] = []
    for pod in evidence.pods:
        timeouts = [
            e
            for e in pod_events(evidence, pod)
            if e.reason == "Unhealthy" and PROBE_TIMEOUT.search(e.message)
        ]
        kills = [k for c in pod.containers for k in liveness_killed(evidence, pod, c.name)]
        signs += [item("events", event_fact(e)) for e in [*timeouts[:1], *kills[:1]]]
        if signs:
            break
    return signs + (strain_facts(evidence) or alerted_strain(evidence))


def memory_only_autoscaler(evidence: Evidence, workload: ObjectRef | None) -> list[Finding]:
    """Scale out a workload whose memory-only autoscaler does not follow the CPU load that
    overwhelms its pods."""
    if workload is None or workload.kind not in ACTION_TARGET_KINDS[Action.SCALE_OUT]:
        return []
    hpa = next((h for h in evidence.autoscalers if _memory_only(h, workload)), None)
    if hpa is None:
        return []
    busy = _busy_unthrottled(evidence)
    signs = _overload_signs(evidence) if busy else []
    if not busy or not signs:
        return []
    hpa_ref = ObjectRef(kind="HorizontalPodAutoscaler", namespace=hpa.namespace, name=hpa.name)
    held = item(
        f"hpa/{hpa.namespace}/{hpa.name}",
        f"scales on memory only; replicas {hpa.current_replicas}, desired "
        f"{hpa.desired_replicas}, maximum {hpa.max_replicas}",
    )
    params = scale_params(evidence, SCALE_BY)
    return [
        make_finding(
            "resource-saturation",
            Category.RESOURCE_SATURATION,
            CONFIDENCE.memory_only,
            prose.narrative(
                f"{prose.obj(workload)} is short of replicas: its autoscaler watches memory only",
                f"scale out to {params['replicas']} replicas",
                aside="CPU at its request, no throttling",
                because=[
                    prose.claim(
                        f"{prose.obj(hpa_ref)} scales on memory alone and does not add replicas",
                        held,
                    ),
                    prose.claim("The pods' CPU usage climbed to what they request", *busy),
                    prose.claim(
                        "Their probes time out or the service got slower: the pods cannot keep up",
                        *signs[:2],
                    ),
                    prose.claim(
                        "Memory does not follow requests, so the autoscaler never sees the demand"
                    ),
                ],
            ),
            [held, *busy, *signs[:2]],
            Action.SCALE_OUT,
            workload,
            {**params, "hpa": hpa.name},
        )
    ]
