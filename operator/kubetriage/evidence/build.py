"""Turn raw Kubernetes objects and log tails into bounded, typed ``Evidence``.

Pure: no I/O, no clock (``now`` is passed in). Called by ``KubeEvidenceCollector`` with what it
read from the API server, and by the case replay with a case file's ``cluster`` and ``logs``;
both hand over objects exactly as the API serialises them (camelCase dicts).

The orchestration only: ``scope`` decides what is in scope (the target, its workload found
through ownerReferences, the workload's pods...), ``summaries/*`` summarise each kind into the
models of ``kubetriage.models.evidence``, ``build_sections`` chooses and orders the objects of
each section, ``logs`` bounds the log tails, and every list is cut to ``EvidenceLimits``.
Objects come from clusters in every state: unusable objects are skipped and named in
``collection_errors``, and cuts are named in ``truncated`` (``notes``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from functools import partial
from typing import Any, Unpack

from kubetriage.evidence.agent_rollouts import agent_rollout_summaries
from kubetriage.evidence.api_clients import api_client_rollouts
from kubetriage.evidence.build_sections import (
    Build,
    callee_network_policies,
    config_map_keys,
    namespace_policies,
    pod_label_sets,
    select_autoscalers,
    select_nodes,
    select_others,
    select_pvcs,
    select_services,
)
from kubetriage.evidence.caller_caches import with_caller_caches
from kubetriage.evidence.callers import callee_services, caller_summaries
from kubetriage.evidence.changes import change_timeline
from kubetriage.evidence.connection_slots import server_connection_limit, with_caller_pools
from kubetriage.evidence.conversion_webhooks import conversion_summaries
from kubetriage.evidence.dependencies import log_texts, pod_texts
from kubetriage.evidence.dns_clients import dns_client_summaries
from kubetriage.evidence.front_restarts import with_front_restarts
from kubetriage.evidence.host_peers import host_peer_summaries
from kubetriage.evidence.index import ObjectIndex, departed_pods, secret_writers
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.logs import select_logs
from kubetriage.evidence.notes import Notes, bounded, safe, summarise_all
from kubetriage.evidence.overlay_mtu import overlay_mtu_settings
from kubetriage.evidence.pod_injectors import injector_summaries
from kubetriage.evidence.query import EvidenceQuery
from kubetriage.evidence.queue_peers import queue_peer_summaries
from kubetriage.evidence.quota_peers import quota_peer_summaries
from kubetriage.evidence.raw import (
    as_dict,
    clip_text,
    obj_key,
    ref_key,
    str_map,
)
from kubetriage.evidence.refused_clients import (
    refused_client_summaries,
    slow_consumer_summaries,
)
from kubetriage.evidence.scope import choose_target, resolve_scope
from kubetriage.evidence.settings_readers import settings_config_maps
from kubetriage.evidence.shared_callers import with_shared_callers
from kubetriage.evidence.skipped_injections import skipped_injector_summaries
from kubetriage.evidence.summaries.aggregated_apis import aggregated_api_summaries
from kubetriage.evidence.summaries.capacity import quota_summary
from kubetriage.evidence.summaries.dependencies import (
    config_endpoints_of,
    dependency_summaries,
)
from kubetriage.evidence.summaries.disruption_budgets import disruption_budget_summaries
from kubetriage.evidence.summaries.events import event_summaries
from kubetriage.evidence.summaries.fresh_restarts import alert_onset
from kubetriage.evidence.summaries.front_balancers import front_balancers
from kubetriage.evidence.summaries.gateway_proxies import gateway_proxies
from kubetriage.evidence.summaries.gateway_routes import ROUTE_KINDS, route_summaries
from kubetriage.evidence.summaries.generic import generic_summary
from kubetriage.evidence.summaries.ingress import ingress_controllers
from kubetriage.evidence.summaries.neighbours import troubled_neighbours
from kubetriage.evidence.summaries.network import service_summary
from kubetriage.evidence.summaries.nodes import node_summary, pvc_summary
from kubetriage.evidence.summaries.pods import ConfigLookup, pod_summary
from kubetriage.evidence.summaries.reconciler_debts import owed_texts
from kubetriage.evidence.summaries.reconcilers import reconciler_summaries
from kubetriage.evidence.summaries.resource_controllers import resource_controller_summaries
from kubetriage.evidence.summaries.scaler_operator import scaler_operator_summary
from kubetriage.evidence.summaries.scalers import scaler_summaries
from kubetriage.evidence.summaries.secret_writers import secret_writer_summaries
from kubetriage.evidence.summaries.siblings import sibling_summaries
from kubetriage.evidence.summaries.webhooks import webhook_summaries
from kubetriage.evidence.summaries.workloads import revision_history, workload_summary
from kubetriage.evidence.targets import focus_containers
from kubetriage.evidence.tenant_rollouts import tenant_summaries
from kubetriage.evidence.topic_peers import undecodable_topics
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.incident import Alert
from kubetriage.models.network_policies import NetworkPolicyEvidence
from kubetriage.models.object_evidence import (
    AutoscalerEvidence,
    ConfigEndpoint,
    LogTail,
    PodEvidence,
    QuotaEvidence,
    RevisionEvidence,
    WorkloadEvidence,
)
from kubetriage.models.objects import JsonDict
from kubetriage.models.objects import labels as _labels
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns
from kubetriage.models.relations import GatewayRouteEvidence


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
    build = Build(index, scope, chosen, limits, notes, unavailable_kinds)
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
    node_objs = select_nodes(build, pods)
    nodes = summarise_all(node_objs, notes, lambda n: node_summary(n, limits))
    if namespace is not None and not scope.namespace_wide:
        for node in nodes:
            node.troubled_neighbours = troubled_neighbours(
                index, node.name, namespace, scope.pods, scope.workload
            )
    pvc_objs = select_pvcs(build, pods, own)
    pvcs = summarise_all(
        bounded(pvc_objs, limits.max_pvcs, "persistent volume claims", notes), notes, pvc_summary
    )
    pod_labels = pod_label_sets(scope)
    service_objs = select_services(build, pod_labels)
    services = summarise_all(
        service_objs, notes, lambda s: service_summary(index, s, unavailable_kinds, limits)
    )
    policies: list[NetworkPolicyEvidence] = []
    autoscalers: list[AutoscalerEvidence] = []
    quotas: list[QuotaEvidence] = []
    config_maps: dict[str, list[str]] = {}
    config_endpoints: list[ConfigEndpoint] = []
    if namespace is not None:
        policies = namespace_policies(build, namespace, pod_labels)
        autoscalers = select_autoscalers(build, namespace)
        quotas = summarise_all(
            bounded(
                index.in_namespace("ResourceQuota", namespace), limits.max_quotas, "quotas", notes
            ),
            notes,
            lambda q: quota_summary(q, limits),
        )
        config_maps = config_map_keys(build, namespace, pods)
        config_endpoints = config_endpoints_of(
            index, namespace, list(config_maps), notes, limits.max_list_items
        )
    other_objs = select_others(build)
    others = summarise_all(other_objs, notes, lambda o: generic_summary(o, now, limits))

    in_scope = _scope_test(
        build,
        scope.pods + replica_sets + node_objs + pvc_objs + service_objs + other_objs,
        node_objs,
        autoscalers,
    )
    events = event_summaries(index, in_scope, limits, notes)
    used_config = {r.name for p in pods for r in p.config_refs if r.kind == "ConfigMap"}
    # ... and those the pods read through the API as their settings (Spring Cloud Kubernetes).
    used_config |= {
        n for p in kept_pods for n in settings_config_maps(as_dict(p.get("spec")), _ns(p))
    }
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
        alert_labels=[a.labels for a in alerts],
        onset=alert_onset(alerts, now),
    )
    dependencies = with_shared_callers(
        index, dependencies, scope.pods, scope.workload, dependency_logs, limits
    )
    policies += callee_network_policies(build, dependencies)
    scalers = scaler_summaries(index, scope.workload, limits.max_list_items)

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
        siblings=sibling_summaries(
            index,
            None if scope.namespace_wide else scope.workload,
            unavailable_kinds,
            limits,
            notes,
            onset=alert_onset(alerts, now),
            now=now,
        ),
        disruption_budgets=disruption_budget_summaries(
            index, scope.pods, node_objs, unavailable_kinds, limits, notes
        ),
        webhooks=webhook_summaries(index, webhook_logs, now, limits, unavailable_kinds)
        + injector_summaries(index, logs, unavailable_kinds, limits)
        + skipped_injector_summaries(index, now, limits, unavailable_kinds)
        + (
            []
            if scope.pods
            else conversion_summaries(index, alerts, webhook_logs, now, limits, unavailable_kinds)
        ),
        aggregated_apis=aggregated_api_summaries(index, namespace, limits, unavailable_kinds),
        scalers=scalers,
        scaler_operator=scaler_operator_summary(index, logs, limits) if scalers else None,
        ingress_controllers=ingress_controllers(index, namespace, scope.pods, limits),
        secret_writers=secret_writer_summaries(index, scope.pods, limits),
        reconcilers=reconciler_summaries(
            index,
            owed_texts(
                [(a.labels, a.annotations) for a in alerts],
                [line for tail in own for line in tail.lines],
                index.kind("Event"),
            ),
            now,
            limits,
            own,
        )
        + resource_controller_summaries(index, logs, limits),
        gateway_routes=_gateway_routes(build, namespace),
        gateway_proxies=gateway_proxies(index, namespace, scope.pods, limits),
        front_balancers=front_balancers(index, namespace, chosen, scope.pods, limits),
        callers=with_caller_caches(
            index,
            with_front_restarts(
                with_caller_pools(
                    index,
                    caller_summaries(
                        index, callee_services(service_objs, scope.pods), scope.workload, own
                    ),
                ),
                index,
                limits,
            ),
            limits,
        ),
        host_peers=host_peer_summaries(index, scope.pods, scope.workload, own),
        quota_peers=quota_peer_summaries(index, scope.pods, scope.workload, own),
        agent_rollouts=agent_rollout_summaries(index, own, scope.workload)
        + api_client_rollouts(index, own, scope.workload),
        overlay_mtu=overlay_mtu_settings(index, own),
        connection_limit=server_connection_limit(index, scope.workload, used_config),
        refused_clients=refused_client_summaries(
            index, [*own, *dependency_logs], scope.workload, limits, notes
        ),
        slow_consumers=slow_consumer_summaries(index, [*own, *dependency_logs], scope.workload),
        queue_peers=queue_peer_summaries(
            index,
            alerts,
            scope.workload,
            undecodable_topics(log_texts(own), pod_texts(scope.pods, scope.workload)),
        ),
        dns_clients=dns_client_summaries(index, scope.workload),
        node_tenants=tenant_summaries(index, chosen),
        collection_errors=notes.errors,
        truncated=notes.truncated,
    )


# --- the pods and the scope of events (the other sections: ``build_sections``) ----------


def _pods(build: Build, kept: list[JsonDict]) -> list[PodEvidence]:
    pods: list[PodEvidence] = []
    for pod in kept:
        lookup = ConfigLookup(build.index, _ns(pod), _config_unknown(build, _ns(pod)))
        summary = safe(
            build.notes, pod, partial(pod_summary, pod, lookup, build.limits, build.notes)
        )
        if summary is not None:
            pods.append(summary)
    return pods


def _config_unknown(build: Build, namespace: str) -> Collection[str]:
    """The kinds whose absence from ``namespace`` says nothing: those whose listing failed,
    and ConfigMaps when an incident without a namespace (a Node's: its tenants come from
    every namespace) holds none of that namespace's, which were then never listed."""
    if build.scope.namespace is None and not build.index.in_namespace("ConfigMap", namespace):
        return {*build.unavailable, "ConfigMap"}
    return build.unavailable


def _gateway_routes(build: Build, namespace: str | None) -> list[GatewayRouteEvidence]:
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


def _scope_test(
    build: Build,
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
    # The Secrets the pods read, and what writes them: their events date a Secret's change.
    scope_keys |= set(secret_writers(scope.workload, scope.pods, build.limits.max_config_maps))

    def in_scope(key: tuple[str, str, str]) -> bool:
        if key in scope_keys:
            return True
        return scope.namespace_wide and (scope.namespace is None or key[1] == scope.namespace)

    return in_scope
