"""Cluster-wide lookups of the dependency walk (``kubetriage.evidence.dependency_walk``):
the pods on the nodes where lookups, mounts or pressure fail, the Services serving a
registry the pods' failed pulls talked to, the workloads that may be peers on a failing
callee's topics, and the cloud controller manager Ready nodes wait on. Each lists across
namespaces only when the evidence asks for it and only under a scope that may read the
cluster; what is listed is not kept: the walk reads the objects the pure selectors
(``node_plugins``, ``node_hosts``, ``topic_peers``, ``cloud_controllers``) name.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.cloud_controllers import (
    CONTROLLER_KINDS,
    cloud_controller_hosts,
    is_cloud_controller,
    mounted_config_maps,
    waiting_nodes,
)
from kubetriage.evidence.dependencies import ServiceHost
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.node_plugins import ca_hosts, certificate_authorities, cluster_dns_server
from kubetriage.evidence.owner_specs import owner_api
from kubetriage.evidence.pull_registries import pull_registries, registry_hosts
from kubetriage.evidence.raw import as_dict as _d
from kubetriage.evidence.reader import KubeReader
from kubetriage.evidence.secret_urls import secret_url_hosts, secret_urls
from kubetriage.evidence.topic_peers import PEER_KINDS
from kubetriage.models.naming import NamingSource
from kubetriage.models.objects import JsonDict
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns
from kubetriage.tenancy import Scope


async def node_pods(
    reader: KubeReader,
    limits: EvidenceLimits,
    run: CollectionRun,
    nodes: Sequence[str],
    scope: Scope,
) -> list[JsonDict]:
    """The pods of every namespace on ``nodes``, where lookups or mounts fail (only under a
    scope that may read the cluster); not kept: the walk reads the DNS cache or CSI node
    plugin it names."""
    if not nodes or not scope.may_read(None):
        return []
    listed = await asyncio.gather(
        *(
            reader.list_of(
                run,
                "Pod",
                None,
                what=f"list pods on node {node}",
                field_selector=f"spec.nodeName={node}",
            )
            for node in nodes[: limits.max_nodes]
        )
    )
    return [pod for pods in listed for pod in pods]


async def registry_servers(
    reader: KubeReader, run: CollectionRun, lines: list[tuple[NamingSource, str]], scope: Scope
) -> list[ServiceHost]:
    """The Services serving a registry the pods' failed pulls talked to
    (``registry_hosts``); the Services and Ingresses of every namespace are listed (not
    kept: the walk reads the one it names) only when a registry is an address or a host
    name outside the cluster DNS, and only under a scope that may read the cluster."""
    registries = pull_registries(lines)
    if not registries:
        return []
    hosts = [h for h, _, _ in registries]
    services, ingresses = await asyncio.gather(
        _all_of(reader, run, "Service", hosts, scope, "registries"),
        _all_of(reader, run, "Ingress", hosts, scope, "registries"),
    )
    if services is None or ingresses is None:
        return []
    served = registry_hosts(lines, services, ingresses)
    # The Ingresses serving a registry are kept: the builder reads the route (and the TLS
    # Secret it names) from them as it does offline.
    routes = {
        (h.route.ingress.namespace, h.route.ingress.name)
        for h in served
        if h.route is not None and h.route.ingress is not None
    }
    for ingress in ingresses:
        if (str(_d(ingress.get("metadata")).get("namespace")), _name(ingress)) in routes:
            run.add(ingress)
    return served


async def ca_servers(
    reader: KubeReader, run: CollectionRun, lines: list[tuple[NamingSource, str]], scope: Scope
) -> list[ServiceHost]:
    """The Services serving the mesh CA the pods' sidecars could not reach for their
    certificates (``ca_hosts``), listed like a registry's (not kept)."""
    authorities = certificate_authorities(lines)
    if not authorities:
        return []
    hosts = [h for h, _, _ in authorities]
    services = await _all_of(reader, run, "Service", hosts, scope, "mesh CA")
    return ca_hosts(lines, services) if services is not None else []


