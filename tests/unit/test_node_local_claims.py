"""A node filesystem alert, and one tenant of the node keeps a claim in a directory of that
filesystem (a hostPath or local PersistentVolume: a local-path provisioner's): its data has
no quota and grows into the node's disk, so the claim is what to move to storage of its
own. Near misses keep the Node: the claim's directory on another filesystem than the
alerted mountpoint, two tenants with such claims, a memory alert, a network volume.

Real: Evidence factories and the analyzer; ``build_evidence`` on API-shaped dicts.
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.local_volumes import check_local_claim
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.neighbours import NodeTenantEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.built import built

NODE = ObjectRef(kind="Node", name="w4")
DB = ObjectRef(kind="StatefulSet", namespace="analytics", name="db", api_version="apps/v1")
WEB = ObjectRef(kind="Deployment", namespace="analytics", name="web", api_version="apps/v1")
_PATH = "/opt/local-path-provisioner/pvc-1_analytics_data-db-0"


def _node_evidence(
    *tenants: NodeTenantEvidence,
    mountpoint: str = "/",
    alertname: str = "NodeFilesystemSpaceFillingUp",
) -> Evidence:
    return make.evidence(
        target=NODE,
        alerts=[make.alert(alertname=alertname, instance="w4", mountpoint=mountpoint)],
        node_tenants=list(tenants),
    )


def _db(path: str = _PATH) -> NodeTenantEvidence:
    return NodeTenantEvidence(ref=DB, pods=["db-0"], local_claims={"data-db-0": path})


def test_the_one_claim_stored_in_the_alerted_filesystem_is_moved_to_its_own_storage() -> None:
    [finding] = check_local_claim(_node_evidence(_db(), NodeTenantEvidence(ref=WEB)))
    claim = ObjectRef(kind="PersistentVolumeClaim", namespace="analytics", name="data-db-0")
    assert (finding.category, finding.action, finding.target) == (
        Category.STORAGE,
        Action.EXPAND_STORAGE,
        claim,
    )


def test_near_miss_the_claims_directory_is_on_another_filesystem() -> None:
    assert check_local_claim(_node_evidence(_db(), mountpoint="/var/lib/containerd")) == []
    assert check_local_claim(_node_evidence(_db("/optional/x"), mountpoint="/opt")) == []


def test_near_miss_two_tenants_with_local_claims_name_neither() -> None:
    other = NodeTenantEvidence(ref=WEB, pods=["web-1"], local_claims={"cache": "/opt/lp/cache"})
    assert check_local_claim(_node_evidence(_db(), other)) == []


def test_near_miss_a_memory_alert_is_not_about_the_disk() -> None:
    assert check_local_claim(_node_evidence(_db(), alertname="NodeMemoryHighUtilization")) == []


def test_near_miss_a_disk_io_alert_is_not_about_room_on_it() -> None:
    assert check_local_claim(_node_evidence(_db(), alertname="NodeDiskIOSaturation")) == []


def test_an_inode_alert_on_the_filesystem_names_the_claim_too() -> None:
    [finding] = check_local_claim(_node_evidence(_db(), alertname="NodeFilesystemFilesFillingUp"))
    assert finding.action is Action.EXPAND_STORAGE


def _pv(name: str, source: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name},
        "spec": source,
    }


def _pvc(name: str, volume: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": "analytics"},
        "spec": {"volumeName": volume},
        "status": {"phase": "Bound"},
    }


def test_a_node_incident_reads_which_tenant_claims_are_node_directories() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "db-0",
            "namespace": "analytics",
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "controller": True}
            ],
        },
        "spec": {
            "nodeName": "w4",
            "containers": [{"name": "db", "image": "db:1"}],
            "volumes": [
                {"name": "data", "persistentVolumeClaim": {"claimName": "data-db-0"}},
                {"name": "backup", "persistentVolumeClaim": {"claimName": "backup-db-0"}},
            ],
        },
        "status": {"phase": "Running"},
    }
    objects = [
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "w4"}, "status": {}},
        pod,
        _pvc("data-db-0", "pvc-1"),
        _pvc("backup-db-0", "pvc-2"),
        _pv("pvc-1", {"hostPath": {"path": _PATH}}),
        _pv("pvc-2", {"csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "vol-1"}}),
    ]
    [tenant] = built(objects, NODE).node_tenants
    assert (tenant.ref, tenant.local_claims) == (DB, {"data-db-0": _PATH})
