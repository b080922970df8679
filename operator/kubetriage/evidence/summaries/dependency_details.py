"""One dependency summarised with what stands behind it, as the collector's
``kubetriage.evidence.backing_walk`` read it: ``summarise_dependency``'s summary of its
Service and workload, the log tails of its first pods (troubled first) with the claims they
mount and those claims' warnings, the autoscalers that size its workload, and, dated, the
recent edits of the ConfigMaps its pods use, what their Corefile forwards to, and the
cert-manager Certificates writing the Secrets they mount. Pure; called for each dependency
``kubetriage.evidence.summaries.dependencies`` follows.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from functools import partial

from kubetriage.evidence.changes import config_changes
from kubetriage.evidence.corefile import dns_forwards
from kubetriage.evidence.dependency_summary import summarise_dependency
from kubetriage.evidence.index import ObjectIndex, claim_names, referenced_config, sort_pods
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.logs import bound_log_tail
from kubetriage.evidence.raw import as_dict, as_str, clip_text, dicts, kind_of
from kubetriage.evidence.settings_readers import settings_config_maps
from kubetriage.evidence.summaries.capacity import autoscaler_summary, scales
from kubetriage.evidence.summaries.generic import generic_summary
from kubetriage.evidence.summaries.network import service_summary
from kubetriage.evidence.summaries.nodes import pvc_summary
from kubetriage.models.naming import NamingSource
from kubetriage.models.object_evidence import (
    ChangeEvidence,
    GenericObjectEvidence,
    LogTail,
    PVCEvidence,
)
from kubetriage.models.objects import JsonDict, endpoint_pods, selector_matches, service_selects
from kubetriage.models.objects import labels as _labels
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns
from kubetriage.models.relations import DependencyEvidence, DependencyVolume

# Certificates kept per dependency (one serving certificate is the usual case).
_MAX_SERVING_CERTIFICATES = 3


def dependency_details(
    index: ObjectIndex,
    obj: JsonDict,
    sources: list[NamingSource],
    objects: list[JsonDict],
    unavailable: Collection[str],
    limits: EvidenceLimits,
    logs: Sequence[LogTail],
    now: datetime | None,
) -> DependencyEvidence:
    """One dependency (a Service, or a workload named directly) summarised from what was read
    of its namespace (``objects``): ``summarise_dependency``'s summary with its own words, its
    autoscalers and, when ``now`` dates them, its ConfigMaps' edits and serving Certificates."""
    if kind_of(obj) == "Service":
        summary = service_summary(index, obj, unavailable, limits)
        found = summarise_dependency(summary, None, sources, objects, limits)
    else:
        found = summarise_dependency(None, obj, sources, objects, limits)
    found = _own_words(index, obj, found, logs, limits)
    if down := _down_nodes(index, found.pod_nodes):
        found = found.model_copy(update={"down_nodes": down})
    if found.workload is not None:
        workload = found.workload
        hpas = [
            h
            for h in index.in_namespace("HorizontalPodAutoscaler", workload.namespace or "")
            if scales(h, workload.kind, workload.name)
        ][: limits.max_autoscalers]
        found = found.model_copy(
            update={"autoscalers": [autoscaler_summary(h, limits) for h in hpas]}
        )
    if now is None:
        return found
    used = _used_config_maps(index, obj, limits)
    found = found.model_copy(
        update={"config_changes": _config_edits(used, now), "dns_forwards": dns_forwards(used)}
    )
    if not found.mounted_secrets:
        return found
    return found.model_copy(
        update={"certificates": _serving_certificates(index, obj, found, now, limits)}
    )


def _down_nodes(index: ObjectIndex, pod_nodes: dict[str, str]) -> dict[str, str]:
    """The nodes of the dependency's pods whose Ready condition is not True, each with that
    condition's status and message (or reason)."""
    down: dict[str, str] = {}
    for name in dict.fromkeys(pod_nodes.values()):
        node = index.get("Node", None, name)
        if node is None:
            continue
        conditions = dicts(as_dict(node.get("status")).get("conditions"))
        ready = next((c for c in conditions if c.get("type") == "Ready"), None)
        status = as_str((ready or {}).get("status")) or "Unknown"
        if status != "True":
            why = as_str((ready or {}).get("message")) or as_str((ready or {}).get("reason"))
            down[name] = f"{status}: {why}" if why else status
    return down


# Config edits kept per dependency, newest first.
_MAX_CONFIG_EDITS = 3


