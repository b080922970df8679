"""The sections of one ``build_evidence`` run: which objects of each kind go into the
Evidence, in which order, bounded by ``EvidenceLimits``: the pods' nodes (every node, troubled
first, when placement is the question), their claims, the Services (related first), the
NetworkPolicies of the namespace and of the callees' namespaces, the HPAs, the ConfigMaps'
keys and every other object in scope. ``Build`` carries what every section reads.

Pure, like the builder (``kubetriage.evidence.build``) that calls them in order.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from kubetriage.evidence.index import ObjectIndex, same_object
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.notes import Notes, bounded, summarise_all
from kubetriage.evidence.raw import (
    as_dict,
    dicts,
    kind_of,
    obj_key,
    str_map,
)
from kubetriage.evidence.run_claims import claims_named_by_run
from kubetriage.evidence.scope import EvidenceScope
from kubetriage.evidence.summaries.capacity import autoscaler_summary, scales
from kubetriage.evidence.summaries.dependencies import (
    DEPENDENCY_KINDS,
    env_mentions,
)
from kubetriage.evidence.summaries.network import network_policy_summary
from kubetriage.evidence.summaries.nodes import node_troubled
from kubetriage.evidence.summaries.pods import IMPLICIT_CONFIG_MAPS
from kubetriage.models.base import ObjectRef
from kubetriage.models.network_policies import NetworkPolicyEvidence
from kubetriage.models.object_evidence import AutoscalerEvidence, LogTail, PodEvidence
from kubetriage.models.objects import JsonDict, service_selects
from kubetriage.models.objects import labels as _labels
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns
from kubetriage.models.relations import DependencyEvidence

# Kinds summarised by dedicated code (a dependency's pods, controllers and events, and the
# kinds below); everything else in scope becomes GenericObjectEvidence.
_DEDICATED_KINDS = frozenset(
    {
        *DEPENDENCY_KINDS,
        "Node",
        "PersistentVolumeClaim",
        "Service",
        "Endpoints",
        "EndpointSlice",
        "NetworkPolicy",
        "HorizontalPodAutoscaler",
        "ResourceQuota",
        "ConfigMap",
        "Secret",
        "Namespace",
        "IngressClass",
    }
)


@dataclass(frozen=True)
class Build:
    """What every section of one build reads."""

    index: ObjectIndex
    scope: EvidenceScope
    chosen: ObjectRef | None
    limits: EvidenceLimits
    notes: Notes
    unavailable: Collection[str]


def select_nodes(build: Build, pods: list[PodEvidence]) -> list[JsonDict]:
    """The target node, then the pods' nodes; every node when placement is the question (a
    pod not scheduled yet, or no narrower target), troubled nodes first."""
    index, chosen = build.index, build.chosen
    node_names: list[str] = []
    if chosen is not None and chosen.kind == "Node":
        node_names.append(chosen.name)
    for pod in pods:  # several pods on one node name it once
        if pod.node and pod.node not in node_names:
            node_names.append(pod.node)
    wide = build.scope.namespace_wide or any(p.node is None for p in pods)
    node_objs = [n for name in node_names if (n := index.get("Node", None, name)) is not None]
    if wide:
        other_nodes = [n for n in index.kind("Node") if _name(n) not in node_names]
        node_objs += sorted(other_nodes, key=lambda n: (not node_troubled(n), _name(n)))
    return bounded(node_objs, build.limits.max_nodes, "nodes", build.notes, "pods' nodes first")


def select_pvcs(build: Build, pods: list[PodEvidence], tails: list[LogTail]) -> list[JsonDict]:
    """Volumes claimed by the pods or the workload template, plus a PVC target, plus the
    claims a Job's own log names (``claims_named_by_run``; unbounded)."""
    index, chosen, scope = build.index, build.chosen, build.scope
    namespace = scope.namespace
    claim_names: list[str] = []
    if chosen is not None and chosen.kind == "PersistentVolumeClaim":
        claim_names.append(chosen.name)
    for summarised in pods:
        claim_names += [c for c in summarised.pvc_names if c not in claim_names]
    existing = {_name(p) for p in index.in_namespace("PersistentVolumeClaim", namespace or "")}
    logged = claims_named_by_run(scope.workload, scope.pods, tails, existing, build.limits.max_pvcs)
    claim_names += [c for c in logged if c not in claim_names]
    pvc_objs = [
        obj
        for name in claim_names
        if (obj := index.get("PersistentVolumeClaim", namespace, name)) is not None
    ]
    claimed = {obj_key(p) for p in pvc_objs}
    if scope.workload is not None and kind_of(scope.workload) == "StatefulSet":
        prefixes = [
            f"{_name(t)}-{_name(scope.workload)}-"
            for t in dicts(as_dict(scope.workload.get("spec")).get("volumeClaimTemplates"))
        ]
        pvc_objs += [
            p
            for p in index.in_namespace("PersistentVolumeClaim", _ns(scope.workload))
            if any(_name(p).startswith(prefix) for prefix in prefixes) and obj_key(p) not in claimed
        ]
        claimed = {obj_key(p) for p in pvc_objs}
    if scope.namespace_wide:
        pvc_objs += [
            p
            for p in index.kind("PersistentVolumeClaim")
            if (namespace is None or _ns(p) == namespace) and obj_key(p) not in claimed
        ]
    return pvc_objs


