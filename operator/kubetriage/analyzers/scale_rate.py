"""An autoscaler held back by its own scale-up rate: below its maximum, but reporting that the
replica count it wants grows faster than its ``behavior.scaleUp`` policies allow
(``ScalingLimited=True ScaleUpLimit``; Kubernetes' "the desired replica count is increasing
faster than the maximum scale rate"). When demand grew meanwhile and the service is slower or
fails, the replicas it is not allowed to add yet are the capacity that is missing: scale out
now (and widen the policy). Called by the saturation rule (``saturation``), whose category it
shares. Pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import make_finding
from kubetriage.analyzers.demand import (
    SCALE_BY,
    SCALE_MAX,
    SCALE_MIN,
    alerted_strain,
    is_rate,
    is_traffic,
    scale_params,
    strain_facts,
)
from kubetriage.analyzers.pods import pod_failing
from kubetriage.analyzers.support import RISE, item, metric_growth
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import AutoscalerEvidence, PodCondition
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a rate-limited-autoscaler finding is, by the evidence that earns it."""

    # Below its maximum, ScalingLimited=True ScaleUpLimit, while traffic grew and the service
    # is slower or fails (its series, or a firing latency or error alert): as sure as an
    # autoscaler at its maximum, a little less (the policy may yet catch up).
    scale_up_limited: float = 0.75


CONFIDENCE: Final = _Confidence()

# The reason the HPA controller gives when its scale-up policies cap the recommendation.
SCALE_UP_LIMIT = "ScaleUpLimit"


def scale_up_limited(hpa: AutoscalerEvidence) -> PodCondition | None:
    """The autoscaler's condition saying its scale-up policies hold it below the replica
    count its metric asks for (ScalingLimited, or AbleToScale, with reason ScaleUpLimit),
    while it is still below its maximum; None otherwise."""
    current = max(hpa.current_replicas or 0, hpa.desired_replicas or 0)
    if hpa.max_replicas and current >= hpa.max_replicas:
        return None  # at its maximum: the saturation rule's own case
    limited = [
        c
        for c in hpa.conditions
        if c.status == "True" and c.reason == SCALE_UP_LIMIT and c.type in _LIMIT_TYPES
    ]
    return min(limited, key=lambda c: _LIMIT_TYPES.index(c.type), default=None)


_LIMIT_TYPES = ("ScalingLimited", "AbleToScale")


def _traffic_growth(evidence: Evidence) -> list[tuple[EvidenceItem, float]]:
    """The request-rate series that grew by RISE or more, as facts with their growth."""
    grown: list[tuple[EvidenceItem, float]] = []
    for metric in evidence.metrics:
        growth = metric_growth(metric)
        if growth is None or growth < RISE or not (is_traffic(metric) and is_rate(metric)):
            continue
        if metric.last is None:
            continue
        grown.append(
            (
                item(
                    "metrics",
                    f"{metric.name or metric.query}: "
                    f"{prose.number(metric.first or metric.min or 0.0)} -> "
                    f"{prose.number(metric.last)} (x{growth:.1f})",
                ),
                growth,
            )
        )
    return grown


def rate_limited_autoscaler(evidence: Evidence, workload: ObjectRef | None) -> list[Finding]:
    """Demand grew and the service is slower or fails while the workload's autoscaler, below
    its maximum, reports that its scale-up policies let it add replicas more slowly than its
    metric asks: the missing replicas are capacity withheld by the policy; scale out now."""
    if workload is None or workload.kind not in ACTION_TARGET_KINDS[Action.SCALE_OUT]:
        return []
    if any(
        pod_failing(p) and any(c.restart_count > 0 for c in p.containers) for p in evidence.pods
    ):
        return []  # crashing pods are another analyzer's case, not demand
    found = next(
        (
            (hpa, limited)
            for hpa in evidence.autoscalers
            if hpa.scales(workload) and (limited := scale_up_limited(hpa)) is not None
        ),
        None,
    )
    if found is None:
        return []
    traffic = _traffic_growth(evidence)
    strain = strain_facts(evidence) or alerted_strain(evidence)
    if not traffic or not strain:
        return []
    hpa, limited = found
    hpa_ref = ObjectRef(kind="HorizontalPodAutoscaler", namespace=hpa.namespace, name=hpa.name)
    condition = item(
        f"hpa/{hpa.namespace}/{hpa.name}",
        f"replicas {hpa.current_replicas}/{hpa.max_replicas}; {limited.type}=True "
        f"{limited.reason}: {limited.message or ''}",
    )
    factor = max((g for _, g in traffic), default=SCALE_BY)
    params = scale_params(evidence, min(max(factor, SCALE_MIN), SCALE_MAX))
    if hpa.max_replicas:  # more than its maximum, the autoscaler would take back
        params["replicas"] = str(min(int(params["replicas"]), hpa.max_replicas))
    grew = [fact for fact, _ in traffic[:2]]
    return [
        make_finding(
            "resource-saturation",
            Category.RESOURCE_SATURATION,
            CONFIDENCE.scale_up_limited,
            prose.narrative(
                f"{prose.obj(workload)} needs replicas faster than its autoscaler may add them",
                f"scale out to {params['replicas']} replicas",
                aside="and widen the autoscaler's scale-up policy",
                because=[
                    prose.claim(f"Traffic grew about {factor:.1f}x over the window", *grew),
                    prose.claim(
                        f"{prose.obj(hpa_ref)} is below its maximum of "
                        f"{prose.count(hpa.max_replicas, 'replica')} but its scale-up policy "
                        "holds back the replicas its metric asks for",
                        condition,
                    ),
                    prose.claim("The service got slower or fails meanwhile", *strain),
                ],
            ),
            [*grew, condition, *strain],
            Action.SCALE_OUT,
            workload,
            params,
        )
    ]
