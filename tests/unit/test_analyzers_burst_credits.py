"""Checks the burst-credit rule: a mounted claim whose cloud volume's I/O burst balance
(``claims_burst_balance``) fell to zero in the window is expanded, above the failing calls
to the database that keeps its data on it; and the near misses: a balance that is low but
was never drawn down in the window, one that is drawn down but not empty, two claims empty
at once.

Real: Evidence models from ``tests.support.evidence`` and the whole analyzer registry.
"""

from __future__ import annotations

from kubetriage.analyzers.burst_credits import CONFIDENCE, SERIES
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import MetricSummary, PVCEvidence
from kubetriage.models.relations import DependencyEvidence, DependencyVolume
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, naming

OWN = ObjectRef(kind="Deployment", namespace="shop", name="orders")
DB = ObjectRef(kind="Service", namespace="data", name="pg")
CLAIM = ObjectRef(kind="PersistentVolumeClaim", namespace="data", name="data-pg-0")
SLOW = '{"ts":"2026-11-20T09:58:31Z","error":"insert: timeout: context deadline exceeded"}'


def _balance(claim: str, *, first: float, last: float) -> MetricSummary:
    return make.metric(
        "min by (namespace, persistentvolumeclaim) (aws_ebs_burst_balance_average ...)",
        name=SERIES,
        labels={"namespace": "data", "persistentvolumeclaim": claim},
        first=first,
        last=last,
        trend="falling",
    )


def _evidence(*metrics: MetricSummary) -> Evidence:
    dependency = DependencyEvidence(
        service=make.service("pg", "data", ready=1, matching=1),
        ref=DB,
        workload=ObjectRef(kind="StatefulSet", namespace="data", name="pg"),
        named_by=naming("Deployment orders env DATABASE_HOST"),
        desired_replicas=1,
        ready_replicas=1,
        pods=1,
        volumes=[
            DependencyVolume(
                pod="pg-0", claim=PVCEvidence(name="data-pg-0", namespace="data", capacity="100Gi")
            )
        ],
    )
    return make.evidence(
        target=OWN,
        alerts=[make.alert(alertname="OrdersLatencyHigh", namespace="shop")],
        logs=[make.log("orders-7f6d-k2v8n", "orders", SLOW)],
        dependencies=[dependency],
        metrics=list(metrics),
    )


def test_a_claim_whose_volume_ran_out_of_burst_credits_is_expanded() -> None:
    finding = assert_leads(
        analyze(_evidence(_balance("data-pg-0", first=30, last=0))),
        Category.STORAGE,
        Action.EXPAND_STORAGE,
        CLAIM,
    )
    assert finding.confidence == CONFIDENCE.exhausted
    assert any("30% to 0%" in e.fact for e in finding.evidence)
    assert any(e.source == "pod/data/pg-0" for e in finding.evidence)
    assert "None" not in finding.summary


def _burst(evidence: Evidence) -> list[object]:
    return [f for f in analyze(evidence).findings if f.analyzer == "burst-credits"]


def test_silent_when_the_balance_was_never_drawn_down_in_the_window() -> None:
    assert not _burst(_evidence(_balance("data-pg-0", first=0.5, last=0)))


def test_silent_when_credits_are_left() -> None:
    assert not _burst(_evidence(_balance("data-pg-0", first=90, last=40)))


def test_silent_when_two_claims_ran_out() -> None:
    both = (_balance("data-pg-0", first=30, last=0), _balance("wal-pg-0", first=30, last=0))
    assert not _burst(_evidence(*both))
