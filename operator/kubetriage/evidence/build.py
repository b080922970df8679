"""Turn raw Kubernetes objects and log tails into bounded, typed ``Evidence``.

Pure: no I/O, no clock (``now`` is passed in). Called by ``KubeEvidenceCollector`` with what it
read from the API server, and by the case replay with a case file's ``cluster`` and ``logs``;
both hand over objects exactly as the API serialises them (camelCase dicts).

The orchestration only: ``index`` decides what is in scope (the target, its workload found
through ownerReferences, the workload's pods...), ``summaries/*`` summarise each kind into the
models of ``kubetriage.models.evidence``, ``logs`` bounds the log tails, and every list is cut
to ``EvidenceLimits``. Objects come from clusters in every state: unusable objects are skipped
and named in ``collection_errors``, and cuts are named in ``truncated`` (``notes``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any, Unpack

from kubetriage.evidence.callers import callee_services, caller_summaries
from kubetriage.evidence.changes import change_timeline
from kubetriage.evidence.index import (
    EvidenceScope,
    ObjectIndex,
    choose_target,
    departed_pods,
    resolve_scope,
    same_object,
)
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.logs import select_logs
from kubetriage.evidence.notes import Notes, bounded, safe, summarise_all
from kubetriage.evidence.query import EvidenceQuery
from kubetriage.evidence.raw import (
    as_dict,
    clip_text,
    dicts,
    kind_of,
    obj_key,
    ref_key,
    str_map,
)
from kubetriage.evidence.summaries.capacity import autoscaler_summary, quota_summary
from kubetriage.evidence.summaries.dependencies import (
    DEPENDENCY_KINDS,
    config_endpoints_of,
    dependency_summaries,
    env_mentions,
)
from kubetriage.evidence.summaries.events import event_summaries
from kubetriage.evidence.summaries.gateway_routes import ROUTE_KINDS, route_summaries
from kubetriage.evidence.summaries.generic import generic_summary
from kubetriage.evidence.summaries.ingress import ingress_controllers
from kubetriage.evidence.summaries.network import network_policy_summary, service_summary
from kubetriage.evidence.summaries.nodes import node_summary, node_troubled, pvc_summary
from kubetriage.evidence.summaries.pods import IMPLICIT_CONFIG_MAPS, ConfigLookup, pod_summary
from kubetriage.evidence.summaries.webhooks import webhook_summaries
from kubetriage.evidence.summaries.workloads import revision_history, workload_summary
from kubetriage.evidence.targets import focus_containers
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import (
    AlertEvidence,
    AutoscalerEvidence,
    ConfigEndpoint,
    DependencyEvidence,
    Evidence,
    GatewayRouteEvidence,
    LogTail,
    NetworkPolicyEvidence,
    PodEvidence,
    QuotaEvidence,
    RevisionEvidence,
    WorkloadEvidence,
)
from kubetriage.models.incident import Alert
from kubetriage.models.objects import JsonDict, service_selects
from kubetriage.models.objects import labels as _labels
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns

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


def _alerts(alerts: list[Alert], limits: EvidenceLimits) -> list[AlertEvidence]:
    return [
        AlertEvidence(
            labels=str_map(alert.labels, limits),
            annotations=str_map(alert.annotations, limits),
            starts_at=alert.starts_at,
            status=alert.status,
        )
        for alert in alerts[: limits.max_alerts]
    ]


@dataclass(frozen=True)
class _Build:
    """What every section of one build reads."""

    index: ObjectIndex
    scope: EvidenceScope
    chosen: ObjectRef | None
    limits: EvidenceLimits
    notes: Notes
    unavailable: Collection[str]


def build_evidence(
    objects: list[dict[str, Any]],
    logs: list[LogTail],
    *,
    limits: EvidenceLimits,
    unavailable_kinds: Collection[str] = (),
    collection_errors: Iterable[str] = (),
    truncated: Iterable[str] = (),
    **query: Unpack[EvidenceQuery],
) -> Evidence:
    """Summarise ``objects`` around the query's target into bounded Evidence.

    ``target`` None means: the first of ``candidate_targets(None, alerts)`` present in
    ``objects``. ``unavailable_kinds`` names kinds whose listing failed, so their absence means
    "unknown" rather than "missing" (a ConfigMap reference then has ``exists=None``).
    ``collection_errors`` and ``truncated`` notes from the collector are carried over first.
    ``logs`` are every tail read, each handed only to the part its ``source`` names: the
    incident's own (``Evidence.logs``, and where dependencies are named), the followed
    dependencies' (their own words) and the failing admission webhooks' backends.
    """
    own = [t for t in logs if t.source == "scope"]
    dependency_logs = [t for t in logs if t.source == "dependency"]
    webhook_logs = [t for t in logs if t.source == "webhook"]
    alerts, now = query["alerts"], query["now"]
    notes = Notes(errors=list(collection_errors), truncated=list(truncated))
    index = ObjectIndex(objects, notes)
    chosen = choose_target(index, query["target"], alerts, notes)
    scope = resolve_scope(index, chosen)
    build = _Build(index, scope, chosen, limits, notes, unavailable_kinds)
    namespace = scope.namespace

    workload: WorkloadEvidence | None = None
    revisions: list[RevisionEvidence] = []
    replica_sets: list[JsonDict] = []
    if scope.workload is not None:
        workload = safe(
            notes, scope.workload, partial(workload_summary, scope.workload, limits, notes)
        )
        revisions, replica_sets = revision_history(index, scope.workload, limits, notes)

    kept_pods = bounded(scope.pods, limits.max_pods, "pods", notes, "troubled first")
    pods = _pods(build, kept_pods)
    node_objs = _node_objects(build, pods)
    nodes = summarise_all(node_objs, notes, lambda n: node_summary(n, limits))
    pvc_objs = _pvc_objects(build, pods)
    pvcs = summarise_all(
        bounded(pvc_objs, limits.max_pvcs, "persistent volume claims", notes), notes, pvc_summary
    )
    pod_labels = _pod_labels(scope)
    service_objs = _service_objects(build, pod_labels)
    services = summarise_all(
        service_objs, notes, lambda s: service_summary(index, s, unavailable_kinds, limits)
    )
    policies: list[NetworkPolicyEvidence] = []
    autoscalers: list[AutoscalerEvidence] = []
    quotas: list[QuotaEvidence] = []
    config_maps: dict[str, list[str]] = {}
    config_endpoints: list[ConfigEndpoint] = []
    if namespace is not None:
        policies = _network_policies(build, namespace, pod_labels)
        autoscalers = _autoscalers(build, namespace)
        quotas = summarise_all(
            bounded(
                index.in_namespace("ResourceQuota", namespace), limits.max_quotas, "quotas", notes
            ),
            notes,
            lambda q: quota_summary(q, limits),
        )
        config_maps = _config_map_keys(build, namespace, pods)
        config_endpoints = config_endpoints_of(
            index, namespace, list(config_maps), notes, limits.max_list_items
        )
    other_objs = _other_objects(build)
    others = summarise_all(other_objs, notes, lambda o: generic_summary(o, now, limits))

    in_scope = _scope_test(
        build,
        scope.pods + replica_sets + node_objs + pvc_objs + service_objs + other_objs,
        node_objs,
        autoscalers,
    )
    events = event_summaries(index, in_scope, limits, notes)
    used_config = {r.name for p in pods for r in p.config_refs if r.kind == "ConfigMap"}
    changes, found = change_timeline(
        workload=scope.workload,
        history=replica_sets,
        pods=kept_pods,
        config_maps=[
            c for c in index.in_namespace("ConfigMap", namespace or "") if _name(c) in used_config
        ],
        nodes=node_objs,
        events=events,
        now=now,
        limits=limits,
    )
    notes.cut("changes", len(changes), found, "newest first")
    dependencies = dependency_summaries(
        index,
        scope,
        kept_pods,
        own,
        services,
        pod_labels,
        unavailable_kinds,
        limits,
        notes,
        dependency_logs,
        now=now,
    )
    policies += _callee_policies(build, dependencies)

    return Evidence(
        collected_at=now,
        title=clip_text(query["title"], limits.max_string_length) or "",
        description=clip_text(query["description"], limits.max_string_length * 4),
        alerts=_alerts(alerts, limits),
        target=chosen,
        workload=workload,
        pods=pods,
        events=events,
        nodes=nodes,
        revisions=revisions,
        pvcs=pvcs,
        services=services,
        network_policies=policies,
        autoscalers=autoscalers,
        quotas=quotas,
        config_maps=config_maps,
        config_endpoints=config_endpoints,
        other_objects=others,
        logs=select_logs(own, kept_pods, focus_containers(alerts), limits, notes),
        changes=changes,
        namespace_labels={
            _name(n): _labels(n) for n in index.kind("Namespace")[: limits.max_list_items]
        },
        dependencies=dependencies,
        webhooks=webhook_summaries(index, webhook_logs, now, limits, unavailable_kinds),
        ingress_controllers=ingress_controllers(index, namespace, scope.pods, limits),
        gateway_routes=_gateway_routes(build, namespace),
        callers=caller_summaries(index, callee_services(service_objs, scope.pods), scope.workload),
        collection_errors=notes.errors,
        truncated=notes.truncated,
    )


# --- the sections, in the order the build runs them ----------------------------------------


def _pods(build: _Build, kept: list[JsonDict]) -> list[PodEvidence]:
    pods: list[PodEvidence] = []
    for pod in kept:
        lookup = ConfigLookup(build.index, _ns(pod), build.unavailable)
        summary = safe(
            build.notes, pod, partial(pod_summary, pod, lookup, build.limits, build.notes)
        )
        if summary is not None:
            pods.append(summary)
    return pods


def _node_objects(build: _Build, pods: list[PodEvidence]) -> list[JsonDict]:
    """The target node, then the pods' nodes; every node when placement is the question (a
    pod not scheduled yet, or no narrower target), troubled nodes first."""
    index, chosen = build.index, build.chosen
    node_names: list[str] = []
    if chosen is not None and chosen.kind == "Node":
        node_names.append(chosen.name)
    node_names += [p.node for p in pods if p.node and p.node not in node_names]
    wide = build.scope.namespace_wide or any(p.node is None for p in pods)
    node_objs = [n for name in node_names if (n := index.get("Node", None, name)) is not None]
    if wide:
        other_nodes = [n for n in index.kind("Node") if _name(n) not in node_names]
        node_objs += sorted(other_nodes, key=lambda n: (not node_troubled(n), _name(n)))
    return bounded(node_objs, build.limits.max_nodes, "nodes", build.notes, "pods' nodes first")


def _pvc_objects(build: _Build, pods: list[PodEvidence]) -> list[JsonDict]:
    """Volumes claimed by the pods or the workload template, plus a PVC target (unbounded)."""
    index, chosen, scope = build.index, build.chosen, build.scope
    namespace = scope.namespace
    claim_names: list[str] = []
    if chosen is not None and chosen.kind == "PersistentVolumeClaim":
        claim_names.append(chosen.name)
    for summarised in pods:
        claim_names += [c for c in summarised.pvc_names if c not in claim_names]
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


def _pod_labels(scope: EvidenceScope) -> list[dict[str, str]]:
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


def _service_objects(build: _Build, pod_labels: list[dict[str, str]]) -> list[JsonDict]:
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


def _network_policies(
    build: _Build, namespace: str, pod_labels: list[dict[str, str]]
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


def _gateway_routes(build: _Build, namespace: str | None) -> list[GatewayRouteEvidence]:
    """The Gateway API routes of the namespace, with their backends (any namespace's
    Services: a backendRef may cross namespaces)."""
    if namespace is None:
        return []
    routes = [r for kind in ROUTE_KINDS for r in build.index.in_namespace(kind, namespace)]
    kept = bounded(routes, build.limits.max_list_items, "gateway routes", build.notes)
    return route_summaries(
        kept,
        build.index.kind("Service"),
        services_known="Service" not in build.unavailable,
        max_items=build.limits.max_list_items,
    )


def _autoscalers(build: _Build, namespace: str) -> list[AutoscalerEvidence]:
    """The HPAs of the target or its workload (every one when the namespace is the scope)."""
    scope, limits = build.scope, build.limits
    hpa_objs = [
        h
        for h in build.index.in_namespace("HorizontalPodAutoscaler", namespace)
        if scope.namespace_wide
        or same_object(h, scope.target_obj)
        or (
            scope.workload is not None
            and as_dict(as_dict(h.get("spec")).get("scaleTargetRef")).get("kind")
            == kind_of(scope.workload)
            and as_dict(as_dict(h.get("spec")).get("scaleTargetRef")).get("name")
            == _name(scope.workload)
        )
    ]
    return summarise_all(
        bounded(hpa_objs, limits.max_autoscalers, "autoscalers", build.notes),
        build.notes,
        lambda h: autoscaler_summary(h, limits),
    )


def _config_map_keys(
    build: _Build, namespace: str, pods: list[PodEvidence]
) -> dict[str, list[str]]:
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
}


def _other_objects(build: _Build) -> list[JsonDict]:
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


def _scope_test(
    build: _Build,
    summarised: list[JsonDict],
    node_objs: list[JsonDict],
    autoscalers: list[AutoscalerEvidence],
) -> Callable[[tuple[str, str, str]], bool]:
    """Whether an event's object is in scope: one summarised, the target (events outlive a
    deleted target) or its workload, the pods a Job's deadline or backoff limit deleted, or
    anything in the namespace when that is the scope."""
    scope, chosen = build.scope, build.chosen
    scope_keys = {obj_key(o) for o in summarised}
    if scope.workload is not None:
        present = [_name(p) for p in scope.pods]
        events = build.index.by_kind.get("Event", [])
        scope_keys |= {
            ("Pod", _ns(scope.workload), pod)
            for pod in departed_pods(scope.workload, events, present)
        }
    scope_keys |= {("Node", "", _name(n)) for n in node_objs}
    for extra in (scope.target_obj, scope.workload):
        if extra is not None:
            scope_keys.add(obj_key(extra))
    if chosen is not None:
        scope_keys.add(ref_key(chosen))
    scope_keys |= {("HorizontalPodAutoscaler", a.namespace, a.name) for a in autoscalers}

    def in_scope(key: tuple[str, str, str]) -> bool:
        if key in scope_keys:
            return True
        return scope.namespace_wide and (scope.namespace is None or key[1] == scope.namespace)

    return in_scope


def _callee_policies(
    build: _Build, dependencies: list[DependencyEvidence]
) -> list[NetworkPolicyEvidence]:
    """The NetworkPolicies of the callees' namespaces: they decide whether a callee accepts
    the workload's calls."""
    limits = build.limits
    callee_namespaces = {
        ref.namespace
        for d in dependencies
        for ref in ([d.workload] if d.workload else [])
        + (
            [ObjectRef(kind="Service", namespace=d.service.namespace, name=d.service.name)]
            if d.service
            else []
        )
        if ref.namespace and ref.namespace != build.scope.namespace
    }
    callee_policies = summarise_all(
        [
            p
            for ns in sorted(callee_namespaces)
            for p in build.index.in_namespace("NetworkPolicy", ns)
        ],
        build.notes,
        lambda p: network_policy_summary(p, [], limits),
    )
    return bounded(
        callee_policies,
        limits.max_network_policies,
        "network policies of dependencies",
        build.notes,
    )
