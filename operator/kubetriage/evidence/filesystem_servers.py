"""The metadata servers a pod's CephFS volume is served from, for the dependency walk and the
offline builder alike. Pure.

A pod whose claim is bound to a CephFS volume of the Ceph CSI driver (``*.cephfs.csi.ceph.com``,
``fsName`` and ``clusterID`` among its volume attributes) does every file lookup through the
file system's metadata servers (MDS): when they stop answering, its processes block on the
mount (probes time out, requests hang) however healthy the pod itself is. Under Rook the
``clusterID`` is the namespace of the CephCluster, and each MDS runs as a Deployment there
labelled with its file system (``rook_file_system``; named ``rook-ceph-mds-<fsName>-<id>``).
Those Deployments are followed like a callee, named by the claim (``VOLUME_SERVER_SOURCE``).
A Ceph cluster run outside Kubernetes has no such Deployment, and nothing is followed.
"""

from __future__ import annotations

from collections.abc import Iterable

from kubetriage.evidence.dependencies import ServiceHost
from kubetriage.evidence.raw import as_dict as _d
from kubetriage.evidence.raw import dicts as _dicts
from kubetriage.models.naming import route_source
from kubetriage.models.objects import JsonDict
from kubetriage.models.relations import VOLUME_SERVER_SOURCE, DependencyRoute

_CEPHFS_DRIVER = "cephfs.csi.ceph.com"
# The metadata servers of one file system followed at most (an active one and a standby).
MAX_SERVERS = 2


def cephfs_volumes(
    pods: Iterable[JsonDict], claims: Iterable[JsonDict], volumes: Iterable[JsonDict]
) -> list[tuple[str, str, str]]:
    """(claim, cluster namespace, file system) of each of the pods' claims bound
    (``claims``) to a CephFS volume of the Ceph CSI driver (``volumes``), each claim once."""
    bound = {
        (str(_d(c.get("metadata")).get("namespace")), str(_d(c.get("metadata")).get("name"))): str(
            _d(c.get("spec")).get("volumeName") or ""
        )
        for c in claims
    }
    persistent = {str(_d(v.get("metadata")).get("name")): _d(v.get("spec")) for v in volumes}
    found: list[tuple[str, str, str]] = []
    for pod in pods:
        namespace = str(_d(pod.get("metadata")).get("namespace"))
        for volume in _dicts(_d(pod.get("spec")).get("volumes")):
            claim = _d(volume.get("persistentVolumeClaim")).get("claimName")
            if not isinstance(claim, str):
                continue
            csi = _d(persistent.get(bound.get((namespace, claim), ""), {}).get("csi"))
            attributes = _d(csi.get("volumeAttributes"))
            cluster, fs = attributes.get("clusterID"), attributes.get("fsName")
            if not str(csi.get("driver") or "").endswith(_CEPHFS_DRIVER):
                continue
            named = isinstance(cluster, str) and isinstance(fs, str) and cluster and fs
            if named and not any(f[0] == claim for f in found):
                found.append((claim, str(cluster), str(fs)))
    return found


def _serves(deployment: JsonDict, fs: str) -> bool:
    """A Deployment running a metadata server of file system ``fs``: labelled with it, or
    named for it by Rook's convention."""
    meta = _d(deployment.get("metadata"))
    labels = _d(meta.get("labels"))
    if labels.get("rook_file_system") == fs and labels.get("app") in (None, "rook-ceph-mds"):
        return True
    return str(meta.get("name") or "").startswith(f"rook-ceph-mds-{fs}-")


def metadata_server_hosts(
    wanted: Iterable[tuple[str, str, str]], deployments: Iterable[JsonDict]
) -> list[ServiceHost]:
    """The Deployments (of ``deployments``, any namespace) serving the metadata of each
    CephFS volume (``cephfs_volumes``) in its cluster's namespace, at most ``MAX_SERVERS``
    per file system, each once, named by the first claim."""
    deployments = list(deployments)
    found: list[ServiceHost] = []
    for claim, cluster, fs in wanted:
        serving = [
            d
            for d in deployments
            if _d(d.get("metadata")).get("namespace") == cluster and _serves(d, fs)
        ]
        for deployment in serving[:MAX_SERVERS]:
            name = str(_d(deployment.get("metadata")).get("name"))
            if any((h.namespace, h.name) == (cluster, name) for h in found):
                continue
            found.append(
                ServiceHost(
                    name=name,
                    namespace=cluster,
                    port=None,
                    source=route_source(f"{VOLUME_SERVER_SOURCE} {claim} served from {fs}"),
                    kind="Deployment",
                    route=DependencyRoute(kind="volume-server", claim=claim, host=fs),
                )
            )
    return found
