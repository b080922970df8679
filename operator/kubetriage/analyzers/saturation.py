"""The resource-saturation rule: demand outgrowing capacity. An autoscaler at its maximum (or
a KubeHpaMaxedOut alert); else demand read from the workload's own series (traffic or queues
that grew with latency, errors or busy connections, or CPU rising with no CPU limit and no new
revision while the service is slower or says its workers are all busy: ``traffic_saturation``);
the fix is more replicas. Also capacity taken away (``capacity``: replicas cut by hand, an
autoscaler that cannot read its metric; ``autoscaler_blind_spot``: one that scales on memory
only while CPU load overwhelms the pods). An autoscaler at its maximum is doubted when its pods
are heavily CPU-throttled (the limit caps them) or when it scaled up at a flat request rate
(requests got slower, not more), so the throttling or dependency rule leads. One at its maximum
that reports its desired count within range (``ScalingLimited=False``) while nothing says
demand presses (traffic, a queue, latency or errors up) was put there by a schedule or its
floor: no saturation, and its KubeHpaMaxedOut alert is not read as one either. Kept below a
change that explains the symptom (``changes.cap_explained``). Series are read by what they
measure with ``demand``; why an autoscaler at its maximum is doubted is
``autoscaler_doubts``'s; one below its maximum held back by its scale-up policy is
``scale_rate``'s.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.autoscaler_blind_spot import memory_only_autoscaler
from kubetriage.analyzers.autoscaler_doubts import demand_pressure, hpa_doubt, within_range
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.capacity import (
    blind_autoscaler,
    blind_callee_autoscaler,
    callee_scaled_to_zero,
    capacity_cut,
)
from kubetriage.analyzers.changes import cap_explained
from kubetriage.analyzers.demand import SCALE_BY, scale_params, traffic_rose
from kubetriage.analyzers.recency import rolled_out_recently
from kubetriage.analyzers.scale_rate import rate_limited_autoscaler
from kubetriage.analyzers.support import item, workload_ref
from kubetriage.analyzers.traffic_saturation import traffic_saturation
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import AutoscalerEvidence, PodCondition
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a resource-saturation finding is, by the evidence that earns it (read from
    the series instead: ``traffic_saturation.CONFIDENCE``)."""

    hpa_limited: float = 0.85  # the autoscaler runs its maximum and reports ScalingLimited
    hpa_max: float = 0.8  # the autoscaler runs its maximum of replicas
    hpa_alert: float = 0.75  # KubeHpaMaxedOut fired (the autoscaler itself not in evidence)
    # At its maximum, but what drove it there is not demand: its pods are heavily throttled
    # by their CPU limit, or it scaled up in the window while the request rate stayed flat.
    hpa_doubted: float = 0.55


CONFIDENCE: Final = _Confidence()


def maxed_autoscaler_item(hpa: AutoscalerEvidence, limited: PodCondition | None) -> EvidenceItem:
    """The evidence line of an autoscaler at its maximum, with its ScalingLimited reason
    when it reports one (``limited``, from ``scaling_limited``)."""
    return item(
        f"hpa/{hpa.namespace}/{hpa.name}",
        f"replicas {hpa.current_replicas}/{hpa.max_replicas} (max), desired "
        f"{hpa.desired_replicas}"
        + (f"; ScalingLimited {limited.reason}" if limited is not None else ""),
    )


def scaling_limited(hpa: AutoscalerEvidence) -> PodCondition | None:
    """The autoscaler's ScalingLimited=True condition for want of more replicas, if set."""
    return next(
        (
            c
            for c in hpa.conditions
            if c.type == "ScalingLimited"
            and c.status == "True"
            and (c.reason or "") in ("TooManyReplicas", "")
        ),
        None,
    )


def at_maximum(hpa: AutoscalerEvidence) -> bool:
    """Whether the autoscaler runs (or wants) its maximum of replicas, or says it is limited
    by it (``scaling_limited``)."""
    current = max(hpa.current_replicas or 0, hpa.desired_replicas or 0)
    return hpa.max_replicas > 0 and (
        current >= hpa.max_replicas or scaling_limited(hpa) is not None
    )


def outrun_autoscaler(evidence: Evidence, workload: ObjectRef) -> EvidenceItem | None:
    """The fact of ``workload``'s autoscaler running its maximum while its traffic grew (and
    nothing doubts that demand put it there, ``hpa_doubt``): demand outran the replicas it
    may add, so pods too busy to answer in time answer for the load, not for their probe."""
    if not traffic_rose(evidence):
        return None
    for hpa in evidence.autoscalers:
        if hpa.scales(workload) and at_maximum(hpa) and hpa_doubt(evidence, hpa.name) is None:
            return maxed_autoscaler_item(hpa, scaling_limited(hpa))
    return None


