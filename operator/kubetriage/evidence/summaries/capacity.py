"""What bounds a workload's size: HorizontalPodAutoscalers and ResourceQuotas. Pure."""

from __future__ import annotations

from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.raw import as_dict, as_int, as_list, as_str, str_map
from kubetriage.evidence.summaries.conditions import conditions
from kubetriage.models.base import ObjectRef
from kubetriage.models.object_evidence import AutoscalerEvidence, QuotaEvidence
from kubetriage.models.objects import JsonDict
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns


def scales(hpa: JsonDict, kind: str, name: str) -> bool:
    """Whether the HPA's ``scaleTargetRef`` is the workload ``kind``/``name`` (of its own
    namespace: an HPA scales only there)."""
    ref = as_dict(as_dict(hpa.get("spec")).get("scaleTargetRef"))
    return ref.get("kind") == kind and ref.get("name") == name


# The source kinds of an autoscaling/v2 metric, by their ``type``, and the key holding it.
_METRIC_SOURCES = {
    "Resource": "resource",
    "ContainerResource": "containerResource",
    "Pods": "pods",
    "Object": "object",
    "External": "external",
}


def scaled_on(spec: JsonDict) -> list[str]:
    """What an HPA scales on: each resource by its name ("cpu", "memory"), each other metric
    as "<source>:<name>"; an autoscaling/v1 HPA and a v2 one with no metrics scale on CPU
    (the controller's default)."""
    found: list[str] = []
    for metric in as_list(spec.get("metrics")):
        kind = as_str(as_dict(metric).get("type")) or ""
        source = as_dict(as_dict(metric).get(_METRIC_SOURCES.get(kind, "")))
        if kind in ("Resource", "ContainerResource"):
            found.append(as_str(source.get("name")) or "?")
        elif source:
            name = as_str(as_dict(source.get("metric")).get("name")) or "?"
            found.append(f"{_METRIC_SOURCES[kind].lower()}:{name}")
    return found or ["cpu"]


def autoscaler_summary(hpa: JsonDict, limits: EvidenceLimits) -> AutoscalerEvidence:
    spec, status = as_dict(hpa.get("spec")), as_dict(hpa.get("status"))
    ref = as_dict(spec.get("scaleTargetRef"))
    target = None
    if isinstance(ref.get("kind"), str) and isinstance(ref.get("name"), str):
        target = ObjectRef(
            kind=ref["kind"],
            name=ref["name"],
            namespace=_ns(hpa) or None,
            api_version=as_str(ref.get("apiVersion")),
        )
    return AutoscalerEvidence(
        name=_name(hpa),
        namespace=_ns(hpa),
        target=target,
        min_replicas=as_int(spec.get("minReplicas")),
        max_replicas=as_int(spec.get("maxReplicas")) or 0,
        current_replicas=as_int(status.get("currentReplicas")),
        desired_replicas=as_int(status.get("desiredReplicas")),
        conditions=conditions(status.get("conditions"), limits),
        metrics=scaled_on(spec),
    )


def quota_summary(quota: JsonDict, limits: EvidenceLimits) -> QuotaEvidence:
    status = as_dict(quota.get("status"))
    return QuotaEvidence(
        name=_name(quota),
        namespace=_ns(quota),
        hard=str_map(status.get("hard") or as_dict(quota.get("spec")).get("hard"), limits),
        used=str_map(status.get("used"), limits),
    )
