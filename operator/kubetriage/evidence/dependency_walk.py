"""The dependency walk of evidence collection: from what the incident's pods name (env, args,
ConfigMaps, log lines, events) to the Services and workloads they call, in any namespace the
tenancy rule allows, and on to those dependencies' pods, ReplicaSets, workload, Endpoints,
events and (in another namespace) NetworkPolicies; for a few of its pods, their log tails and
the PersistentVolumeClaims they mount, with those claims' events, and the ConfigMaps they use
(when each was last written). A followed callee whose own log tails report an error is walked
past once: the hosts those tails name are its own callees, followed the same way within the
same bound (a service that fails because its database lost its data).

Called by ``KubeEvidenceCollector`` once the incident's own objects and logs are read; the
names themselves are found by the pure helpers of ``kubetriage.evidence.dependencies``, what
stands behind each dependency followed is read by ``kubetriage.evidence.backing_walk``; the
reads go through the same ``KubeReader`` and ``CollectionRun`` as the rest of the walk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime

from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.backing_walk import BackingWalk, known_or_read
from kubetriage.evidence.cluster_dns import ADDON_NAMESPACE, resolver_first, with_cluster_dns
from kubetriage.evidence.cluster_lookups import (
    ca_servers,
    cloud_controllers,
    node_pods,
    read_pod_owners,
    registry_servers,
    secret_url_servers,
    topic_peer_candidates,
)
from kubetriage.evidence.component_peers import (
    COMPONENT_KINDS,
    component_hosts,
    pod_owner_name,
    release_prefix,
    troubled,
)
from kubetriage.evidence.dependencies import (
    CLUSTER_DNS,
    ServiceHost,
    alert_upstreams,
    callee_hosts,
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
    headless_workload,
    resolve,
)
from kubetriage.evidence.index import WORKLOAD_KINDS, claim_names
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
    cluster_dns_server,
    csi_failing_nodes,
    nfs_servers,
    node_agent_hosts,
    node_csi_hosts,
    pressured_nodes,
    provisioner_hosts,
    volume_server_hosts,
    waiting_provisioners,
)
from kubetriage.evidence.owner_specs import owner_spec_texts
from kubetriage.evidence.reader import KubeReader
from kubetriage.evidence.request_path import controller_hosts, request_path_hosts
from kubetriage.evidence.socket_agents import node_socket_hosts, socket_failing_nodes
from kubetriage.evidence.storage_backends import (
    CEPH_CLUSTER_API,
    LONGHORN_VOLUME_API,
    BackendVolume,
    backend_hosts,
    backend_volumes,
    unhealthy_volumes,
)
from kubetriage.evidence.summaries.scalers import SCALER_KINDS, scaler_texts
from kubetriage.evidence.topic_peers import callee_topics, topic_peers
from kubetriage.models.base import ObjectRef
from kubetriage.models.naming import NamingSource
from kubetriage.models.objects import JsonDict
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns
from kubetriage.tenancy import Scope


class DependencyWalk:
    """Follows an incident's named dependencies; one instance serves many incidents."""

    def __init__(self, reader: KubeReader, limits: EvidenceLimits) -> None:
        self._reader = reader
        self._limits = limits
        self._backing = BackingWalk(reader, limits)

    async def follow(
        self,
        run: CollectionRun,
        namespace: str,
        pods: list[JsonDict],
        workload: JsonDict | None,
        scope: Scope,
        alert_labels: Sequence[Mapping[str, str]] = (),
        onset: datetime | None = None,
    ) -> None:
        """Read the Services (and workloads) the pods name in env, args, ConfigMaps, logs and
        events (and the upstream the alerts' labels name, ``alert_upstreams``), in any
        namespace the tenancy rule (``scope.may_read``) allows, with their pods, ReplicaSets,
        workload and events; ``build_evidence`` summarises them as ``Evidence.dependencies``.
        A dependency the rule keeps out is a collection error."""
        limits = self._limits
        lines = log_texts(t for t in run.logs if t.source == "scope" and t.namespace == namespace)
        lines += event_texts(o for (kind, ns, _), o in run.objects.items() if kind == "Event")
        config_maps = [
            o for (kind, ns, _), o in run.objects.items() if kind == "ConfigMap" and ns == namespace
        ]
        texts = pod_texts(pods[: limits.max_pods], workload)
        texts += scaler_texts(
            workload, [o for (k, _, _), o in run.objects.items() if k in SCALER_KINDS]
        )
        # The addresses the operator resource running the pods configures them with.
        await read_pod_owners(self._reader, run, pods[: limits.max_pods], namespace)
        texts += owner_spec_texts(
            pods[: limits.max_pods], lambda kind, ns, name: run.objects.get((kind, ns or "", name))
        )
        hosts = named_hosts(texts + lines, config_maps) + alert_upstreams(alert_labels)
        # The hops in front of the pods: the alerted Ingresses' backends that are not theirs.
        hosts += request_path_hosts(
            [o for (k, ns, _), o in run.objects.items() if k == "Ingress" and ns == namespace],
            [o for (k, ns, _), o in run.objects.items() if k == "Service" and ns == namespace],
            pods,
            alert_labels,
        )
        # The ingress controller in front of healthy pods (``follow_ingress_controllers`` read
        # its class and pods): what answers the requests that never reach them.
        hosts += controller_hosts(
            [o for (k, ns, _), o in run.objects.items() if k == "Ingress" and ns == namespace],
            [o for (k, ns, _), o in run.objects.items() if k == "Service" and ns == namespace],
            [o for (k, _, _), o in run.objects.items() if k == "IngressClass"],
            [o for (k, _, _), o in run.objects.items() if k == "Pod"],
            pods,
        )
        # The Services the sidecars route the named hosts to (an egress gateway, a proxy).
        hosts += mesh_route_hosts(
            [
                o
                for (k, ns, _), o in run.objects.items()
                if k == VIRTUAL_SERVICE and ns == namespace
            ],
            texts + lines,
        )
        # Lookups failing at the resolver on some nodes: the DNS cache serving those nodes
        # first (``node_dns_hosts``, as the builder orders them).
        failing = resolver_failing_nodes(lines, pods[: limits.max_pods])
        there = await node_pods(self._reader, self._limits, run, [n for n, _ in failing], scope)
        hosts = node_dns_hosts(there, failing) + hosts
        # Ready nodes the scheduler rules out, uninitialized: the cloud controller manager.
        hosts = await cloud_controllers(self._reader, run, pods[: limits.max_pods], scope) + hosts
        # Connections failing from some nodes only: the agent programming those nodes'
        # network, when it does not run there (``node_network_hosts``, as the builder does).
        unconnected = connect_failing_nodes(lines, pods[: limits.max_pods])
        there = await node_pods(self._reader, limits, run, [n for n, _ in unconnected], scope)
        hosts += node_network_hosts(there, unconnected)
        # Pending pods short of a device that nodes meant for them advertise none of: the
        # device plugin that does not run there (``node_device_plugin_hosts``, as the builder).
        known_nodes = [o for (kind, _, _), o in run.objects.items() if kind == "Node"]
        starved = device_starved_nodes(pods[: limits.max_pods], known_nodes)
        there = await node_pods(self._reader, self._limits, run, [n for n, _ in starved], scope)
        hosts += node_device_plugin_hosts(there, starved)
        # Calls to a link-local address failing on some nodes: the host-network agent that
        # serves it on those nodes (``node_link_local_hosts``, as the builder does).
        unreached = link_local_failing_nodes(lines, pods[: limits.max_pods])
        there = await node_pods(self._reader, limits, run, [n for n, *_ in unreached], scope)
        hosts += node_link_local_hosts(there, unreached)
        # Pods sharing a host directory (a socket) with a node agent log trouble: that agent.
        sharing = socket_failing_nodes(lines, pods[: limits.max_pods])
        there = await node_pods(self._reader, self._limits, run, [n for n, _, _ in sharing], scope)
        hosts += node_socket_hosts(there, sharing)
        # Healthy pods yet alerted: the node agents on exactly their nodes that fail there or
        # were replaced right before the alert (``node_neighbour_hosts``, as the builder does).
        healthy = healthy_nodes(pods[: limits.max_pods])
        there = await node_pods(self._reader, self._limits, run, healthy, scope)
        hosts += node_neighbour_hosts(there, healthy, onset, alert_labels)
        # Mounts failing because a node's CSI plugin cannot be reached: that node's plugin
        # (``node_csi_hosts``, as the builder orders them).
        unmounted = csi_failing_nodes(lines, pods[: limits.max_pods])
        there = await node_pods(self._reader, limits, run, [n for n, *_ in unmounted], scope)
        hosts = node_csi_hosts(there, unmounted) + hosts
        # The in-cluster servers of the pods' NFS volumes: what their file access waits on.
        hosts += await self._volume_servers(run, namespace, pods[: limits.max_pods], scope)
        # The in-cluster registries (pull-through caches, mirrors) the pods' failed pulls used.
        hosts += await registry_servers(self._reader, run, lines, scope)
        # The mesh CA the pods' sidecars could not reach for their workload certificates.
        hosts += await ca_servers(self._reader, run, lines, scope)
        # The broker it reaches through a URL taken from a Secret, when its lines speak of it.
        hosts += await secret_url_servers(
            self._reader, run, pods[: limits.max_pods], workload, lines, scope
        )
        # Nodes of the incident's pods under pressure: a node agent replaced right before.
        node_objects = [o for (kind, _, _), o in run.objects.items() if kind == "Node"]
        pressured = pressured_nodes(node_objects, pods[: limits.max_pods])
        nodes = [node for node, _, _ in pressured]
        there = await node_pods(self._reader, self._limits, run, nodes, scope)
        hosts += node_agent_hosts(there, pressured)
        if lines:
            # An error line may name a workload of the namespace that no Service fronts.
            await self._reader.add_listed(
                run, "Deployment", namespace, what=f"list Deployments in {namespace}"
            )
        local = [
            o
            for (kind, ns, _), o in run.objects.items()
            if ns == namespace and kind in ("Service", *WORKLOAD_KINDS)
        ]
        hosts += mentioned_objects(lines, local)
        exclude = set()
        if workload is not None:
            exclude.add((str(workload.get("kind")), namespace, _name(workload)))
        hosts = await self._cluster_dns(run, hosts, lines, scope)
        resolved = resolve(hosts, namespace, exclude)
        first = await self._follow_resolved(run, resolved, namespace, scope, 0)
        # The next hop: what a failing callee's own log tails name (``callee_hosts``), once.
        seen = exclude | {(r.kind, r.namespace, r.name) for r in resolved}
        seen |= {(str(o.get("kind")), _ns(o), _name(o)) for o, _ in first}
        followed = len(first)
        # The storage system storing the claims of the callees' pods read, when it reports
        # trouble (``backend_hosts``, as the builder does).
        if scope.may_read(None):
            stored = [p for _, few in first for p in few]
            claims, volumes = await self._claims_and_volumes(run, stored)
            wanted = backend_volumes(stored, claims, volumes)
            onward = resolve(await self._storage_backends(run, wanted), namespace, seen)
            seen |= {(r.kind, r.namespace, r.name) for r in onward}
            followed += len(await self._follow_resolved(run, onward, namespace, scope, followed))
        for obj, few in first:
            keys = {(_ns(p), _name(p)) for p in few}
            lines = log_texts(
                t for t in run.logs if t.source == "dependency" and (t.namespace, t.pod) in keys
            )
            # Its own configuration (env, args) of the pods whose tails were read: where
            # it calls when its errors name no Service (a provider behind an ExternalName).
            told = {(t.namespace, t.pod) for t in run.logs if t.source == "dependency"}
            speaking = [p for p in few if (_ns(p), _name(p)) in told]
            configured = pod_texts(speaking, None)
            # Its peers on the topics it configures, when its errors name no Service.
            topics = callee_topics(lines, configured)
            peers = await topic_peer_candidates(self._reader, run, topics, scope)
            hosts = topic_peers(topics, peers, speaking)
            hosts += callee_hosts(lines, configured)
            # The other components of its own release its trouble names (``component_peers``).
            hosts += await self._components(run, obj, few, lines, scope)
            onward = resolve(hosts, _ns(obj), seen)
            seen |= {(r.kind, r.namespace, r.name) for r in onward}
            followed += len(await self._follow_resolved(run, onward, namespace, scope, followed))

    async def _components(
        self,
        run: CollectionRun,
        obj: JsonDict,
        pods: list[JsonDict],
        lines: list[tuple[NamingSource, str]],
        scope: Scope,
    ) -> list[ServiceHost]:
        """The workloads of a followed callee's namespace that are other components of its
        release and that its trouble lines name; its namespace's workloads are listed only
        when it has a release prefix and reports trouble."""
        namespace = _ns(obj)
        owners = [o for p in pods if (o := pod_owner_name(p)) is not None]
        own = owners[0] if owners else _name(obj)
        if release_prefix(own) is None or not troubled(lines) or not scope.may_read(namespace):
            return []
        for kind in COMPONENT_KINDS:
            await self._reader.add_listed(run, kind, namespace, what=f"list {kind}s in {namespace}")
        workloads = [
            o for (k, ns, _), o in run.objects.items() if ns == namespace and k in COMPONENT_KINDS
        ]
        return component_hosts(own, namespace, lines, workloads)

    async def _cluster_dns(
        self,
        run: CollectionRun,
        hosts: list[ServiceHost],
        lines: list[tuple[NamingSource, str]],
        scope: Scope,
    ) -> list[ServiceHost]:
        """``hosts`` with the cluster DNS named by convention standing for the Service it is
        served from (``cluster_dns.with_cluster_dns``), read from the add-on namespace's
        Services and pods when the conventional Service is not there; only that Service is
        kept."""
        if not any(h.resolver for h in hosts) or not scope.may_read(ADDON_NAMESPACE):
            return hosts
        conventional = CLUSTER_DNS.namespace or ADDON_NAMESPACE
        if await known_or_read(self._reader, run, "Service", conventional, CLUSTER_DNS.name):
            return resolver_first(hosts, (t for _, t in lines))
        what = f"list {{}} in {ADDON_NAMESPACE} (cluster DNS)"
        services = await self._reader.list_of(
            run, "Service", ADDON_NAMESPACE, what=what.format("Services")
        )
        pods = await self._reader.list_of(run, "Pod", ADDON_NAMESPACE, what=what.format("Pods"))
        found = with_cluster_dns(hosts, services, pods, (t for _, t in lines))
        for service in services:
            if any(h.resolver and h.name == _name(service) for h in found):
                run.add(service)
        return found

    async def _volume_servers(
        self, run: CollectionRun, namespace: str, pods: list[JsonDict], scope: Scope
    ) -> list[ServiceHost]:
        """The Services serving the pods' NFS volumes (``volume_server_hosts``) and the CSI
        controllers provisioning their claims that wait for a volume (``provisioner_hosts``):
        their claims and the PersistentVolumes bound to them are read (only under a scope
        that may read the cluster); the Services of every namespace are listed only when a
        server is an address, the Deployments and StatefulSets of every namespace only when a
        claim waits on its provisioner, not kept: the walk reads the one it names."""
        if not scope.may_read(None):
            return []
        claims, volumes = await self._claims_and_volumes(run, pods)
        hosts: list[ServiceHost] = []
        servers = nfs_servers(pods, claims, volumes)
        if servers:
            services: list[JsonDict] = []
            if any(cluster_dns_server(server) is None for _, server in servers):
                services = await self._reader.list_of(
                    run, "Service", None, what="list Services in all namespaces (NFS servers)"
                )
            hosts += volume_server_hosts(pods, claims, volumes, services)
        filesystems = cephfs_volumes(pods, claims, volumes)
        for cluster in sorted({c for _, c, _ in filesystems}):
            # The CephFS metadata servers: listed in the Ceph cluster's namespace only.
            deployments = await self._reader.list_of(
                run, "Deployment", cluster, what=f"list Deployments in {cluster} (CephFS MDS)"
            )
            wanted = [f for f in filesystems if f[1] == cluster]
            hosts += metadata_server_hosts(wanted, deployments)
        hosts += await self._storage_backends(run, backend_volumes(pods, claims, volumes))
        events = [o for (k, ns, _), o in run.objects.items() if k == "Event" and ns == namespace]
        waiting = waiting_provisioners(pods, claims, events)
        if waiting:
            # The CSI controllers: listed only when a claim waits on its provisioner.
            workloads = await asyncio.gather(
                *(
                    self._reader.list_of(
                        run, kind, None, what=f"list {kind}s in all namespaces (provisioners)"
                    )
                    for kind in ("Deployment", "StatefulSet")
                )
            )
            hosts += provisioner_hosts(waiting, [w for listed in workloads for w in listed])
        return hosts

    async def _claims_and_volumes(
        self, run: CollectionRun, pods: list[JsonDict]
    ) -> tuple[list[JsonDict], list[JsonDict]]:
        """The claims ``pods`` mount (at most ``max_pods``) and the PersistentVolumes bound
        to them (when PersistentVolumes may be read), read into ``run``."""
        names = sorted({(_ns(p), c) for p in pods for c in claim_names(p)})[: self._limits.max_pods]
        claims = [
            c
            for c in await asyncio.gather(
                *(
                    known_or_read(self._reader, run, "PersistentVolumeClaim", ns, n)
                    for ns, n in names
                )
            )
            if c is not None
        ]
        bound = sorted({v for c in claims if (v := (c.get("spec") or {}).get("volumeName"))})
        if not self._reader.readable("PersistentVolume"):
            bound = []
        volumes = [
            v
            for v in await asyncio.gather(
                *(self._reader.read(run, "PersistentVolume", None, str(n)) for n in bound)
            )
            if v is not None
        ]
        return claims, volumes

    async def _storage_backends(
        self, run: CollectionRun, wanted: list[BackendVolume]
    ) -> list[ServiceHost]:
        """The Services of the storage systems storing ``wanted`` that report themselves not
        healthy (``backend_hosts``): the CephClusters of each Ceph cluster's namespace are
        listed, each Longhorn Volume read by name, and the Services of a namespace whose
        system reports trouble listed, only then."""
        found: dict[BackendVolume, list[JsonDict]] = {}
        for volume in wanted:
            if volume.system == "ceph":
                listed = await self._reader.custom_list(run, volume.namespace, CEPH_CLUSTER_API)
                found[volume] = listed
            elif volume.volume is not None:
                got = await self._reader.custom_get(
                    run, volume.namespace, LONGHORN_VOLUME_API, volume.volume
                )
                found[volume] = [got] if got is not None else []
        services: list[JsonDict] = []
        troubled = unhealthy_volumes(wanted, lambda v: found.get(v, []))
        for namespace in sorted({v.namespace for v in troubled}):
            services += await self._reader.list_of(
                run, "Service", namespace, what=f"list Services in {namespace} (storage)"
            )
        return backend_hosts(wanted, lambda v: found.get(v, []), services)

    async def _follow_resolved(
        self,
        run: CollectionRun,
        resolved: list[NamedObject],
        namespace: str,
        scope: Scope,
        followed: int,
    ) -> list[tuple[JsonDict, list[JsonDict]]]:
        """Read the ``resolved`` dependencies and what stands behind them, up to
        ``max_dependencies`` in all (``followed`` already); returns each object read with the
        pods whose log tails were read."""
        read: list[tuple[JsonDict, list[JsonDict]]] = []
        for named in resolved:
            kind, ns, name = named.kind, named.namespace, named.name
            if followed + len(read) >= self._limits.max_dependencies:
                run.truncated.append(
                    f"dependencies: followed {followed + len(read)} of {len(resolved)} named hosts"
                )
                break
            if not scope.may_read(ns):
                ref = ObjectRef(kind=kind, namespace=ns, name=name)
                run.error(f"dependency not followed: {scope.refusal(ref)}")
                continue
            obj = await known_or_read(self._reader, run, kind, ns, name)
            if obj is None and kind == "Service":
                # A Service that cannot be read: the workload it fronts by name (``x`` for
                # ``x-headless``, else ``x``), whose rollouts say whether a release removed it.
                obj = await self._headless_workload(run, ns, headless_workload(name) or name)
            if obj is None:
                continue
            read.append((obj, await self._backing.follow(run, obj, namespace)))
        return read

    async def _headless_workload(
        self, run: CollectionRun, namespace: str, name: str
    ) -> JsonDict | None:
        """The workload behind a ``<name>-headless`` Service that could not be read."""
        for kind in HEADLESS_WORKLOAD_KINDS:
            if (obj := await known_or_read(self._reader, run, kind, namespace, name)) is not None:
                return obj
        return None
