"""A workload whose writes fail with "Read-only file system" while its pod mounts a claim it
may write: the volume was remounted read-only under it, and a restart mounts it again. A pod
that mounts no claim, a ReadOnlyMany claim, a pod that is out of space, and a database's
read-only transaction are not this rule's.

Real: the analyzer registry (``run_analyzers``) over Evidence models from
``tests.support.evidence``.
"""

from __future__ import annotations

from kubetriage.analyzers.read_only_volumes import check_read_only_volumes
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import ConfigMount, PVCEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make

POD = "uploads-6d4f8b7c9-x2k4p"
EROFS = """
[2026-11-20 09:26:03,550] ERROR consumer: [Errno 30] Read-only file system: '/data/originals/41.pdf'
[2026-11-20 09:41:19,207] ERROR django.request: Internal Server Error: /api/upload/
OSError: [Errno 30] Read-only file system: '/data/thumbnails/41.webp'
"""
UPLOADS = ObjectRef(kind="Deployment", namespace="shop", name="uploads")


def _evidence(
    logs: str, *, claims: list[str], modes: tuple[str, ...] = ("ReadWriteOnce",)
) -> Evidence:
    pvcs = [
        PVCEvidence(
            name=c, namespace="shop", phase="Bound", capacity="100Gi", access_modes=list(modes)
        )
        for c in claims
    ]
    ev = make.app_evidence(POD, make.container("app"), logs=logs, pvcs=pvcs)
    ev.pods[0].pvc_names = list(claims)
    return ev


def test_writes_failing_on_a_read_only_claim_mount_restart_the_workload() -> None:
    result = make.analyze(_evidence(EROFS, claims=["uploads-media"]))
    first = make.assert_leads(result, Category.STORAGE, Action.RESTART, UPLOADS)
    assert first.analyzer == "read-only-volumes"
    assert "remounted read-only" in first.summary


def test_a_pod_without_claims_is_a_read_only_root_filesystem_not_a_volume() -> None:
    assert not check_read_only_volumes(_evidence(EROFS, claims=[]))


def test_a_read_only_many_claim_is_read_only_by_design() -> None:
    assert not check_read_only_volumes(_evidence(EROFS, claims=["shared"], modes=("ReadOnlyMany",)))


def test_a_pod_out_of_space_is_the_storage_rules_full_volume() -> None:
    full = EROFS + "OSError: [Errno 28] No space left on device: '/data/originals/42.pdf'\n"
    assert not check_read_only_volumes(_evidence(full, claims=["uploads-media"]))


def test_a_read_only_database_transaction_is_not_a_file_system() -> None:
    text = "ERROR: cannot execute INSERT in a read-only transaction\n"
    assert not check_read_only_volumes(_evidence(text, claims=["uploads-media"]))


def test_a_write_to_a_config_mount_is_read_only_by_design() -> None:
    text = (
        "10-listen-on-ipv6-by-default.sh: info: can not modify /etc/nginx/conf.d/default.conf "
        "(read-only file system?)\n"
    )
    ev = _evidence(text, claims=["uploads-media"])
    ev.pods[0].containers[0].config_mounts = [
        ConfigMount(
            path="/etc/nginx/conf.d/default.conf",
            kind="ConfigMap",
            name="site",
            sub_path="default.conf",
        )
    ]
    assert not check_read_only_volumes(ev)
    # The same line under no config mount is the claim's.
    assert check_read_only_volumes(_evidence(text, claims=["uploads-media"]))
