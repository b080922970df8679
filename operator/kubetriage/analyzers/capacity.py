"""Capacity taken away rather than demand grown: replicas cut by hand or by a pipeline (not by
an autoscaler) while demand stayed and the service got slower or fails, scale back to what
it ran; and an autoscaler that cannot read its metric (the metrics API or adapter is down)
while the service got slower, scale out by hand. Called by the saturation rule
(``saturation``), whose category they share.

Pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import make_finding
from kubetriage.analyzers.demand import (
    SCALE_BY,
    WINDOW_SECONDS,
    alerted_strain,
    is_rate,
    is_traffic,
    scale_params,
    strain_facts,
)
from kubetriage.analyzers.pods import pod_failing
from kubetriage.analyzers.support import (
    item,
    metric_growth,
    metrics_named,
    scaled_down,
    seconds_before,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a capacity finding is, by the evidence that earns it."""

    capacity_cut: float = 0.75  # replicas were cut (not by an autoscaler) and it got slower
    hpa_blind: float = 0.65  # its autoscaler cannot read its metric while it got slower


CONFIDENCE: Final = _Confidence()
# The desired replicas fell to at most this share of what they were: capacity was cut.
CAPACITY_CUT = 0.67
_DESIRED_REPLICAS = ("kube_deployment_spec_replicas", "kube_statefulset_replicas{")


def blind_autoscaler(evidence: Evidence, workload: ObjectRef | None) -> list[Finding]:
    """An autoscaler that cannot read its metric (ScalingActive=False, FailedGet...Metric: the
    metrics API or adapter is down) keeps the replicas where they are; when the service is
    slower or fails meanwhile and its pods are not crashing, it needed the replicas the
    autoscaler could not ask for: scale out by hand (and repair the metrics pipeline)."""
    if workload is None or workload.kind not in ACTION_TARGET_KINDS[Action.SCALE_OUT]:
        return []
    if any(pod_failing(p) for p in evidence.pods):
        return []  # not-ready or crashing pods report no metrics: another analyzer's case
    for hpa in evidence.autoscalers:
        blind = next(
            (
                c
                for c in hpa.conditions
                if c.type == "ScalingActive"
                and c.status == "False"
                and (c.reason or "").startswith("FailedGet")
            ),
            None,
        )
        if blind is None or hpa.target is None or hpa.target.name != workload.name:
            continue
        strain = strain_facts(evidence) or alerted_strain(evidence)
        if not strain:
            return []
        condition = item(
            f"hpa/{hpa.namespace}/{hpa.name}",
            f"ScalingActive=False {blind.reason}: {blind.message or ''}",
        )
        hpa_ref = ObjectRef(kind="HorizontalPodAutoscaler", namespace=hpa.namespace, name=hpa.name)
        params = scale_params(evidence, SCALE_BY)
        return [
            make_finding(
                "resource-saturation",
                Category.RESOURCE_SATURATION,
                CONFIDENCE.hpa_blind,
                prose.narrative(
                    f"{prose.obj(workload)} cannot scale: its autoscaler cannot read its metric",
                    f"scale out to {params['replicas']} replicas",
                    because=[
                        prose.claim(
                            f"{prose.obj(hpa_ref)} cannot compute a replica count", condition
                        ),
                        prose.claim("The service got slower or fails meanwhile", *strain),
                        prose.claim(
                            "No pod is crashing, so the replicas it could not add are missing"
                        ),
                    ],
                ),
                [condition, *strain],
                Action.SCALE_OUT,
                workload,
                params,
            )
        ]
    return []


def _replicas_cut(evidence: Evidence, workload: ObjectRef) -> tuple[int, int, EvidenceItem] | None:
    """(before, after, fact) when the workload's desired replicas fell to CAPACITY_CUT of what
    they were within the window: its replicas series, or the deployment controller's event
    for its current ReplicaSet (a rolling update scales an old one down, not the current)."""
    for metric in metrics_named(evidence, *_DESIRED_REPLICAS):
        named = metric.labels.get("deployment") or metric.labels.get("statefulset")
        if named not in (None, workload.name) or metric.max is None or metric.last is None:
            continue
        if metric.max >= 1 and metric.last <= CAPACITY_CUT * metric.max:
            before, after = int(metric.max), int(metric.last)
            return before, after, item("metrics", f"{metric.name}: {before} -> {after}")
    desired = evidence.workload.desired_replicas if evidence.workload else None
    for event in evidence.events:
        cut = scaled_down(event.message)
        age = seconds_before(evidence, event.last_seen or event.first_seen)
        if cut is None or event.involved.name != workload.name or age is None:
            continue
        if cut.before is None or cut.after is None or age > WINDOW_SECONDS:
            continue
        if cut.after == desired and cut.after <= CAPACITY_CUT * cut.before:
            return cut.before, cut.after, item(f"event/{event.reason}", event.message)
    return None


def capacity_cut(evidence: Evidence, workload: ObjectRef | None) -> list[Finding]:
    """Its replicas were cut (by hand or a pipeline, not by an autoscaler) within the window,
    demand did not fall with them, and the service got slower or fails: the remaining pods
    cannot carry the load; scale back to what it ran before."""
    if workload is None or workload.kind not in ACTION_TARGET_KINDS[Action.SCALE_OUT]:
        return []
    if any(h.target is not None and h.target.name == workload.name for h in evidence.autoscalers):
        return []  # an autoscaler's own scale-down is its business
    cut = _replicas_cut(evidence, workload)
    if cut is None:
        return []
    before, after, fact = cut
    if any(
        is_traffic(m) and is_rate(m) and (g := metric_growth(m)) is not None and g <= after / before
        for m in evidence.metrics
    ):
        return []  # demand fell as much: the cut followed it
    strain = strain_facts(evidence) or alerted_strain(evidence)
    if not strain:
        return []
    return [
        make_finding(
            "resource-saturation",
            Category.RESOURCE_SATURATION,
            CONFIDENCE.capacity_cut,
            prose.narrative(
                f"{prose.obj(workload)} was cut from {before} to "
                f"{prose.count(after, 'replica')} and cannot carry its load",
                f"scale back to {before} replicas",
                because=[
                    prose.claim(f"Its desired replicas fell from {before} to {after}", fact),
                    prose.claim("It got slower or fails since", *strain),
                    prose.claim(
                        "Demand did not fall with the replicas, and no autoscaler made the cut"
                    ),
                ],
            ),
            [fact, *strain],
            Action.SCALE_OUT,
            workload,
            {"replicas": str(before)},
        )
    ]
