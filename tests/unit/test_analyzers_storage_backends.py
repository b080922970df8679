"""Checks the storage-backend rule: the storage system storing a claim of the incident's pods
reports that it takes no writes (Ceph OSD_FULL or POOL_FULL, a faulted Longhorn volume):
storage, escalate through the system's Service. Near misses: a Ceph cluster in HEALTH_WARN
for another reason (a degraded file system), OSDs nearfull or backfillfull (writes still
taken), a Longhorn volume degraded (it serves from its remaining replicas), and a system
reached without a claim or without a Service.

The Ceph manager's ``ceph_health_detail`` series count as the status does (a check raised
at the window's end), in the CephCluster's namespace only; the query reaches them there.

Real: Evidence models from ``tests.support.evidence`` and the whole analyzer registry.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from kubetriage.evidence.queries import build_scope, select_queries
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import MetricSummary, PVCEvidence
from kubetriage.models.relations import (
    DependencyEvidence,
    DependencyRoute,
    DependencyVolume,
    StorageBackendHealth,
)
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, naming
from tests.support.promtool_checks import assert_evaluates

MGR = make.service("rook-ceph-mgr", "rook-ceph", selector={"app": "rook-ceph-mgr"})
LONGHORN = make.service("longhorn-backend", "longhorn-system", selector={"app": "longhorn-manager"})
CLUSTER = ObjectRef(kind="CephCluster", namespace="rook-ceph", name="rook-ceph")
VOLUME = ObjectRef(kind="Volume", namespace="longhorn-system", name="pvc-1")


def _ceph(health: str, **checks: str) -> StorageBackendHealth:
    return StorageBackendHealth(resource=CLUSTER, health=health, checks=checks, used_fraction=0.88)


def _longhorn(robustness: str) -> StorageBackendHealth:
    return StorageBackendHealth(resource=VOLUME, health=robustness, state="attached")


def _evidence(
    health: StorageBackendHealth, *, claim: str | None = "data", service: bool = True
) -> Evidence:
    backend = DependencyEvidence(
        service=(MGR if health.resource.kind == "CephCluster" else LONGHORN) if service else None,
        named_by=naming("volume data stored by rook-ceph"),
        routes=[
            DependencyRoute(
                kind="storage-backend", claim=claim, host=health.resource.name, backend=health
            )
        ],
    )
    return make.checkout_evidence(dependencies=[backend])


def _rule(ev: Evidence) -> list[object]:
    return [f for f in analyze(ev).findings if f.analyzer == "storage-backend"]


def test_a_full_ceph_osd_escalates_to_the_ceph_managers_service() -> None:
    ev = _evidence(_ceph("HEALTH_ERR", OSD_FULL="1 full osd(s)", OSD_NEARFULL="3 nearfull osd(s)"))
    finding = assert_leads(analyze(ev), Category.STORAGE, Action.ESCALATE, MGR.ref())
    assert "OSD_FULL (1 full osd(s))" in finding.evidence[0].fact
    assert "OSD_NEARFULL" not in finding.summary


def test_a_full_pool_escalates_alike() -> None:
    ev = _evidence(_ceph("HEALTH_WARN", POOL_FULL="1 pool(s) full"))
    assert_leads(analyze(ev), Category.STORAGE, Action.ESCALATE, MGR.ref())


def test_a_faulted_longhorn_volume_escalates_to_the_longhorn_manager() -> None:
    assert_leads(
        analyze(_evidence(_longhorn("faulted"))), Category.STORAGE, Action.ESCALATE, LONGHORN.ref()
    )


def test_ceph_warnings_that_still_take_writes_do_not_fire() -> None:
    assert _rule(_evidence(_ceph("HEALTH_WARN", FS_DEGRADED="1 filesystem is degraded"))) == []
    nearfull = _ceph(
        "HEALTH_WARN", OSD_NEARFULL="3 nearfull osd(s)", OSD_BACKFILLFULL="1 backfillfull osd(s)"
    )
    assert _rule(_evidence(nearfull)) == []


def test_a_degraded_longhorn_volume_does_not_fire() -> None:
    assert _rule(_evidence(_longhorn("degraded"))) == []


def test_a_backend_without_claim_or_service_does_not_fire() -> None:
    full = _ceph("HEALTH_ERR", OSD_FULL="1 full osd(s)")
    assert _rule(_evidence(full, claim=None)) == []
    assert _rule(_evidence(full, service=False)) == []


def test_a_callees_claim_is_said_to_be_the_callees() -> None:
    db = make.service("db", "data", selector={"app": "db"})
    callee = DependencyEvidence(
        service=db,
        named_by=naming(f"pod {make.CHECKOUT_POD} env DB_HOST"),
        volumes=[
            DependencyVolume(pod="db-0", claim=PVCEvidence(name="data-db-0", namespace="data"))
        ],
    )
    ev = _evidence(_ceph("HEALTH_ERR", OSD_FULL="1 full osd(s)"), claim="data-db-0")
    ev = ev.model_copy(update={"dependencies": [callee, *ev.dependencies]})
    finding = assert_leads(analyze(ev), Category.STORAGE, Action.ESCALATE, MGR.ref())
    assert "PersistentVolumeClaim data/data-db-0" in finding.summary
    assert "callee Service data/db keeps its data on claim data-db-0" in finding.summary + str(
        finding.narrative
    )


def _checks(code: str, last: float, namespace: str = "rook-ceph") -> MetricSummary:
    return make.metric(
        'max by (namespace, name, severity) (ceph_health_detail{namespace=~"rook-ceph"})',
        name="callee_ceph_health_checks",
        labels={"namespace": namespace, "name": code, "severity": "HEALTH_ERR"},
        first=0.0,
        last=last,
    )


def test_a_full_osd_the_managers_series_raise_before_the_status_shows_it_fires() -> None:
    stale = _ceph("HEALTH_WARN", OSD_NEARFULL="3 nearfull osd(s)")
    ev = _evidence(stale).model_copy(update={"metrics": [_checks("OSD_FULL", 1.0)]})
    finding = assert_leads(analyze(ev), Category.STORAGE, Action.ESCALATE, MGR.ref())
    assert "OSD_FULL (ceph_health_detail)" in finding.evidence[0].fact


def test_series_cleared_or_of_another_cluster_or_check_do_not_fire() -> None:
    stale = _ceph("HEALTH_WARN", OSD_NEARFULL="3 nearfull osd(s)")
    for metric in (
        _checks("OSD_FULL", 0.0),
        _checks("OSD_FULL", 1.0, namespace="other-ceph"),
        _checks("OSD_NEARFULL", 1.0),
    ):
        assert _rule(_evidence(stale).model_copy(update={"metrics": [metric]})) == []


def test_the_ceph_health_query_reaches_the_managers_series_in_a_callees_namespace(
    tmp_path: Path,
) -> None:
    mgr = ObjectRef(kind="Deployment", namespace="rook-ceph", name="rook-ceph-mgr-a")
    scope = build_scope(
        ObjectRef(kind="Deployment", namespace="git", name="gitea"), [], callees=[mgr]
    )
    query = next(
        q.promql
        for q in select_queries(scope, timedelta(hours=1))
        if q.name == "callee_ceph_health_checks"
    )
    series = [
        (
            'ceph_health_detail{namespace="rook-ceph",job="rook-ceph-mgr",name="OSD_FULL",severity="HEALTH_ERR"}',
            "0x10 1x20",
        ),
        (
            'ceph_health_detail{namespace="other",job="rook-ceph-mgr",name="OSD_FULL",severity="HEALTH_ERR"}',
            "1x30",
        ),
    ]
    assert_evaluates(
        tmp_path,
        series,
        query,
        1.0,
        labels='{namespace="rook-ceph",name="OSD_FULL",severity="HEALTH_ERR"}',
    )