async def secret_url_servers(
    reader: KubeReader,
    run: CollectionRun,
    pods: list[JsonDict],
    workload: JsonDict | None,
    lines: list[tuple[NamingSource, str]],
    scope: Scope,
) -> list[ServiceHost]:
    """The broker the workload reaches through a Secret-sourced URL its own lines speak of
    (``secret_url_hosts``): the Services of every namespace are listed (not kept) only then,
    and only under a scope that may read the cluster."""
    if not secret_urls(pods, workload, lines) or not scope.may_read(None):
        return []
    what = "list Services in all namespaces (a broker a Secret's URL names)"
    services = await reader.list_of(run, "Service", None, what=what)
    return secret_url_hosts(pods, workload, lines, services)


async def _all_of(
    reader: KubeReader, run: CollectionRun, kind: str, hosts: list[str], scope: Scope, why: str
) -> list[JsonDict] | None:
    """The objects of ``kind`` in every namespace when one of ``hosts`` is an address or a
    name outside the cluster DNS (none needed when all are cluster DNS names); None when the
    scope may not read the cluster."""
    if all(cluster_dns_server(host) is not None for host in hosts):
        return []
    if not scope.may_read(None):
        return None
    return await reader.list_of(run, kind, None, what=f"list {kind}s in all namespaces ({why})")


async def topic_peer_candidates(
    reader: KubeReader, run: CollectionRun, topics: list[str], scope: Scope
) -> list[JsonDict]:
    """The workloads of every namespace that may be peers on a failing callee's
    ``topics`` (``topic_peers`` picks them); listed only when it configures a topic, and
    only under a scope that may read the cluster; not kept: the walk reads the ones
    named."""
    if not topics or not scope.may_read(None):
        return []
    listed = await asyncio.gather(
        *(
            reader.list_of(run, kind, None, what=f"list {kind}s in all namespaces (topic peers)")
            for kind in PEER_KINDS
            if reader.listable(kind)
        )
    )
    return [w for workloads in listed for w in workloads]


async def cloud_controllers(
    reader: KubeReader, run: CollectionRun, pods: list[JsonDict], scope: Scope
) -> list[ServiceHost]:
    """The cloud controller managers the Pending pods wait on (``cloud_controller_hosts``):
    the DaemonSets and Deployments of every namespace are listed (not kept: the walk reads
    the one named) only when the scheduler names the uninitialized taint that Ready nodes
    still carry, and only under a scope that may read the cluster; the ConfigMaps they use
    are read (their cloud config names the credentials Secret)."""
    known = [o for o in run.objects.values()]
    of = {kind: [o for o in known if o.get("kind") == kind] for kind in ("Node", "Event")}
    if not scope.may_read(None) or not waiting_nodes(pods, of["Node"], of["Event"]):
        return []
    listed = await asyncio.gather(
        *(
            reader.list_of(
                run, kind, None, what=f"list {kind}s in all namespaces (cloud controllers)"
            )
            for kind in CONTROLLER_KINDS
            if reader.listable_everywhere(kind)
        )
    )
    found = [w for workloads in listed for w in workloads if is_cloud_controller(w)]
    for workload in found:
        for config in mounted_config_maps(workload):
            if run.objects.get(("ConfigMap", _ns(workload), config)) is None:
                await reader.read(run, "ConfigMap", _ns(workload), config)
    for workload in found:
        of.setdefault(str(workload.get("kind")), []).append(workload)
    of["ConfigMap"] = [o for o in run.objects.values() if o.get("kind") == "ConfigMap"]
    return cloud_controller_hosts(pods, lambda kind: of.get(kind, []))


async def read_pod_owners(
    reader: KubeReader, run: CollectionRun, pods: Iterable[JsonDict], namespace: str
) -> None:
    """Read into ``run`` the operator resources (``OWNER_APIS``) controlling ``pods``."""
    seen: set[tuple[str, str]] = set()
    for pod in pods:
        owned = owner_api(pod)
        if owned is None or (owned[0][2], owned[1]) in seen:
            continue
        seen.add((owned[0][2], owned[1]))
        await reader.custom_get(run, namespace, owned[0], owned[1])
