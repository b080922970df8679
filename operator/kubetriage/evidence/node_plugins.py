"""The node agents and servers an incident's pods depend on without calling them, for the
dependency walk and the offline builder alike. Pure.

The server a pod's network volume is mounted from:
A pod whose volume is an NFS export (inline, or the PersistentVolume its claim is bound to:
``nfs.server``, or the NFS CSI driver's ``server`` attribute) served from inside the cluster
(the server is a Service's cluster DNS name or its ClusterIP) does I/O on that Service's pods
with every file access: when they stop answering, the pod's processes block on the mount
(probes time out, requests hang) however healthy the pod itself is. That Service is followed
like a callee, named by the volume (``VOLUME_SERVER_SOURCE``).

The provisioner a pod's claim waits on:
A claim of the pods that stays Pending while the scheduler has picked its node (or the
persistentvolume-controller reports it waits for the external provisioner) waits on the CSI
driver's controller: the Deployment or StatefulSet whose pods run the external-provisioner
sidecar and whose name or labels carry a word of the provisioner's name (``ebs`` of
``ebs.csi.aws.com``, ``rbd`` of ``rook-ceph.rbd.csi.ceph.com``). It is followed like a callee,
named by the claim, so its trouble (OOMKilled, crash-looping) is read like a dependency's.

The CSI node plugin a pod's volume mount waits on:
A pod whose mount fails because the kubelet cannot reach a CSI driver on the pod's node
(``kubetriage.csi_errors``) waits on that node's plugin: the pod of a DaemonSet, on the same
node, that serves the driver (its registration path or its plugin directory on the host names
the driver, or its arguments do). That DaemonSet is followed like a callee, named by the
failing event, so what is wrong with it (its pod OOMKilled, crash-looping, not scheduled
there) is read like any dependency's trouble.

The node agent that changed before its node came under pressure: a node hosting the
incident's pods reports memory, disk or PID pressure, and a DaemonSet's pod there was replaced
shortly before the pressure began (its DaemonSet rolled out): that DaemonSet is followed,
named by the node and its condition, so its rollout can be weighed against draining the node.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from kubetriage.csi_errors import unreachable_csi_driver
from kubetriage.evidence.dependencies import ServiceHost
from kubetriage.evidence.node_hosts import serving_daemonsets
from kubetriage.evidence.raw import as_dict as _d
from kubetriage.evidence.raw import as_time
from kubetriage.evidence.raw import dicts as _dicts
from kubetriage.models.naming import NamingSource, route_source
from kubetriage.models.objects import JsonDict, pod_workload
from kubetriage.models.relations import MESH_CA_SOURCE, VOLUME_SERVER_SOURCE, DependencyRoute


def csi_failing_nodes(
    lines: Iterable[tuple[NamingSource, str]], pods: Iterable[JsonDict]
) -> list[tuple[str, str, NamingSource]]:
    """(node, driver, event source) for each node where one of ``pods`` cannot mount because
    the kubelet there cannot reach a CSI driver, as the pod's Warning events
    (``event_texts``) say; first source each."""
    nodes = {
        str(_d(p.get("metadata")).get("name")): node
        for p in pods
        if isinstance(node := _d(p.get("spec")).get("nodeName"), str) and node
    }
    found: dict[str, tuple[str, NamingSource]] = {}
    for source, line in lines:
        if source.kind != "event" or source.owner_kind != "Pod" or source.owner is None:
            continue
        driver = unreachable_csi_driver(line)
        node = nodes.get(source.owner)
        if driver and node:
            found.setdefault(node, (driver, source))
    return [(node, driver, source) for node, (driver, source) in found.items()]


def _serves_driver(pod: JsonDict, driver: str) -> bool:
    """A pod whose host paths or container arguments name the driver: its node plugin
    (``/var/lib/kubelet/plugins/<driver>``, ``--drivername=<driver>``)."""
    spec = _d(pod.get("spec"))
    paths = [str(_d(v.get("hostPath")).get("path") or "") for v in _dicts(spec.get("volumes"))]
    args = [
        str(a)
        for c in _dicts(spec.get("containers"))
        for a in [*(c.get("args") or []), *(c.get("command") or [])]
    ]
    return any(f"/{driver}" in p for p in paths) or any(driver in a for a in args)


def node_csi_hosts(
    pods: Iterable[JsonDict], failing: Sequence[tuple[str, str, NamingSource]]
) -> list[ServiceHost]:
    """The DaemonSets whose pods serve the unreachable CSI driver on the nodes where mounts
    fail (``failing``: ``csi_failing_nodes``), named by the failing event's source."""
    drivers = {node: driver for node, driver, _ in failing}
    sources = {node: source for node, _, source in failing}
    return serving_daemonsets(
        pods, sources, lambda pod, node: _serves_driver(pod, drivers[node]), port=None
    )


