"""An autoscaler held back below the replica count it wants, short of its maximum: by its own
scale-up rate, reporting that the count it wants grows faster than its ``behavior.scaleUp``
policies allow (``ScalingLimited=True ScaleUpLimit``; Kubernetes' "the desired replica count is
increasing faster than the maximum scale rate"), or because the API server refuses its updates
of the workload's scale (``AbleToScale=False FailedUpdateScale`` while it desires more replicas
than run: an admission webhook or policy, a quota, RBAC). When demand grew meanwhile and the
service is slower or fails, the replicas it is not allowed to add are the capacity that is
missing: scale out now (and widen the policy, or clear what refuses the update). Called by the
saturation rule (``saturation``), whose category it shares. Pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import make_finding
from kubetriage.analyzers.cfs import THROTTLED_SHARE, throttle_ratios
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
    # Below its maximum, desiring more replicas than run while the API server refuses its
    # updates of the scale (AbleToScale=False FailedUpdateScale), and the service is strained
    # (slower, failing, or its containers throttled): short by the autoscaler's own measure,
    # so above a throttled container's own CPU limit (0.75) that more replicas would relieve.
    update_refused: float = 0.8


CONFIDENCE: Final = _Confidence()

# The reason the HPA controller gives when its scale-up policies cap the recommendation.
SCALE_UP_LIMIT = "ScaleUpLimit"
# The reason the HPA controller gives when the API server refused its update of the target's
# scale subresource ("the HPA controller was unable to update the target scale: ...").
FAILED_UPDATE_SCALE = "FailedUpdateScale"


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


def update_refused(hpa: AutoscalerEvidence) -> PodCondition | None:
    """The autoscaler's ``AbleToScale=False FailedUpdateScale`` condition while it desires more
    replicas than its target runs (the API server refuses the scale-up itself); None when it
    wants no more replicas, or nothing refused its update."""
    if (hpa.desired_replicas or 0) <= (hpa.current_replicas or 0):
        return None
    return next(
        (
            c
            for c in hpa.conditions
            if c.type == "AbleToScale" and c.status == "False" and c.reason == FAILED_UPDATE_SCALE
        ),
        None,
    )


def held_back(hpa: AutoscalerEvidence) -> PodCondition | None:
    """Why the autoscaler runs fewer replicas than its metric asks for, below its maximum: its
    scale-up policy (``scale_up_limited``) or a refused update of the scale
    (``update_refused``); None when neither holds it back."""
    return scale_up_limited(hpa) or update_refused(hpa)


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
            if hpa.scales(workload) and (limited := held_back(hpa)) is not None
        ),
        None,
    )
    if found is None:
        return []
    hpa, limited = found
    refused = limited.reason == FAILED_UPDATE_SCALE
    traffic = _traffic_growth(evidence)
    strain = strain_facts(evidence) or alerted_strain(evidence)
    if refused:
        # The autoscaler's own recommendation is the demand; throttled containers are strain.
        strain = strain or _throttled(evidence)
    elif not traffic:
        return []
    if not strain:
        return []
    hpa_ref = ObjectRef(kind="HorizontalPodAutoscaler", namespace=hpa.namespace, name=hpa.name)
    condition = item(
        f"hpa/{hpa.namespace}/{hpa.name}",
        f"replicas {hpa.current_replicas}/{hpa.max_replicas}"
        + (f", desired {hpa.desired_replicas}" if refused else "")
        + f"; {limited.type}={limited.status} {limited.reason}: {limited.message or ''}",
    )
    factor = max((g for _, g in traffic), default=SCALE_BY)
    params = scale_params(evidence, min(max(factor, SCALE_MIN), SCALE_MAX))
    if refused and hpa.desired_replicas:  # what the autoscaler itself asks for
        params["replicas"] = str(max(int(params["replicas"]), hpa.desired_replicas))
    if hpa.max_replicas:  # more than its maximum, the autoscaler would take back
        params["replicas"] = str(min(int(params["replicas"]), hpa.max_replicas))
    grew = [fact for fact, _ in traffic[:2]]
    because = (
        [prose.claim(f"Traffic grew about {factor:.1f}x over the window", *grew)] if grew else []
    )
    if refused:
        problem = (
            f"{prose.obj(workload)} runs "
            f"{prose.count(hpa.current_replicas or 0, 'replica')} of the "
            f"{hpa.desired_replicas} its autoscaler asks for"
        )
        held = "the API server refuses the scale-up its metric asks for"
        aside = "and clear what refuses the autoscaler's scale updates"
    else:
        problem = f"{prose.obj(workload)} needs replicas faster than its autoscaler may add them"
        held = "its scale-up policy holds back the replicas its metric asks for"
        aside = "and widen the autoscaler's scale-up policy"
    because += [
        prose.claim(
            f"{prose.obj(hpa_ref)} is below its maximum of "
            f"{prose.count(hpa.max_replicas, 'replica')} but {held}",
            condition,
        ),
        prose.claim("The service got slower, fails or is throttled meanwhile", *strain),
    ]
    return [
        make_finding(
            "resource-saturation",
            Category.RESOURCE_SATURATION,
            CONFIDENCE.update_refused if refused else CONFIDENCE.scale_up_limited,
            prose.narrative(
                problem, f"scale out to {params['replicas']} replicas", aside=aside, because=because
            ),
            [*grew, condition, *strain],
            Action.SCALE_OUT,
            workload,
            params,
        )
    ]


def _throttled(evidence: Evidence) -> list[EvidenceItem]:
    """The workload's containers throttled in THROTTLED_SHARE of their CFS periods or more,
    as facts."""
    return [
        item("metrics", f"{share:.0%} of CFS periods throttled for {container or 'a container'}")
        for container, share in throttle_ratios(evidence).items()
        if share >= THROTTLED_SHARE
    ][:1]
