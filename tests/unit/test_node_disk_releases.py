"""A node filesystem alert, and one tenant of the node released a revision that points a
setting inside an emptyDir on the node's disk where the revision before did not (a cache
moved from a server into files): that release is rolled back. Near misses: an emptyDir in
memory, a setting already there before, a path outside the volume, two such tenants, an old
release, a memory alert.

Real: the pure evidence helper on ReplicaSet-shaped dicts, Evidence factories and the
analyzer.
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.local_volumes import check_node_disk_release
from kubetriage.evidence.node_disk_writes import node_disk_settings
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.neighbours import NodeTenantEvidence
from kubetriage.models.object_evidence import ChangeEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import ago

OLD = {"name": "CACHE_LOCATION", "value": "redis://cache.shop.svc:6379/1"}
NEW = {"name": "CACHE_LOCATION", "value": "/var/tmp/app_cache"}


def _rs(revision: int, env: list[dict[str, str]], medium: str | None = None) -> dict[str, Any]:
    empty = {"medium": medium} if medium else {}
    return {
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"web-{revision}",
            "annotations": {"deployment.kubernetes.io/revision": str(revision)},
        },
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "env": env,
                            "volumeMounts": [{"name": "tmp", "mountPath": "/var/tmp"}],
                        }
                    ],
                    "volumes": [{"name": "tmp", "emptyDir": empty}],
                }
            }
        },
    }


def test_a_setting_the_new_revision_points_into_an_emptydir_is_named() -> None:
    assert node_disk_settings([_rs(57, [NEW]), _rs(56, [OLD])]) == ["web/CACHE_LOCATION"]
    assert node_disk_settings([_rs(57, [NEW]), _rs(56, [])]) == ["web/CACHE_LOCATION"]


def test_near_misses_name_no_setting() -> None:
    # In memory (tmpfs), already there before, outside the volume, one revision only.
    assert node_disk_settings([_rs(57, [NEW], medium="Memory"), _rs(56, [OLD])]) == []
    assert node_disk_settings([_rs(57, [NEW]), _rs(56, [NEW])]) == []
    outside = {"name": "CACHE_LOCATION", "value": "/var/tmpfiles/cache"}
    assert node_disk_settings([_rs(57, [outside]), _rs(56, [OLD])]) == []
    assert node_disk_settings([_rs(57, [NEW])]) == []
    # The older revision moved it; the newest moved it back out.
    assert node_disk_settings([_rs(58, [OLD]), _rs(57, [NEW]), _rs(56, [OLD])]) == []


NODE = ObjectRef(kind="Node", name="w4")
WEB = ObjectRef(kind="Deployment", namespace="shop", name="web", api_version="apps/v1")
API = ObjectRef(kind="Deployment", namespace="shop", name="api", api_version="apps/v1")


def _tenant(ref: ObjectRef = WEB, hours: float = 3, moved: bool = True) -> NodeTenantEvidence:
    change = ChangeEvidence(
        at=ago(hours * 60),
        kind="rollout",
        object=ref,
        aspects=["env"],
        details=["revision 56 -> 57"],
        from_revision=56,
    )
    return NodeTenantEvidence(
        ref=ref,
        pods=[f"{ref.name}-1", f"{ref.name}-2"],
        changes=[change],
        node_disk_settings=["web/CACHE_LOCATION"] if moved else [],
    )


def _node(
    *tenants: NodeTenantEvidence, alertname: str = "NodeFilesystemFilesFillingUp"
) -> Evidence:
    return make.evidence(
        target=NODE,
        alerts=[make.alert(alertname=alertname, instance="w4", mountpoint="/")],
        node_tenants=list(tenants),
    )


def test_the_one_release_writing_into_the_node_is_rolled_back() -> None:
    [finding] = check_node_disk_release(_node(_tenant(), _tenant(API, moved=False)))
    assert (finding.category, finding.action, finding.target) == (
        Category.BAD_ROLLOUT,
        Action.ROLLBACK,
        WEB,
    )
    assert finding.params == {"revision": "56"}


def test_near_misses_keep_the_node() -> None:
    assert check_node_disk_release(_node(_tenant(), _tenant(API))) == []
    assert check_node_disk_release(_node(_tenant(hours=30))) == []
    assert check_node_disk_release(_node(_tenant(moved=False))) == []
    assert check_node_disk_release(_node(_tenant(), alertname="NodeMemoryHighUtilization")) == []
    assert check_node_disk_release(_node(_tenant(), alertname="NodeDiskIOSaturation")) == []