# The node conditions under which the kubelet evicts pods: something on the node uses up
# what the condition names.
_PRESSURES = ("MemoryPressure", "DiskPressure", "PIDPressure")
# A node agent replaced this long before its node came under pressure is "what changed on
# the node" (its DaemonSet rolled out); replaced earlier, it is the node's steady state.
AGENT_REPLACED_BEFORE = timedelta(hours=6)
# At most this many node agents are followed for a node under pressure.
MAX_AGENTS = 2


def pressured_nodes(
    nodes: Iterable[JsonDict], pods: Iterable[JsonDict]
) -> list[tuple[str, str, datetime]]:
    """(node, condition, since) for each node that hosts one of ``pods`` (running there or
    evicted from there) and reports a pressure condition, with when it began."""
    hosting = {n for p in pods if isinstance(n := _d(p.get("spec")).get("nodeName"), str)}
    found: list[tuple[str, str, datetime]] = []
    for node in nodes:
        name = _d(node.get("metadata")).get("name")
        if name not in hosting:
            continue
        for condition in _dicts(_d(node.get("status")).get("conditions")):
            since = as_time(condition.get("lastTransitionTime"))
            if condition.get("type") in _PRESSURES and condition.get("status") == "True" and since:
                found.append((str(name), str(condition["type"]), since))
                break
    return found


def node_agent_hosts(
    pods: Iterable[JsonDict], pressured: Sequence[tuple[str, str, datetime]]
) -> list[ServiceHost]:
    """The workloads whose pods on the pressured nodes (``pressured_nodes``) were replaced
    shortly before their node came under pressure (within ``AGENT_REPLACED_BEFORE``): a node
    agent's new revision is what changed on those nodes; under disk pressure, so may be a
    Deployment's or StatefulSet's new revision that writes more to the node's disk (logs,
    writable layer, emptyDir), which the analyzers weigh only when the kubelet's evictions
    name its containers' usage. DaemonSets first, then those on most of the nodes, at most
    ``MAX_AGENTS``; one host per node, named by the node and its condition."""
    when = {node: (condition, since) for node, condition, since in pressured}
    seen: dict[tuple[str, str, str], list[tuple[str, str]]] = {}
    for pod in pods:
        node = _d(pod.get("spec")).get("nodeName")
        meta = _d(pod.get("metadata"))
        created = as_time(meta.get("creationTimestamp"))
        if not isinstance(node, str) or node not in when or created is None:
            continue
        condition, since = when[node]
        if not timedelta(0) <= since - created <= AGENT_REPLACED_BEFORE:
            continue
        workload = pod_workload(pod)
        if workload is None or (workload[0] != "DaemonSet" and condition != "DiskPressure"):
            continue
        key = (workload[0], str(meta.get("namespace")), workload[1])
        seen.setdefault(key, []).append((node, condition))
    ranked = sorted(seen.items(), key=lambda kv: (kv[0][0] != "DaemonSet", -len(kv[1])))
    return [
        ServiceHost(
            name=name,
            namespace=ns,
            port=None,
            source=route_source(f"node {node} {condition}"),
            kind=kind,
            route=DependencyRoute(kind="node-pressure", node=node, condition=condition),
        )
        for (kind, ns, name), pressures in ranked[:MAX_AGENTS]
        for node, condition in pressures
    ]


def _nfs_server(volume_source: JsonDict) -> str | None:
    """The NFS server a volume source (a pod volume or a PersistentVolume's spec) mounts
    from: ``nfs.server``, or the NFS CSI driver's ``server`` volume attribute."""
    nfs = _d(volume_source.get("nfs"))
    server = nfs.get("server") or _d(_d(volume_source.get("csi")).get("volumeAttributes")).get(
        "server"
    )
    return server.strip().lower() if isinstance(server, str) and server.strip() else None


def cluster_dns_server(server: str) -> tuple[str, str] | None:
    """(namespace, name) of the Service a cluster DNS name (``name.namespace.svc[...]``)
    names; None for an address or any other name."""
    name, _, rest = server.partition(".")
    namespace, _, suffix = rest.partition(".")
    if name and namespace and (suffix == "svc" or suffix.startswith("svc.")):
        return namespace, name
    return None


def served_by(server: str, services: Iterable[JsonDict]) -> tuple[str, str] | None:
    """(namespace, name) of the Service a server address names: its cluster DNS name, or
    its ClusterIP among ``services``."""
    named = cluster_dns_server(server)
    if named is not None:
        return named
    for svc in services:
        meta = _d(svc.get("metadata"))
        spec = _d(svc.get("spec"))
        if spec.get("clusterIP") not in (None, "", "None") and server in (
            spec.get("clusterIP"),
            *(spec.get("clusterIPs") or []),
        ):
            return str(meta.get("namespace")), str(meta.get("name"))
    return None


