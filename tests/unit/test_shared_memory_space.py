"""A "No space left on device" about POSIX shared memory (a Postgres "could not resize shared
memory segment", shm_open, /dev/shm) is the container's 64 MB tmpfs refusing a segment, not a
PersistentVolumeClaim: neither the dependency-volume rule nor the storage rule's disk-full log
reading grows a claim for it, while the same ENOSPC on a data file still does (near misses).

Real: the analyzers over Evidence models built with ``tests.support.evidence``.
"""

from __future__ import annotations

import pytest

from kubetriage.analyzers.dependency_volumes import check_dependency_volume_full
from kubetriage.analyzers.log_signatures import SHARED_MEMORY_SPACE
from kubetriage.analyzers.storage import check_storage
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import PVCEvidence
from kubetriage.models.relations import DependencyEvidence, DependencyVolume
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import naming

SHM_LINES = [
    "2026-11-20 09:59:41.660 UTC [55014] ERROR:  could not resize shared memory segment "
    '"/PostgreSQL.3351026286" to 268443648 bytes: No space left on device',
    "OSError: [Errno 28] No space left on device: '/dev/shm/torch_19_1822019347'",
    "shm_open failed: No space left on device",
]
DATA_LINE = 'ERROR:  could not extend file "base/16384/2619": No space left on device'
CLAIM = ObjectRef(kind="PersistentVolumeClaim", namespace="data", name="data-db-0")


def _dependency_says(line: str) -> Evidence:
    dep = DependencyEvidence(
        service=make.service("db", "data", ready=1, matching=1, port_numbers=[5432]),
        named_by=naming("pod reports-6f7d8c9b5-x1y2z env DATABASE_URL"),
        pods=1,
        desired_replicas=1,
        ready_replicas=1,
        logs=[make.log("db-0", "postgres", line, namespace="data")],
        volumes=[
            DependencyVolume(
                pod="db-0", claim=PVCEvidence(name="data-db-0", namespace="data", phase="Bound")
            )
        ],
    )
    return make.evidence(
        workload=make.deployment("reports"),
        pods=[make.app_pod("reports-6f7d8c9b5-x1y2z", make.container("app"))],
        dependencies=[dep],
    )


def _own_pod_says(line: str) -> Evidence:
    the_pod = make.pod(
        "db-0", make.container("postgres"), namespace="data", pvc_names=["data-db-0"]
    )
    return make.evidence(
        pods=[the_pod],
        logs=[make.log("db-0", "postgres", line, namespace="data")],
    )


@pytest.mark.parametrize("line", SHM_LINES)
def test_a_dependencys_shared_memory_out_of_space_grows_no_claim(line: str) -> None:
    assert SHARED_MEMORY_SPACE.search(line)
    assert check_dependency_volume_full(_dependency_says(line)) == []


def test_near_miss_a_dependencys_data_file_out_of_space_still_grows_its_claim() -> None:
    [finding] = check_dependency_volume_full(_dependency_says(DATA_LINE))
    assert (finding.category, finding.action, finding.target) == (
        Category.STORAGE,
        Action.EXPAND_STORAGE,
        CLAIM,
    )


@pytest.mark.parametrize("line", SHM_LINES)
def test_a_pods_own_shared_memory_out_of_space_is_not_its_claim_full(line: str) -> None:
    assert check_storage(_own_pod_says(line)) == []


def test_near_miss_a_pods_own_data_file_out_of_space_is_its_claim_full() -> None:
    findings = check_storage(_own_pod_says(DATA_LINE))
    assert [(f.category, f.target) for f in findings] == [(Category.STORAGE, CLAIM)]


def test_near_miss_words_about_memory_or_disk_alone_are_not_shared_memory() -> None:
    for line in (DATA_LINE, "write /var/lib/shmoo/data: no space left on device", "out of memory"):
        assert not SHARED_MEMORY_SPACE.search(line)
