"""The storage system of the cluster behind a pod's claims: a claim bound to a volume of a
Rook-Ceph CSI driver (RBD or CephFS) leads to the CephCluster of the volume's ``clusterID``
namespace, a Longhorn claim to the Longhorn Volume of its handle; a system reporting itself
not healthy is followed through its Service (the Ceph manager's, the Longhorn manager's) with
the health it reports. Near misses: a healthy system, a claim of another provisioner, a
Ceph cluster run outside Kubernetes (no CephCluster), a system whose Service is not found,
a CephCluster of another namespace.

The claims of a followed callee's pods lead there alike (the builder end to end).

Real: ``kubetriage.evidence.storage_backends`` over raw objects, and the real builder.
"""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.storage_backends import (
    BackendVolume,
    backend_hosts,
    backend_volumes,
    unhealthy_volumes,
)
from kubetriage.models.base import ObjectRef
from tests.support.built import built

RBD = "rook-ceph.rbd.csi.ceph.com"
CEPHFS = "rook-ceph.cephfs.csi.ceph.com"
LONGHORN = "driver.longhorn.io"


def _pod(*claims: str) -> dict[str, Any]:
    volumes = [{"name": c, "persistentVolumeClaim": {"claimName": c}} for c in claims]
    return {"metadata": {"name": "web-1", "namespace": "git"}, "spec": {"volumes": volumes}}


def _claim(name: str, volume: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "git"}, "spec": {"volumeName": volume}}


def _volume(name: str, driver: str, handle: str = "h-1", **attributes: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"csi": {"driver": driver, "volumeHandle": handle, "volumeAttributes": attributes}},
    }


def _ceph(health: str, namespace: str = "rook-ceph", **details: str) -> dict[str, Any]:
    return {
        "apiVersion": "ceph.rook.io/v1",
        "kind": "CephCluster",
        "metadata": {"name": "rook-ceph", "namespace": namespace},
        "status": {
            "ceph": {
                "health": health,
                "details": {c: {"message": m, "severity": health} for c, m in details.items()},
                "capacity": {"bytesTotal": 1000, "bytesUsed": 870},
            }
        },
    }


def _longhorn(name: str, robustness: str) -> dict[str, Any]:
    return {
        "apiVersion": "longhorn.io/v1beta2",
        "kind": "Volume",
        "metadata": {"name": name, "namespace": "longhorn-system"},
        "status": {"robustness": robustness, "state": "attached"},
    }


def _service(name: str, namespace: str, app: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": {"app": app}},
    }


SERVICES = [
    _service("rook-ceph-mgr", "rook-ceph", "rook-ceph-mgr"),
    _service("rook-ceph-mgr-dashboard-other", "elsewhere", "rook-ceph-mgr"),
    _service("longhorn-backend", "longhorn-system", "longhorn-manager"),
    _service("longhorn-frontend", "longhorn-system", "longhorn-ui"),
]


def _wanted() -> list[BackendVolume]:
    return backend_volumes(
        [_pod("data", "files", "blocks", "other", "unbound")],
        [
            _claim("data", "pv-rbd"),
            _claim("files", "pv-fs"),
            _claim("blocks", "pv-lh"),
            _claim("other", "pv-ebs"),
            _claim("unbound", ""),
        ],
        [
            _volume("pv-rbd", RBD, clusterID="rook-ceph", pool="replicapool"),
            _volume("pv-fs", CEPHFS, clusterID="rook-ceph", fsName="sharedfs"),
            _volume("pv-lh", LONGHORN, handle="pv-lh"),
            _volume("pv-ebs", "ebs.csi.aws.com", handle="vol-0abc"),
        ],
    )


def test_claims_of_ceph_and_longhorn_drivers_are_found_others_are_not() -> None:
    assert _wanted() == [
        BackendVolume("data", "ceph", "rook-ceph"),
        BackendVolume("files", "ceph", "rook-ceph"),
        BackendVolume("blocks", "longhorn", "longhorn-system", "pv-lh"),
    ]


def test_a_ceph_cluster_reporting_trouble_is_followed_through_its_manager_service() -> None:
    full = _ceph("HEALTH_ERR", OSD_FULL="1 full osd(s)", POOL_FULL="2 pool(s) full")
    hosts = backend_hosts(_wanted()[:1], lambda v: [full], SERVICES)
    assert [(h.kind, h.namespace, h.name) for h in hosts] == [
        ("Service", "rook-ceph", "rook-ceph-mgr")
    ]
    route = hosts[0].route
    assert route is not None
    assert route.kind == "storage-backend"
    assert route.claim == "data"
    assert route.backend is not None
    assert route.backend.health == "HEALTH_ERR"
    assert route.backend.checks == {"OSD_FULL": "1 full osd(s)", "POOL_FULL": "2 pool(s) full"}
    assert route.backend.used_fraction == 0.87
    assert route.backend.resource.kind == "CephCluster"


