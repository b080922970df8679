"""The storage system running in the cluster behind a pod's claims, and what it reports of its
own health, for the dependency walk and the offline builder alike. Pure.

A claim bound to a volume of a distributed storage system that runs in the cluster stores
every write there: when that system stops taking writes (Ceph pauses writes to its pools once
an OSD is full; a Longhorn volume with no healthy replica left is faulted), the pod's
requests hang on the mount however empty the volume itself looks from inside the pod. An SRE
asks the storage system first (``ceph status``, the Longhorn UI); this reads the same answer
from its custom resource:

- Rook-Ceph (RBD and CephFS volumes of the Ceph CSI driver, ``*.rbd.csi.ceph.com``,
  ``*.cephfs.csi.ceph.com``): the volume's ``clusterID`` is, under Rook, the namespace of the
  CephCluster, whose ``status.ceph`` carries the cluster's health and its health checks
  (``OSD_FULL``, ``POOL_FULL``, ...). Its owners are reached through the Ceph manager's
  Service (Rook's ``rook-ceph-mgr``: selects ``app=rook-ceph-mgr``; the metrics and dashboard).
- Longhorn (``driver.longhorn.io``): the Volume resource named by the volume handle, in
  Longhorn's namespace (``LONGHORN_NAMESPACE``), whose ``status.robustness`` says whether its
  replicas can serve it. Its owners are reached through the Service of the Longhorn manager
  (``longhorn-backend``: selects ``app=longhorn-manager``).

Only a system reporting itself not healthy is followed (as a ``storage-backend`` route
carrying that health, named by the claim); what it reports is judged by the analyzers.
An external Ceph cluster (no CephCluster in the cluster), another provisioner, or a system
whose Service is not found is not followed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

from kubetriage.evidence.dependencies import ServiceHost
from kubetriage.evidence.raw import as_dict as _d
from kubetriage.evidence.raw import dicts as _dicts
from kubetriage.models.base import ObjectRef
from kubetriage.models.naming import route_source
from kubetriage.models.objects import JsonDict
from kubetriage.models.relations import (
    VOLUME_SERVER_SOURCE,
    DependencyRoute,
    StorageBackendHealth,
)

# The custom resources read (group, version, kind, plural), as the chart grants them.
CEPH_CLUSTER_API: Final = ("ceph.rook.io", "v1", "CephCluster", "cephclusters")
LONGHORN_VOLUME_API: Final = ("longhorn.io", "v1beta2", "Volume", "volumes")
# Longhorn's namespace: its chart installs there, and its Volume resources live there.
LONGHORN_NAMESPACE: Final = "longhorn-system"

_CEPH_DRIVERS: Final = (".rbd.csi.ceph.com", ".cephfs.csi.ceph.com")
_LONGHORN_DRIVER: Final = "driver.longhorn.io"
# The health each system reports when nothing is wrong: such a system is not followed.
_HEALTHY: Final = frozenset({"HEALTH_OK", "healthy"})
# The pods whose Service is where a system's owners look (by the ``app`` label it selects).
_SERVICE_APP: Final = {"ceph": "rook-ceph-mgr", "longhorn": "longhorn-manager"}


@dataclass(frozen=True, slots=True)
class BackendVolume:
    """A claim of the pods stored by a storage system of the cluster: ``system`` ("ceph" or
    "longhorn"), the namespace its resource lives in, and for Longhorn the Volume's name."""

    claim: str
    system: str
    namespace: str
    volume: str | None = None


def backend_volumes(
    pods: Iterable[JsonDict], claims: Iterable[JsonDict], volumes: Iterable[JsonDict]
) -> list[BackendVolume]:
    """The pods' claims bound (``claims``) to a PersistentVolume (``volumes``) of a Rook-Ceph
    or Longhorn CSI driver, each claim once."""
    bound = {
        (str(_d(c.get("metadata")).get("namespace")), str(_d(c.get("metadata")).get("name"))): str(
            _d(c.get("spec")).get("volumeName") or ""
        )
        for c in claims
    }
    persistent = {str(_d(v.get("metadata")).get("name")): _d(v.get("spec")) for v in volumes}
    found: list[BackendVolume] = []
    for pod in pods:
        namespace = str(_d(pod.get("metadata")).get("namespace"))
        for volume in _dicts(_d(pod.get("spec")).get("volumes")):
            claim = _d(volume.get("persistentVolumeClaim")).get("claimName")
            if not isinstance(claim, str) or any(f.claim == claim for f in found):
                continue
            csi = _d(persistent.get(bound.get((namespace, claim), ""), {}).get("csi"))
            driver = str(csi.get("driver") or "")
            cluster = _d(csi.get("volumeAttributes")).get("clusterID")
            handle = csi.get("volumeHandle")
            if driver.endswith(_CEPH_DRIVERS) and isinstance(cluster, str) and cluster:
                found.append(BackendVolume(claim, "ceph", cluster))
            elif driver == _LONGHORN_DRIVER and isinstance(handle, str) and handle:
                found.append(BackendVolume(claim, "longhorn", LONGHORN_NAMESPACE, handle))
    return found


