"""Nodes (readiness, taints, allocatable) and the PersistentVolumeClaims pods mount. Pure."""

from __future__ import annotations

from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.raw import as_dict, as_list, as_str, dicts, str_map
from kubetriage.evidence.summaries.conditions import conditions
from kubetriage.models.object_evidence import NodeEvidence, PVCEvidence
from kubetriage.models.objects import JsonDict
from kubetriage.models.objects import meta as _meta
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns


def _node_ready(node: JsonDict) -> str:
    for condition in dicts(as_dict(node.get("status")).get("conditions")):
        if condition.get("type") == "Ready":
            return as_str(condition.get("status")) or "Unknown"
    return "Unknown"


def node_summary(node: JsonDict, limits: EvidenceLimits) -> NodeEvidence:
    spec, status = as_dict(node.get("spec")), as_dict(node.get("status"))
    taints, keys = [], []
    for taint in dicts(spec.get("taints")):
        value = as_str(taint.get("value"))
        key = as_str(taint.get("key")) or "?"
        taints.append(
            f"{key}={value}:{taint.get('effect')}" if value else f"{key}:{taint.get('effect')}"
        )
        keys.append(key)
    return NodeEvidence(
        name=_name(node),
        ready=_node_ready(node),
        conditions=conditions(status.get("conditions"), limits),
        taints=taints[: limits.max_labels],
        taint_keys=keys[: limits.max_labels],
        unschedulable=spec.get("unschedulable") is True,
        allocatable=str_map(status.get("allocatable"), limits),
        capacity=str_map(status.get("capacity"), limits),
        labels=str_map(_meta(node).get("labels"), limits),
        addresses=[
            a["address"]
            for a in dicts(status.get("addresses"))
            if isinstance(a.get("address"), str)
        ][: limits.max_labels],
        kubelet_version=as_str(as_dict(status.get("nodeInfo")).get("kubeletVersion")),
    )


def node_troubled(node: JsonDict) -> bool:
    spec = as_dict(node.get("spec"))
    return (
        _node_ready(node) != "True"
        or bool(as_list(spec.get("taints")))
        or bool(spec.get("unschedulable"))
    )


def pvc_summary(pvc: JsonDict) -> PVCEvidence:
    spec, status = as_dict(pvc.get("spec")), as_dict(pvc.get("status"))
    return PVCEvidence(
        name=_name(pvc),
        namespace=_ns(pvc),
        phase=as_str(status.get("phase")),
        storage_class=as_str(spec.get("storageClassName")),
        requested=as_str(as_dict(as_dict(spec.get("resources")).get("requests")).get("storage")),
        capacity=as_str(as_dict(status.get("capacity")).get("storage")),
        volume_name=as_str(spec.get("volumeName")),
        access_modes=[m for m in as_list(spec.get("accessModes")) if isinstance(m, str)],
    )