def test_a_healthy_or_unread_system_is_not_followed() -> None:
    wanted = _wanted()
    assert backend_hosts(wanted, lambda v: [_ceph("HEALTH_OK")], SERVICES) == []
    assert backend_hosts(wanted, lambda v: [_longhorn("pv-lh", "healthy")], SERVICES) == []
    # A Ceph cluster outside Kubernetes: no CephCluster to read.
    assert backend_hosts(wanted, lambda v: [], SERVICES) == []
    # A CephCluster of another namespace than the volume's clusterID.
    elsewhere = _ceph("HEALTH_ERR", namespace="elsewhere", OSD_FULL="1 full osd(s)")
    assert unhealthy_volumes(wanted, lambda v: [elsewhere]) == []


def test_a_system_reporting_trouble_without_its_service_is_not_followed() -> None:
    full = _ceph("HEALTH_ERR", OSD_FULL="1 full osd(s)")
    assert unhealthy_volumes(_wanted()[:1], lambda v: [full]) == _wanted()[:1]
    assert backend_hosts(_wanted()[:1], lambda v: [full], SERVICES[2:]) == []


def test_a_longhorn_volume_not_healthy_is_followed_once_per_service() -> None:
    wanted = _wanted()
    hosts = backend_hosts(
        wanted,
        lambda v: [_longhorn("pv-lh", "faulted"), _longhorn("pv-other", "healthy")],
        SERVICES,
    )
    assert [(h.namespace, h.name) for h in hosts] == [("longhorn-system", "longhorn-backend")]
    route = hosts[0].route
    assert route is not None
    assert route.backend is not None
    assert (route.claim, route.backend.health, route.backend.state) == (
        "blocks",
        "faulted",
        "attached",
    )
    # Another volume's fault is not this claim's.
    assert backend_hosts(wanted, lambda v: [_longhorn("pv-other", "faulted")], SERVICES) == []


def _callee_objects(health: str) -> list[dict[str, Any]]:
    """A web Deployment calling a database whose pod keeps its data on a Ceph RBD claim."""
    web_labels = {"app": "web"}
    env = [{"name": "DB_HOST", "value": "db.app.svc.cluster.local"}]
    containers = [{"name": "web", "image": "web:1", "env": env}]
    db_owner = {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "controller": True}
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "app", "labels": web_labels},
            "spec": {
                "selector": {"matchLabels": web_labels},
                "template": {
                    "metadata": {"labels": web_labels},
                    "spec": {"containers": containers},
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web-1", "namespace": "app", "labels": web_labels},
            "spec": {"containers": containers},
            "status": {"phase": "Running"},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "db", "namespace": "app"},
            "spec": {"selector": {"app": "db"}},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "db", "namespace": "app"},
            "spec": {"selector": {"matchLabels": {"app": "db"}}, "replicas": 1},
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "db-0",
                "namespace": "app",
                "labels": {"app": "db"},
                "ownerReferences": [db_owner],
            },
            "spec": {
                "containers": [{"name": "db", "image": "postgres:16"}],
                "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data-db-0"}}],
            },
            "status": {"phase": "Running"},
        },
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data-db-0", "namespace": "app"},
            "spec": {"volumeName": "pv-db"},
        },
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            **_volume("pv-db", RBD, clusterID="rook-ceph"),
        },
        _ceph(health, **({"OSD_FULL": "1 full osd(s)"} if health != "HEALTH_OK" else {})),
        {
            "apiVersion": "v1",
            "kind": "Service",
            **_service("rook-ceph-mgr", "rook-ceph", "rook-ceph-mgr"),
        },
    ]


def test_a_callees_claim_leads_to_its_storage_system_in_the_builder() -> None:
    target = ObjectRef(kind="Deployment", namespace="app", name="web")
    evidence = built(_callee_objects("HEALTH_ERR"), target)
    stored = [d for d in evidence.dependencies if d.routed("storage-backend")]
    assert [d.service_ref() for d in stored] == [
        ObjectRef(kind="Service", namespace="rook-ceph", name="rook-ceph-mgr")
    ]
    route = stored[0].routed("storage-backend")[0]
    assert route.claim == "data-db-0"
    assert route.backend is not None
    assert "OSD_FULL" in route.backend.checks
    # A healthy Ceph cluster behind the same claim is not followed.
    healthy = built(_callee_objects("HEALTH_OK"), target)
    assert [d for d in healthy.dependencies if d.routed("storage-backend")] == []
    assert [d.service_ref() for d in healthy.dependencies] == [
        ObjectRef(kind="Service", namespace="app", name="db")
    ]
