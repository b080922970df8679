"""The Services (and workloads) the incident's workload names in its env, args, ConfigMaps,
log lines and events, found among the objects read and summarised with what stands behind
them (``kubetriage.evidence.dependencies`` finds and resolves the names,
``kubetriage.evidence.summaries.dependency_details`` summarises each one). Pure."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from functools import partial

from kubetriage.evidence.cloud_controllers import cloud_controller_hosts
from kubetriage.evidence.cluster_dns import with_cluster_dns
from kubetriage.evidence.component_peers import COMPONENT_KINDS, component_hosts
from kubetriage.evidence.dependencies import (
    ServiceHost,
    alert_upstreams,
    callee_hosts,
    config_map_endpoints,
    event_texts,
    log_texts,
    mentioned_objects,
    named_hosts,
    pod_texts,
)
from kubetriage.evidence.filesystem_servers import cephfs_volumes, metadata_server_hosts
from kubetriage.evidence.host_resolution import (
    HEADLESS_WORKLOAD_KINDS,
    NamedObject,
    cluster_dns_named,
    headless_workload,
    resolve,
)
from kubetriage.evidence.index import (
    WORKLOAD_KINDS,
    ObjectIndex,
    configs_named_in_args,
    referenced_config,
)
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.link_local_hosts import link_local_failing_nodes, node_link_local_hosts
from kubetriage.evidence.mesh_routes import VIRTUAL_SERVICE, mesh_route_hosts
from kubetriage.evidence.node_hosts import (
    connect_failing_nodes,
    device_starved_nodes,
    node_device_plugin_hosts,
    node_dns_hosts,
    node_network_hosts,
    resolver_failing_nodes,
)
from kubetriage.evidence.node_neighbours import healthy_nodes, node_neighbour_hosts
from kubetriage.evidence.node_plugins import (
    ca_hosts,
    csi_failing_nodes,
    node_agent_hosts,
    node_csi_hosts,
    pressured_nodes,
    provisioner_hosts,
    volume_server_hosts,
    waiting_provisioners,
)
from kubetriage.evidence.notes import Notes, safe
from kubetriage.evidence.owner_specs import owner_spec_texts
from kubetriage.evidence.pull_registries import registry_hosts
from kubetriage.evidence.raw import as_dict, as_list, as_str, dicts, obj_key
from kubetriage.evidence.request_path import controller_hosts, request_path_hosts
from kubetriage.evidence.scope import EvidenceScope
from kubetriage.evidence.secret_urls import secret_url_hosts
from kubetriage.evidence.socket_agents import node_socket_hosts, socket_failing_nodes
from kubetriage.evidence.storage_backends import (
    CEPH_CLUSTER_API,
    LONGHORN_VOLUME_API,
    backend_hosts,
    backend_volumes,
)
from kubetriage.evidence.summaries.dependency_details import dependency_details
from kubetriage.evidence.summaries.scalers import scaler_objects, scaler_texts
from kubetriage.evidence.topic_peers import PEER_KINDS, callee_topics, topic_peers
from kubetriage.models.base import ObjectRef
from kubetriage.models.object_evidence import (
    ConfigEndpoint,
    LogTail,
    ServiceEvidence,
)
from kubetriage.models.objects import JsonDict, service_selects
from kubetriage.models.objects import name as _name
from kubetriage.models.relations import DependencyEvidence

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
# What stands behind a dependency: its pods, their controllers and revisions, their events.
DEPENDENCY_KINDS = (
    "Pod",
    "ReplicaSet",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ControllerRevision",
    "Endpoints",
    "Event",
)


def env_mentions(pods: list[JsonDict], workload: JsonDict | None) -> set[str]:
    """DNS-label-shaped words in the env values and args of the pods and workload template.

    A Service named in ``EMAIL_API_URL=https://email-api.newsletter.svc...`` is a dependency.
    """
    specs = [as_dict(p.get("spec")) for p in pods]
    if workload is not None:
        specs.append(as_dict(as_dict(as_dict(workload.get("spec")).get("template")).get("spec")))
    words: set[str] = set()
    for spec in specs:
        for container in dicts(spec.get("containers")) + dicts(spec.get("initContainers")):
            texts = [as_str(e.get("value")) or "" for e in dicts(container.get("env"))]
            texts += [
                as_str(a) or ""
                for a in as_list(container.get("args")) + as_list(container.get("command"))
            ]
            for text in texts:
                words.update(m.group(0) for m in _DNS_LABEL.finditer(text.lower()))
    return words


def dependency_summaries(
    index: ObjectIndex,
    scope: EvidenceScope,
    pods: list[JsonDict],
    logs: list[LogTail],
    services: list[ServiceEvidence],
    pod_labels: list[dict[str, str]],
    unavailable: Collection[str],
    limits: EvidenceLimits,
    notes: Notes,
    dependency_logs: Sequence[LogTail] = (),
    now: datetime | None = None,
    alert_labels: Sequence[Mapping[str, str]] = (),
    onset: datetime | None = None,
) -> list[DependencyEvidence]:
    """Services the workload names in its env, args, ConfigMaps and log lines, anywhere in
    the objects read, summarised with what stands behind them. ``logs`` are the incident's
    own tails (where names are found); ``dependency_logs`` the dependencies' (what they say
    of themselves); ``now`` dates the Certificates that write the Secrets they mount;
    ``alert_labels`` may name the upstream a proxy calls (``alert_upstreams``)."""
    namespace = scope.namespace
    if namespace is None:
        return []
    texts = pod_texts(pods[: limits.max_pods], scope.workload)
    texts += scaler_texts(scope.workload, scaler_objects(index, namespace))
    texts += owner_spec_texts(pods[: limits.max_pods], index.get)
    lines = log_texts((t for t in logs if t.namespace == namespace), limits.max_log_lines)
    used = {
        name
        for p in pods
        for kind, name in referenced_config(as_dict(p.get("spec")))
        if kind == "ConfigMap"
    }
    # And the ConfigMaps their command lines name (a controller's ``--configmap NAME``).
    present = [_name(c) for c in index.in_namespace("ConfigMap", namespace)]
    for pod in pods:
        used |= configs_named_in_args(as_dict(pod.get("spec")), present)
    config_maps = [c for c in index.in_namespace("ConfigMap", namespace) if _name(c) in used]
    # Events of any namespace: a webhook or callee failing a call is named there.
    lines += event_texts(index.kind("Event")[: limits.max_events_fetched])
    # Lookups failing at the resolver on some nodes: the DNS cache serving those nodes, the
    # first suspect (their pods ask it before the cluster DNS).
    hosts = node_dns_hosts(index.kind("Pod"), resolver_failing_nodes(lines, pods))
    # Ready nodes the scheduler rules out, uninitialized: the cloud controller manager.
    few = pods[: limits.max_pods]
    hosts = cloud_controller_hosts(few, index.kind) + hosts
    # Connections failing from some nodes only: the agent programming those nodes' network.
    hosts += node_network_hosts(index.kind("Pod"), connect_failing_nodes(lines, few))
    # Pending pods short of a device that nodes meant for them advertise none of: the device
    # plugin that does not run on those nodes.
    hosts += node_device_plugin_hosts(
        index.kind("Pod"), device_starved_nodes(pods[: limits.max_pods], index.kind("Node"))
    )
    # Calls to a link-local address failing on some nodes: the agent serving it there.
    hosts += node_link_local_hosts(index.kind("Pod"), link_local_failing_nodes(lines, few))
    # Pods sharing a host directory (a socket) with a node agent log trouble: that agent.
    hosts += node_socket_hosts(index.kind("Pod"), socket_failing_nodes(lines, few))
    # Healthy pods yet alerted: the node agents on exactly their nodes that fail there or
    # were replaced right before the alert.
    hosts += node_neighbour_hosts(index.kind("Pod"), healthy_nodes(few), onset, alert_labels)
    # Mounts failing because a node's CSI plugin cannot be reached: that node's plugin.
    hosts = node_csi_hosts(index.kind("Pod"), csi_failing_nodes(lines, pods)) + hosts
    # The in-cluster servers of the pods' NFS volumes: what their file access waits on.
    hosts += volume_server_hosts(
        pods[: limits.max_pods],
        index.in_namespace("PersistentVolumeClaim", namespace),
        index.kind("PersistentVolume"),
        index.kind("Service"),
    )
    # The metadata servers of the pods' CephFS volumes: what their file lookups wait on.
    hosts += metadata_server_hosts(
        cephfs_volumes(
            pods[: limits.max_pods],
            index.in_namespace("PersistentVolumeClaim", namespace),
            index.kind("PersistentVolume"),
        ),
        index.kind("Deployment"),
    )
    # The storage system of the cluster storing the pods' claims, when it reports itself
    # unhealthy: what every write to them waits on.
    hosts += _stored_by(index, pods[: limits.max_pods])
    # The in-cluster registries (pull-through caches, mirrors) the pods' failed pulls used.
    hosts += registry_hosts(lines, index.kind("Service"), index.kind("Ingress"))
    # The mesh CA the pods' sidecars could not reach for their workload certificates.
    hosts += ca_hosts(lines, index.kind("Service"))
    # The CSI controllers that provision the pods' claims waiting for a volume.
    waiting = waiting_provisioners(
        pods[: limits.max_pods],
        index.in_namespace("PersistentVolumeClaim", namespace),
        index.in_namespace("Event", namespace),
    )
    if waiting:
        hosts += provisioner_hosts(waiting, index.kind("Deployment") + index.kind("StatefulSet"))
    # Nodes of the incident's pods under pressure: a node agent replaced right before.
    pressured = pressured_nodes(index.kind("Node"), pods[: limits.max_pods])
    hosts += node_agent_hosts(index.kind("Pod"), pressured)
    hosts += named_hosts(texts + lines, config_maps)
    hosts += alert_upstreams(alert_labels)
    hosts += request_path_hosts(
        index.in_namespace("Ingress", namespace),
        index.in_namespace("Service", namespace),
        pods,
        alert_labels,
    )
    hosts += controller_hosts(
        index.in_namespace("Ingress", namespace),
        index.in_namespace("Service", namespace),
        index.kind("IngressClass"),
        index.kind("Pod"),
        pods,
    )
    hosts += mesh_route_hosts(index.in_namespace(VIRTUAL_SERVICE, namespace), texts + lines)
    named = [
        o for kind in ("Service", *WORKLOAD_KINDS) for o in index.in_namespace(kind, namespace)
    ]
    hosts += mentioned_objects(lines, named)
    # The broker it reaches through a URL taken from a Secret, when its lines speak of it.
    hosts += secret_url_hosts(few, scope.workload, lines, index.kind("Service"))
    own = {
        ("Service", namespace, s.name)
        for s in services
        if any(service_selects(s.selector, labels) for labels in pod_labels)
    }
    if scope.workload is not None:
        own.add(obj_key(scope.workload))
    found: list[DependencyEvidence] = []
    # The cluster DNS named by convention: the Service it is served from.
    hosts = with_cluster_dns(hosts, index.kind("Service"), index.kind("Pod"), (t for _, t in lines))
    resolved = resolve(hosts, namespace, own)
    certain = cluster_dns_named(hosts)
    follow = partial(_follow, index, unavailable, limits, notes, dependency_logs, now)
    follow(resolved, certain, found)
    callees = list(found)
    # The storage system storing the claims of the callees' pods read, when it reports trouble.
    stored = [
        p for d in found for v in d.volumes if (p := index.get("Pod", v.claim.namespace, v.pod))
    ]
    seen = own | {key for d in found for key in _keys(d)}
    follow(
        resolve(_stored_by(index, list({id(p): p for p in stored}.values())), namespace, seen),
        set(),
        found,
    )
    # The next hop: what a failing callee's own words name (``callee_hosts``), once.
    seen = own | {key for d in found for key in _keys(d)}
    for dependency in callees:
        where = _where(dependency)
        if not dependency.followed or not dependency.logs or where is None:
            continue
        lines = log_texts(dependency.logs)
        # Its own configuration (env, args) of the pods whose tails were read: where it
        # calls when its errors name no Service (a provider behind an ExternalName).
        told = {(t.namespace, t.pod) for t in dependency.logs}
        pods = [p for ns, pod in sorted(told) if (p := index.get("Pod", ns, pod)) is not None]
        configured = pod_texts(pods, None)
        # Its peers on the topics it configures, when its errors name no Service.
        peers = topic_peers(
            callee_topics(lines, configured),
            [w for kind in PEER_KINDS for w in index.kind(kind)],
            pods,
        )
        # The other components of its own release its trouble names ("history client ...").
        callee = dependency.workload or dependency.ref
        components = component_hosts(
            callee.name if callee is not None else "",
            where,
            lines,
            [w for kind in COMPONENT_KINDS for w in index.in_namespace(kind, where)],
        )
        hosts = peers + callee_hosts(lines, configured) + components
        follow(resolve(hosts, where, seen), set(), found)
        seen |= {key for d in found for key in _keys(d)}
    return found


def _stored_by(index: ObjectIndex, pods: list[JsonDict]) -> list[ServiceHost]:
    """The Services of the storage systems storing ``pods``' claims that report trouble."""
    return backend_hosts(
        backend_volumes(pods, index.kind("PersistentVolumeClaim"), index.kind("PersistentVolume")),
        lambda volume: [
            *index.in_namespace(CEPH_CLUSTER_API[2], volume.namespace),
            *index.in_namespace(LONGHORN_VOLUME_API[2], volume.namespace),
        ],
        index.kind("Service"),
    )


