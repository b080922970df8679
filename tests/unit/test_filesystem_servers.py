"""The CephFS metadata servers a pod's claim is served from: the claim bound to a CephFS
volume of the Ceph CSI driver leads to the Deployments running the metadata servers of its
file system in the Ceph cluster's namespace (Rook's ``rook_file_system`` label, or its
``rook-ceph-mds-<fs>-<id>`` name). An RBD volume, a volume without its file system, another
file system's or another namespace's servers, and a cluster run outside Kubernetes lead
nowhere.

Real: ``kubetriage.evidence.filesystem_servers`` over raw objects.
"""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.filesystem_servers import cephfs_volumes, metadata_server_hosts

CEPHFS = "rook-ceph.cephfs.csi.ceph.com"


def _pod(*claims: str) -> dict[str, Any]:
    volumes = [{"name": c, "persistentVolumeClaim": {"claimName": c}} for c in claims]
    return {"metadata": {"name": "web-1", "namespace": "lms"}, "spec": {"volumes": volumes}}


def _claim(name: str, volume: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "lms"}, "spec": {"volumeName": volume}}


def _volume(name: str, driver: str = CEPHFS, **attributes: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"csi": {"driver": driver, "volumeAttributes": attributes}},
    }


def _deployment(name: str, namespace: str = "rook-ceph", **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace, "labels": labels}}


def test_a_cephfs_claim_leads_to_its_file_systems_metadata_servers() -> None:
    found = cephfs_volumes(
        [_pod("shared")],
        [_claim("shared", "pv-1")],
        [_volume("pv-1", clusterID="rook-ceph", fsName="sharedfs")],
    )
    assert found == [("shared", "rook-ceph", "sharedfs")]
    hosts = metadata_server_hosts(
        found,
        [
            _deployment(
                "rook-ceph-mds-sharedfs-a", app="rook-ceph-mds", rook_file_system="sharedfs"
            ),
            _deployment("rook-ceph-mds-sharedfs-b"),  # named by Rook's convention only
            _deployment("rook-ceph-mds-otherfs-a", app="rook-ceph-mds", rook_file_system="otherfs"),
            _deployment("rook-ceph-mds-sharedfs-a", namespace="elsewhere"),
            _deployment("rook-ceph-osd-0", app="rook-ceph-osd"),
        ],
    )
    assert [(h.kind, h.namespace, h.name) for h in hosts] == [
        ("Deployment", "rook-ceph", "rook-ceph-mds-sharedfs-a"),
        ("Deployment", "rook-ceph", "rook-ceph-mds-sharedfs-b"),
    ]
    assert all(h.route is not None and h.route.kind == "volume-server" for h in hosts)
    assert all(h.route is not None and h.route.claim == "shared" for h in hosts)


def test_other_volumes_lead_nowhere() -> None:
    volumes = [
        _volume("pv-rbd", "rook-ceph.rbd.csi.ceph.com", clusterID="rook-ceph", pool="replicapool"),
        _volume("pv-nofs", clusterID="rook-ceph"),
    ]
    claims = [_claim("block", "pv-rbd"), _claim("nofs", "pv-nofs"), _claim("unbound", "")]
    assert cephfs_volumes([_pod("block", "nofs", "unbound", "missing")], claims, volumes) == []


def test_a_ceph_cluster_outside_kubernetes_has_no_server_to_follow() -> None:
    assert metadata_server_hosts([("shared", "rook-ceph-external", "sharedfs")], []) == []