def nfs_servers(
    pods: Iterable[JsonDict], claims: Iterable[JsonDict], volumes: Iterable[JsonDict]
) -> list[tuple[str, str]]:
    """(volume or claim name, NFS server) of each of the pods' NFS volumes, inline or bound
    through a claim (``claims``) to a PersistentVolume (``volumes``)."""
    bound = {
        (str(_d(c.get("metadata")).get("namespace")), str(_d(c.get("metadata")).get("name"))): str(
            _d(c.get("spec")).get("volumeName") or ""
        )
        for c in claims
    }
    persistent = {str(_d(v.get("metadata")).get("name")): _d(v.get("spec")) for v in volumes}
    found: list[tuple[str, str]] = []
    for pod in pods:
        namespace = str(_d(pod.get("metadata")).get("namespace"))
        for volume in _dicts(_d(pod.get("spec")).get("volumes")):
            claim = _d(volume.get("persistentVolumeClaim")).get("claimName")
            source = persistent.get(bound.get((namespace, str(claim)), ""), {}) if claim else volume
            server = _nfs_server(source)
            if server is not None:
                found.append((str(claim or volume.get("name")), server))
    return found


def volume_server_hosts(
    pods: Iterable[JsonDict],
    claims: Iterable[JsonDict],
    volumes: Iterable[JsonDict],
    services: Iterable[JsonDict],
) -> list[ServiceHost]:
    """The Services that serve the pods' NFS volumes from inside the cluster (their ClusterIP
    or cluster DNS name is the volume's server), each once, named by the first volume: its
    pods are what the pods' file access waits on. ``claims`` are PersistentVolumeClaims,
    ``volumes`` PersistentVolumes, ``services`` Services of any namespace."""
    return served_hosts(
        (
            (
                server,
                2049,
                route_source(f"{VOLUME_SERVER_SOURCE} {volume} served from {server}"),
                DependencyRoute(kind="volume-server", claim=volume, host=server),
            )
            for volume, server in nfs_servers(pods, claims, volumes)
        ),
        services,
    )


def served_hosts(
    wanted: Iterable[tuple[str, int | None, NamingSource, DependencyRoute]],
    services: Iterable[JsonDict],
) -> list[ServiceHost]:
    """The Service serving each (host, port, source, route) that one serves from inside the
    cluster (``served_by``), each Service once, named by its first source."""
    services = list(services)
    found: list[ServiceHost] = []
    for host, port, source, route in wanted:
        served = served_by(host, services)
        if served is None or any((h.namespace, h.name) == served for h in found):
            continue
        found.append(
            ServiceHost(
                name=served[1],
                namespace=served[0],
                port=port,
                source=source,
                cluster_dns=True,
                route=route,
            )
        )
    return found


# A mesh sidecar that could not get its workload certificate from the mesh's CA, as Istio's
# agent ("failed to warm certificate", "ca request failed") and Linkerd's proxy ("identity
# certificate") word it, with the address it dialled ("dial tcp 10.20.0.15:15012").
_CERTIFICATE_REQUEST = re.compile(
    r"(?i)(workload certificate|warm certificate|ca request failed|identity certificate)"
)
_DIALLED = re.compile(r"(?i)\bdial tcp (?P<host>[a-z0-9.-]+):(?P<port>\d{1,5})\b")


def certificate_authorities(
    lines: Iterable[tuple[NamingSource, str]],
) -> list[tuple[str, int, NamingSource]]:
    """(CA host, port, log source) of each address the pods' sidecars dialled for their
    workload certificate and could not reach, as their own log lines say; first source
    each."""
    found: dict[str, tuple[int, NamingSource]] = {}
    for source, line in lines:
        if source.kind != "log" or not _CERTIFICATE_REQUEST.search(line):
            continue
        for match in _DIALLED.finditer(line):
            found.setdefault(match["host"].lower(), (int(match["port"]), source))
    return [(host, port, source) for host, (port, source) in found.items()]


def ca_hosts(
    lines: Iterable[tuple[NamingSource, str]], services: Iterable[JsonDict]
) -> list[ServiceHost]:
    """The Services serving, inside the cluster, the mesh CA the pods' sidecars could not
    reach for their workload certificate (``certificate_authorities``: its ClusterIP or
    cluster DNS name), each once, named by the first failing line (``MESH_CA_SOURCE``): the
    sidecars' certificates expire while it does not answer, so it is followed like a callee."""
    return served_hosts(
        (
            (
                host,
                port,
                route_source(
                    f"{MESH_CA_SOURCE} {host} of {source.namespace}/{source.pod}/{source.container}"
                ),
                DependencyRoute(kind="mesh-ca", host=host),
            )
            for host, port, source in certificate_authorities(lines)
        ),
        services,
    )


