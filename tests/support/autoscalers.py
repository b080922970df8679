"""HorizontalPodAutoscaler evidence for unit tests: one autoscaler scaling one workload, in
range, held at its maximum, or blind to its metric, with the conditions the HPA controller
writes in each of those states, so a test states only the replica counts it is about.
"""

from __future__ import annotations

from collections.abc import Sequence

from kubetriage.models.base import ObjectRef
from kubetriage.models.object_evidence import AutoscalerEvidence, PodCondition

# What the HPA controller writes when the replicas it wants exceed maxReplicas.
AT_MAXIMUM = PodCondition(
    type="ScalingLimited",
    status="True",
    reason="TooManyReplicas",
    message="the desired replica count is more than the maximum replica count",
)

IN_RANGE = PodCondition(
    type="ScalingLimited",
    status="False",
    reason="DesiredWithinRange",
    message="the desired count is within the acceptable range",
)

CPU_UNREADABLE = (
    "the HPA was unable to compute the replica count: failed to get cpu utilization: "
    "unable to fetch metrics from resource metrics API"
)


def blind(reason: str = "FailedGetResourceMetric", message: str = CPU_UNREADABLE) -> PodCondition:
    """The condition of an autoscaler that cannot read its metric (``ScalingActive`` False)."""
    return PodCondition(type="ScalingActive", status="False", reason=reason, message=message)


def hpa(
    target: ObjectRef,
    *,
    current: int | None = None,
    maximum: int = 10,
    minimum: int | None = 2,
    desired: int | None = None,
    limited: bool = False,
    conditions: Sequence[PodCondition] = (),
    metrics: Sequence[str] = (),
    name: str | None = None,
) -> AutoscalerEvidence:
    """An autoscaler named after ``target`` (unless ``name``), in its namespace, with
    ``current`` replicas (and as many desired unless ``desired``); ``limited`` adds the
    at-maximum condition before ``conditions``."""
    return AutoscalerEvidence(
        name=name or target.name,
        namespace=target.namespace or "",
        target=target,
        min_replicas=minimum,
        max_replicas=maximum,
        current_replicas=current,
        desired_replicas=current if desired is None else desired,
        conditions=([AT_MAXIMUM] if limited else []) + list(conditions),
        metrics=list(metrics),
    )