def check_saturation(evidence: Evidence) -> list[Finding]:
    return cap_explained(evidence, _check_saturation(evidence))


def _check_saturation(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    workload = workload_ref(evidence)
    for hpa in evidence.autoscalers:
        current = max(hpa.current_replicas or 0, hpa.desired_replicas or 0)
        limited = scaling_limited(hpa)
        if not at_maximum(hpa):
            continue
        if within_range(hpa) and not demand_pressure(evidence, absorbed=True):
            continue  # at its maximum by schedule or floor, not by demand
        target = hpa.target or workload
        if target is None or target.kind not in ACTION_TARGET_KINDS[Action.SCALE_OUT]:
            continue
        target = ObjectRef(
            kind=target.kind, namespace=target.namespace or hpa.namespace, name=target.name
        )
        facts = [
            item(
                f"hpa/{hpa.namespace}/{hpa.name}",
                f"replicas {hpa.current_replicas}/{hpa.max_replicas} (max), desired "
                f"{hpa.desired_replicas}",
            )
        ]
        hpa_ref = ObjectRef(kind="HorizontalPodAutoscaler", namespace=hpa.namespace, name=hpa.name)
        because = [
            prose.claim(
                f"{prose.obj(hpa_ref)} runs {prose.count(current, 'replica')}, its maximum",
                facts[0],
            )
        ]
        if limited is not None:
            facts.append(
                item(
                    f"hpa/{hpa.namespace}/{hpa.name}",
                    f"ScalingLimited=True {limited.reason}: {limited.message or ''}",
                )
            )
            because.append(
                prose.claim("It reports that it wants more replicas than it may run", facts[1])
            )
        doubt = hpa_doubt(evidence, hpa.name)
        if doubt is not None:
            facts.append(doubt[1])
            because.append(prose.claim(doubt[0], doubt[1]))
        else:
            because.append(
                prose.claim("Demand beyond what the maximum can serve queues up or fails")
            )
        confidence = CONFIDENCE.hpa_limited if limited is not None else CONFIDENCE.hpa_max
        findings.append(
            make_finding(
                "resource-saturation",
                Category.RESOURCE_SATURATION,
                CONFIDENCE.hpa_doubted if doubt is not None else confidence,
                prose.narrative(
                    f"{prose.obj(target)} is at its autoscaler's maximum of "
                    f"{prose.count(hpa.max_replicas, 'replica')}",
                    f"raise the maximum to {hpa.max_replicas * 2}",
                    because=because,
                ),
                facts,
                Action.SCALE_OUT,
                target,
                {"replicas": str(hpa.max_replicas * 2), "hpa": hpa.name},
            )
        )
    if findings:
        return findings
    read = {hpa.name for hpa in evidence.autoscalers}
    for alert in evidence.alerts:
        if (
            alert.labels.get("alertname") == "KubeHpaMaxedOut"
            and alert.labels.get("horizontalpodautoscaler") not in read
            and workload is not None
            and (workload.kind in ACTION_TARGET_KINDS[Action.SCALE_OUT])
        ):
            params = scale_params(evidence, SCALE_BY)
            fired = item(
                "alert",
                "KubeHpaMaxedOut "
                + prose.selector({k: v for k, v in alert.labels.items() if k != "alertname"}),
            )
            doubt = hpa_doubt(evidence, alert.labels.get("horizontalpodautoscaler"))
            doubted = [prose.claim(doubt[0], doubt[1])] if doubt is not None else []
            findings.append(
                make_finding(
                    "resource-saturation",
                    Category.RESOURCE_SATURATION,
                    CONFIDENCE.hpa_doubted if doubt is not None else CONFIDENCE.hpa_alert,
                    prose.narrative(
                        f"The autoscaler of {prose.obj(workload)} is at its maximum",
                        f"scale out to {params['replicas']} replicas",
                        because=[
                            prose.claim("KubeHpaMaxedOut fired for it", fired),
                            prose.claim(
                                "The autoscaler object itself was not in the evidence, so its "
                                "limits could not be read"
                            ),
                            *doubted,
                        ],
                    ),
                    [fired, *([doubt[1]] if doubt is not None else [])],
                    Action.SCALE_OUT,
                    workload,
                    params,
                )
            )
            return findings
    return [
        *(blind_autoscaler(evidence, workload) or blind_callee_autoscaler(evidence)),
        *callee_scaled_to_zero(evidence),
        *([] if rolled_out_recently(evidence) else memory_only_autoscaler(evidence, workload)),
        *(
            capacity_cut(evidence, workload)
            or rate_limited_autoscaler(evidence, workload)
            or traffic_saturation(evidence, workload)
        ),
    ]


SATURATION_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("resource-saturation", (Category.RESOURCE_SATURATION,), check_saturation),
)