def _ceph_health(cluster: JsonDict) -> StorageBackendHealth | None:
    meta = _d(cluster.get("metadata"))
    ceph = _d(_d(cluster.get("status")).get("ceph"))
    health = ceph.get("health")
    if not isinstance(health, str) or not health:
        return None
    checks = {
        str(code): str(_d(detail).get("message") or "")
        for code, detail in _d(ceph.get("details")).items()
    }
    capacity = _d(ceph.get("capacity"))
    total, used = capacity.get("bytesTotal"), capacity.get("bytesUsed")
    fraction = None
    if isinstance(total, int | float) and isinstance(used, int | float) and total > 0:
        fraction = round(float(used) / float(total), 3)
    return StorageBackendHealth(
        resource=ObjectRef(
            kind="CephCluster", namespace=str(meta.get("namespace")), name=str(meta.get("name"))
        ),
        health=health,
        checks=checks,
        used_fraction=fraction,
    )


def _longhorn_health(volume: JsonDict) -> StorageBackendHealth | None:
    meta = _d(volume.get("metadata"))
    status = _d(volume.get("status"))
    robustness = status.get("robustness")
    if not isinstance(robustness, str) or not robustness:
        return None
    state = status.get("state")
    return StorageBackendHealth(
        resource=ObjectRef(
            kind="Volume", namespace=str(meta.get("namespace")), name=str(meta.get("name"))
        ),
        health=robustness,
        state=state if isinstance(state, str) else None,
    )


def _is(obj: JsonDict, api: tuple[str, str, str, str]) -> bool:
    group = str(obj.get("apiVersion") or "").partition("/")[0]
    return obj.get("kind") == api[2] and group == api[0]


def backend_health(
    wanted: BackendVolume, resources: Iterable[JsonDict]
) -> StorageBackendHealth | None:
    """The health of the system storing ``wanted``, from ``resources`` (custom resources of
    any kind and namespace): the first CephCluster of its namespace that reports one, or
    the Longhorn Volume of its name."""
    for obj in resources:
        meta = _d(obj.get("metadata"))
        if meta.get("namespace") != wanted.namespace:
            continue
        if wanted.system == "ceph" and _is(obj, CEPH_CLUSTER_API):
            if (health := _ceph_health(obj)) is not None:
                return health
        elif (
            wanted.system == "longhorn"
            and _is(obj, LONGHORN_VOLUME_API)
            and meta.get("name") == wanted.volume
        ):
            return _longhorn_health(obj)
    return None


def _service(system: str, namespace: str, services: Iterable[JsonDict]) -> str | None:
    for service in services:
        meta = _d(service.get("metadata"))
        selector = _d(_d(service.get("spec")).get("selector"))
        if meta.get("namespace") == namespace and selector.get("app") == _SERVICE_APP[system]:
            return str(meta.get("name"))
    return None


def unhealthy_volumes(
    wanted: Iterable[BackendVolume], resources: Callable[[BackendVolume], Iterable[JsonDict]]
) -> list[BackendVolume]:
    """The volumes of ``wanted`` whose storage system reports itself not healthy."""
    return [
        volume
        for volume in wanted
        if (health := backend_health(volume, resources(volume))) is not None
        and health.health not in _HEALTHY
    ]


def backend_hosts(
    wanted: Iterable[BackendVolume],
    resources: Callable[[BackendVolume], Iterable[JsonDict]],
    services: Iterable[JsonDict],
) -> list[ServiceHost]:
    """The Service of each storage system storing a claim of ``wanted`` that reports itself
    not healthy (its resources read by ``resources``), each system once, named by its first
    claim, with the health it reports on the route."""
    services = list(services)
    found: list[ServiceHost] = []
    for volume in unhealthy_volumes(wanted, resources):
        health = backend_health(volume, resources(volume))
        if health is None:
            continue
        name = _service(volume.system, volume.namespace, services)
        if name is None or any((h.namespace, h.name) == (volume.namespace, name) for h in found):
            continue
        system = health.resource.name
        found.append(
            ServiceHost(
                name=name,
                namespace=volume.namespace,
                port=None,
                source=route_source(f"{VOLUME_SERVER_SOURCE} {volume.claim} stored by {system}"),
                route=DependencyRoute(
                    kind="storage-backend", claim=volume.claim, host=system, backend=health
                ),
            )
        )
    return found