def pod_label_sets(scope: EvidenceScope) -> list[dict[str, str]]:
    """The label sets of the pods in scope (distinct ones only: thousands of replicas share a
    handful), else the workload template's."""
    pod_labels = list({tuple(sorted(_labels(p).items())): _labels(p) for p in scope.pods}.values())
    if not pod_labels and scope.workload is not None:
        template_meta = as_dict(
            as_dict(as_dict(scope.workload.get("spec")).get("template")).get("metadata")
        )
        pod_labels = [
            {k: v for k, v in as_dict(template_meta.get("labels")).items() if isinstance(v, str)}
        ]
    return pod_labels


def select_services(build: Build, pod_labels: list[dict[str, str]]) -> list[JsonDict]:
    """Services in the namespace: the target, those selecting the pods, those the containers
    name in env or args (dependencies), then the rest; bounded."""
    scope, limits = build.scope, build.limits
    mentions = env_mentions(scope.pods[: limits.max_pods], scope.workload)
    if scope.namespace is None:
        return []

    def service_rank(svc: JsonDict) -> tuple[int, str]:
        selector = str_map(as_dict(svc.get("spec")).get("selector"), limits)
        if same_object(svc, scope.target_obj):
            return (0, _name(svc))
        if any(service_selects(selector, labels) for labels in pod_labels):
            return (1, _name(svc))
        if _name(svc) in mentions:
            return (2, _name(svc))
        return (3, _name(svc))

    service_objs = sorted(build.index.in_namespace("Service", scope.namespace), key=service_rank)
    return bounded(service_objs, limits.max_services, "services", build.notes, "related first")


def namespace_policies(
    build: Build, namespace: str, pod_labels: list[dict[str, str]]
) -> list[NetworkPolicyEvidence]:
    """The namespace's NetworkPolicies, those selecting the pods first; bounded."""
    limits = build.limits
    policies = summarise_all(
        build.index.in_namespace("NetworkPolicy", namespace),
        build.notes,
        lambda p: network_policy_summary(p, pod_labels, limits),
    )
    policies.sort(key=lambda p: (not p.selects_target, p.name))
    return bounded(
        policies, limits.max_network_policies, "network policies", build.notes, "selecting first"
    )


def select_autoscalers(build: Build, namespace: str) -> list[AutoscalerEvidence]:
    """The HPAs of the target or its workload (every one when the namespace is the scope)."""
    scope, limits = build.scope, build.limits
    hpa_objs = [
        h
        for h in build.index.in_namespace("HorizontalPodAutoscaler", namespace)
        if scope.namespace_wide
        or same_object(h, scope.target_obj)
        or (
            scope.workload is not None and scales(h, kind_of(scope.workload), _name(scope.workload))
        )
    ]
    return summarise_all(
        bounded(hpa_objs, limits.max_autoscalers, "autoscalers", build.notes),
        build.notes,
        lambda h: autoscaler_summary(h, limits),
    )


def config_map_keys(build: Build, namespace: str, pods: list[PodEvidence]) -> dict[str, list[str]]:
    """The key names of the namespace's ConfigMaps, those the pods refer to first."""
    limits, notes = build.limits, build.notes
    referenced = {r.name for p in pods for r in p.config_refs if r.kind == "ConfigMap"}
    cm_objs = sorted(
        (
            c
            for c in build.index.in_namespace("ConfigMap", namespace)
            if _name(c) not in IMPLICIT_CONFIG_MAPS
        ),
        key=lambda c: (_name(c) not in referenced, _name(c)),
    )
    config_maps: dict[str, list[str]] = {}
    for cm in bounded(cm_objs, limits.max_config_maps, "config maps", notes, "referenced first"):
        keys = sorted(
            k
            for k in list(as_dict(cm.get("data"))) + list(as_dict(cm.get("binaryData")))
            if isinstance(k, str)
        )
        notes.cut(f"keys of ConfigMap {_name(cm)}", limits.max_config_map_keys, len(keys))
        config_maps[_name(cm)] = keys[: limits.max_config_map_keys]
    return config_maps


# Which of the other objects come first (certificates are the usual story).
_OTHER_RANK = {
    "Certificate": 0,
    "CertificateRequest": 1,
    "Issuer": 1,
    "Ingress": 2,
    "Job": 3,
    "CronJob": 4,
    # A batch queue's record of a Job it holds (Kueue): why the Job has no pod.
    "Workload": 5,
}


def select_others(build: Build) -> list[JsonDict]:
    """Everything else in the namespace (and cluster-scoped kinds we have no model for)."""
    namespace, target_obj = build.scope.namespace, build.scope.target_obj
    other_objs = [
        obj
        for kind, objs in build.index.by_kind.items()
        if kind not in _DEDICATED_KINDS
        for obj in objs
        if (_ns(obj) == namespace if namespace is not None else True) or not _ns(obj)
    ]
    other_objs.sort(
        key=lambda o: (
            not same_object(o, target_obj),
            _OTHER_RANK.get(kind_of(o), 9),
            _name(o),
        )
    )
    return bounded(other_objs, build.limits.max_other_objects, "other objects", build.notes)


def callee_network_policies(
    build: Build, dependencies: list[DependencyEvidence]
) -> list[NetworkPolicyEvidence]:
    """The NetworkPolicies of the callees' namespaces: they decide whether a callee accepts
    the workload's calls."""
    limits = build.limits
    callee_namespaces = {
        ref.namespace
        for d in dependencies
        for ref in ([d.workload] if d.workload else []) + ([d.service.ref()] if d.service else [])
        if ref.namespace and ref.namespace != build.scope.namespace
    }
    found = summarise_all(
        [
            p
            for ns in sorted(callee_namespaces)
            for p in build.index.in_namespace("NetworkPolicy", ns)
        ],
        build.notes,
        lambda p: network_policy_summary(p, [], limits),
    )
    return bounded(
        found,
        limits.max_network_policies,
        "network policies of dependencies",
        build.notes,
    )
