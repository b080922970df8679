"""A claim out of inodes while its bytes are free is full all the same: writes fail with
ENOSPC. The storage rule reads the kubelet's inode stats beside its byte stats (raw series
as scraped, or the "inodes used / inodes" template as it answers); a claim whose inodes
are far from used up, or a bytes alert measured stale by its bytes, keeps the old answer.

Real: Evidence models from ``tests.support.evidence`` and ``run_analyzers``.
"""

from __future__ import annotations

from kubetriage.analyzers.storage import check_storage
from kubetriage.analyzers.volume_fills import fullest_claim, volume_fills
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import MetricSummary, PVCEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import CHECKOUT_POD

CLAIM = ObjectRef(kind="PersistentVolumeClaim", namespace="shop", name="cache")
_SELECTOR = 'namespace="shop",persistentvolumeclaim="cache"'
_LABELS = {"namespace": "shop", "persistentvolumeclaim": "cache"}


def _series(name: str, last: float) -> MetricSummary:
    return make.metric(f"{name}{{{_SELECTOR}}}", last=last, labels=dict(_LABELS))


def _claim_evidence(*metrics: MetricSummary) -> Evidence:
    return make.evidence(
        workload=make.deployment(),
        pods=[make.pod(CHECKOUT_POD, make.container("app"), pvc_names=["cache", "logs"])],
        pvcs=[PVCEvidence(name="cache", namespace="shop", phase="Bound", capacity="500Gi")],
        metrics=list(metrics),
    )


def _bytes_half_used() -> list[MetricSummary]:
    return [
        _series("kubelet_volume_stats_used_bytes", 250e9),
        _series("kubelet_volume_stats_capacity_bytes", 500e9),
    ]


def test_raw_inode_series_measure_a_claim_out_of_inodes_with_half_its_bytes_free() -> None:
    ev = _claim_evidence(
        *_bytes_half_used(),
        _series("kubelet_volume_stats_inodes_used", 32_768_000),
        _series("kubelet_volume_stats_inodes", 32_768_000),
    )
    fills = {(f.claim, f.inodes): round(f.share, 2) for f in volume_fills(ev, "shop")}
    assert fills == {("cache", False): 0.5, ("cache", True): 1.0}
    [finding] = check_storage(ev)
    assert (finding.category, finding.action, finding.target) == (
        Category.STORAGE,
        Action.EXPAND_STORAGE,
        CLAIM,
    )
    assert "of inodes" in finding.summary


def test_free_inodes_over_the_filesystems_inodes_count_as_well() -> None:
    ev = _claim_evidence(
        _series("kubelet_volume_stats_inodes_free", 0),
        _series("kubelet_volume_stats_inodes", 32_768_000),
    )
    assert [(f.claim, f.share, f.inodes) for f in volume_fills(ev, "shop")] == [
        ("cache", 1.0, True)
    ]


def test_the_inode_ratio_template_answers_a_share() -> None:
    query = (
        "max by (namespace, persistentvolumeclaim) (kubelet_volume_stats_inodes_used{"
        f"{_SELECTOR}}}) / max by (namespace, persistentvolumeclaim) "
        f"(kubelet_volume_stats_inodes{{{_SELECTOR}}})"
    )
    ratio = make.metric(query, last=0.99, labels=dict(_LABELS), name="volume_inodes_used_ratio")
    ev = _claim_evidence(ratio)
    assert [(f.claim, f.share, f.inodes) for f in volume_fills(ev, "shop")] == [
        ("cache", 0.99, True)
    ]
    assert fullest_claim(ev, "shop", ["logs", "cache"]) == "cache"


def test_near_miss_inodes_far_from_used_up_raise_nothing() -> None:
    ev = _claim_evidence(
        *_bytes_half_used(),
        _series("kubelet_volume_stats_inodes_used", 3_000_000),
        _series("kubelet_volume_stats_inodes", 32_768_000),
    )
    assert check_storage(ev) == []
    assert fullest_claim(ev, "shop", ["logs", "cache"]) == "logs"


def test_near_miss_a_bytes_alert_measured_roomy_stays_stale_despite_full_inodes() -> None:
    """KubePersistentVolumeFillingUp is about bytes: bytes measured at half say it no longer
    holds, whatever the inodes say (their own measurement speaks for them)."""
    ev = _claim_evidence(*_bytes_half_used())
    ev = ev.model_copy(
        update={
            "alerts": [
                make.alert(
                    alertname="KubePersistentVolumeFillingUp",
                    namespace="shop",
                    persistentvolumeclaim="cache",
                )
            ]
        }
    )
    assert check_storage(ev) == []