def _keys(dependency: DependencyEvidence) -> set[tuple[str, str, str]]:
    """The objects a dependency stands for: its Service and its workload."""
    keys: set[tuple[str, str, str]] = set()
    if dependency.ref is not None:
        keys.add((dependency.ref.kind, dependency.ref.namespace or "", dependency.ref.name))
    if dependency.service is not None:
        keys.add(("Service", dependency.service.namespace, dependency.service.name))
    return keys


def _where(dependency: DependencyEvidence) -> str | None:
    if dependency.service is not None:
        return dependency.service.namespace
    return dependency.ref.namespace if dependency.ref is not None else None


def _follow(
    index: ObjectIndex,
    unavailable: Collection[str],
    limits: EvidenceLimits,
    notes: Notes,
    dependency_logs: Sequence[LogTail],
    now: datetime | None,
    resolved: list[NamedObject],
    certain: set[tuple[str, str]],
    found: list[DependencyEvidence],
) -> None:
    """Summarise the ``resolved`` names into ``found``, up to ``max_dependencies`` in all;
    one named by its cluster DNS name (``certain``) but not read is kept unfollowed."""
    for named in resolved:
        kind, dep_namespace, name, sources = named.kind, named.namespace, named.name, named.sources
        service = index.get(kind, dep_namespace, name)
        missing: str | None = None
        if service is None and kind == "Service":
            # The workload the missing Service fronts by name (as the walk reads it).
            base = headless_workload(name) or name
            behind = [index.get(k, dep_namespace, base) for k in HEADLESS_WORKLOAD_KINDS]
            service = next((w for w in behind if w is not None), None)
            missing = name if service is not None else None
        if service is None:
            if (dep_namespace, name) in certain and len(found) < limits.max_dependencies:
                # Named by its cluster DNS name but not readable here (tenancy, RBAC): still
                # a flow the workload's own NetworkPolicies can be checked against.
                ref = ObjectRef(kind="Service", namespace=dep_namespace, name=name)
                found.append(
                    DependencyEvidence(
                        ref=ref, named_by=sources[:5], routes=named.routes, followed=False
                    )
                )
            continue
        if len(found) >= limits.max_dependencies:
            notes.cut("dependencies", len(found), len(resolved))
            break
        objects = [o for kind in DEPENDENCY_KINDS for o in index.in_namespace(kind, dep_namespace)]
        summary = safe(
            notes,
            service,
            partial(
                dependency_details,
                index,
                service,
                sources,
                objects,
                unavailable,
                limits,
                dependency_logs,
                now,
            ),
        )
        if summary is not None:
            update = {"missing_service": missing, "routes": named.routes}
            found.append(summary.model_copy(update=update))


def config_endpoints_of(
    index: ObjectIndex, namespace: str, names: list[str], notes: Notes, limit: int
) -> list[ConfigEndpoint]:
    """The Service host:port pairs the named ConfigMaps of ``namespace`` name (the
    collector's ``serviceEndpoints``; a case file or a test hands over the values)."""
    found: list[ConfigEndpoint] = []
    for name in names:
        cm = index.get("ConfigMap", namespace, name)
        if cm is None:
            continue
        listed = cm.get("serviceEndpoints")
        for entry in listed if isinstance(listed, list) else config_map_endpoints(cm):
            endpoint = safe(
                notes,
                cm,
                partial(ConfigEndpoint.model_validate, {**as_dict(entry), "config_map": name}),
            )
            if endpoint is not None and endpoint not in found:
                found.append(endpoint)
    return found[:limit]