def _used_config_maps(index: ObjectIndex, obj: JsonDict, limits: EvidenceLimits) -> list[JsonDict]:
    """The ConfigMaps the dependency's first pods use (volumes, env), the ones the
    collector's walk reads."""
    few = sort_pods(_backing_pods(index, obj))[: limits.max_dependency_pods]
    names = sorted(
        {
            name
            for pod in few
            for kind, name in referenced_config(as_dict(pod.get("spec")))
            if kind == "ConfigMap"
        }
        | {n for pod in few for n in settings_config_maps(as_dict(pod.get("spec")), _ns(pod))}
    )
    return [cm for n in names if (cm := index.get("ConfigMap", _ns(obj), n)) is not None]


def _config_edits(used: list[JsonDict], now: datetime) -> list[ChangeEvidence]:
    """Recent edits of the ConfigMaps the dependency's pods use: its configuration changed
    with no rollout."""
    edits = [c for c in config_changes(used, now) if "data" in c.aspects]
    epoch = datetime.min.replace(tzinfo=now.tzinfo)
    edits.sort(key=lambda c: c.at or epoch, reverse=True)
    return edits[:_MAX_CONFIG_EDITS]


def _serving_certificates(
    index: ObjectIndex,
    obj: JsonDict,
    found: DependencyEvidence,
    now: datetime,
    limits: EvidenceLimits,
) -> list[GenericObjectEvidence]:
    """The cert-manager Certificates of the dependency's namespace whose ``secretName`` is a
    Secret its pods mount: the certificate it serves, which cert-manager renews."""
    mounted = set(found.mounted_secrets)
    return [
        generic_summary(cert, now, limits)
        for cert in index.in_namespace("Certificate", _ns(obj))
        if as_str(as_dict(cert.get("spec")).get("secretName")) in mounted
    ][:_MAX_SERVING_CERTIFICATES]


def _backing_pods(index: ObjectIndex, obj: JsonDict) -> list[JsonDict]:
    """The pods a dependency's Service selects (a Service without a selector: the pods its
    Endpoints name), or its workload's selector matches."""
    spec = as_dict(obj.get("spec"))
    if kind_of(obj) == "Service":
        selector = {k: v for k, v in as_dict(spec.get("selector")).items() if isinstance(v, str)}
        if not selector:
            endpoints = index.get("Endpoints", _ns(obj), _name(obj)) or {}
            named = (index.get("Pod", _ns(obj), n) for n in endpoint_pods(endpoints))
            return [p for p in named if p is not None]
        matches = partial(service_selects, selector)
    else:
        matches = partial(selector_matches, as_dict(spec.get("selector")))
    return [p for p in index.in_namespace("Pod", _ns(obj)) if matches(_labels(p))]


def _own_words(
    index: ObjectIndex,
    obj: JsonDict,
    found: DependencyEvidence,
    logs: Sequence[LogTail],
    limits: EvidenceLimits,
) -> DependencyEvidence:
    """What the dependency says about itself: the log tails of its first pods (troubled
    first, as the collector read them), the claims they mount and those claims' warnings."""
    few = sort_pods(_backing_pods(index, obj))[: limits.max_dependency_pods]
    keys = {(_ns(p), _name(p)) for p in few}
    tails = [t for t in logs if (t.namespace, t.pod) in keys][: limits.max_log_tails]
    volumes = []
    for pod in few:
        for claim in claim_names(pod):
            pvc = index.get("PersistentVolumeClaim", _ns(pod), claim)
            summary = pvc_summary(pvc) if pvc is not None else None
            summary = summary or PVCEvidence(name=claim, namespace=_ns(pod))
            volumes.append(DependencyVolume(pod=_name(pod), claim=summary))
    claims = {v.claim.name for v in volumes}
    warnings = [
        clip_text(f"PersistentVolumeClaim/{e_name} {e.get('reason')}: {e.get('message')}", 300)
        or ""
        for e in index.in_namespace("Event", _ns(obj))
        if e.get("type") == "Warning"
        and as_dict(e.get("involvedObject")).get("kind") == "PersistentVolumeClaim"
        and (e_name := as_str(as_dict(e.get("involvedObject")).get("name"))) in claims
    ]
    return found.model_copy(
        update={
            "logs": [bound_log_tail(t, limits) for t in tails],
            "volumes": volumes[: limits.max_pvcs],
            "warnings": (warnings[:2] + found.warnings)[:5],
        }
    )