# The persistentvolume-controller's words for a claim that waits on a CSI provisioner.
_WAITS_ON_PROVISIONER = re.compile(r"external provisioner '(?P<name>[\w./-]+)'")
# Words of a provisioner's name that name no driver in particular.
_GENERIC_WORDS = frozenset(
    {"csi", "com", "io", "k8s", "kubernetes", "storage", "driver", "org", "net", "cloud"}
)
# The external-provisioner sidecar of a CSI controller, by its image or container name.
_PROVISIONER_SIDECAR = re.compile(r"(?i)(external-provisioner|csi-provisioner)")


def waiting_provisioners(
    pods: Iterable[JsonDict], claims: Iterable[JsonDict], events: Iterable[JsonDict]
) -> list[tuple[str, str]]:
    """(claim, provisioner) of each Pending claim the pods mount that waits on a CSI
    provisioner: the scheduler picked its node (``volume.kubernetes.io/selected-node``) or
    the persistentvolume-controller says it waits for the external provisioner."""
    mounted = {
        (str(_d(p.get("metadata")).get("namespace")), str(c))
        for p in pods
        for v in _dicts(_d(p.get("spec")).get("volumes"))
        if (c := _d(v.get("persistentVolumeClaim")).get("claimName"))
    }
    waiting: dict[tuple[str, str], str] = {}
    for event in events:
        involved = _d(event.get("involvedObject"))
        match = _WAITS_ON_PROVISIONER.search(str(event.get("message") or ""))
        if involved.get("kind") == "PersistentVolumeClaim" and match:
            waiting[(str(involved.get("namespace")), str(involved.get("name")))] = match["name"]
    found: list[tuple[str, str]] = []
    for claim in claims:
        meta = _d(claim.get("metadata"))
        key = (str(meta.get("namespace")), str(meta.get("name")))
        if key not in mounted or _d(claim.get("status")).get("phase") != "Pending":
            continue
        notes = _d(meta.get("annotations"))
        named = notes.get("volume.kubernetes.io/storage-provisioner") or notes.get(
            "volume.beta.kubernetes.io/storage-provisioner"
        )
        provisioner = waiting.get(key) or (
            named if notes.get("volume.kubernetes.io/selected-node") else None
        )
        if isinstance(provisioner, str) and provisioner:
            found.append((key[1], provisioner))
    return found


def _driver_words(provisioner: str) -> set[str]:
    return {w for w in re.split(r"[^a-z0-9]+", provisioner.lower()) if len(w) >= 3} - (
        _GENERIC_WORDS
    )


def _runs_provisioner_for(workload: JsonDict, words: set[str]) -> bool:
    """A workload whose pods run the external-provisioner sidecar and whose name or labels
    carry one of the provisioner's words."""
    spec = _d(_d(_d(workload.get("spec")).get("template")).get("spec"))
    sidecar = any(
        _PROVISIONER_SIDECAR.search(f"{c.get('name')} {c.get('image')}")
        for c in _dicts(spec.get("containers"))
    )
    meta = _d(workload.get("metadata"))
    names = " ".join([str(meta.get("name")), *map(str, _d(meta.get("labels")).values())]).lower()
    return sidecar and any(word in names for word in words)


def provisioner_hosts(
    waiting: Sequence[tuple[str, str]], workloads: Iterable[JsonDict]
) -> list[ServiceHost]:
    """The CSI controllers (Deployments or StatefulSets, ``workloads`` of any namespace) that
    provision the claims ``waiting`` (``waiting_provisioners``) wait on, each once, named by
    the first claim."""
    workloads = list(workloads)
    found: list[ServiceHost] = []
    for claim, provisioner in waiting:
        words = _driver_words(provisioner)
        for workload in workloads:
            meta = _d(workload.get("metadata"))
            key = (str(meta.get("namespace")), str(meta.get("name")))
            if not _runs_provisioner_for(workload, words):
                continue
            if any((h.namespace, h.name) == key for h in found):
                continue
            found.append(
                ServiceHost(
                    name=key[1],
                    namespace=key[0],
                    port=None,
                    source=route_source(
                        f"{VOLUME_SERVER_SOURCE} {claim} provisioned by {provisioner}"
                    ),
                    kind=str(workload.get("kind") or "Deployment"),
                    route=DependencyRoute(kind="volume-provisioner", claim=claim),
                )
            )
    return found
