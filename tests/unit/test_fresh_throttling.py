"""Checks the throttled neighbour: a slow workload that serves and is not throttled itself,
with exactly one container of another workload of its namespace whose throttled share of CFS
periods stepped from below the throttled share to above it in the hour before the alert
fired, is explained by that workload's CPU limit (raise it on the Deployment its pod name
names). Near misses say nothing: a neighbour throttled at the same level all window, one
whose step came after the alert fired or long before the trouble, two neighbours that
stepped, an alerted workload that is throttled itself (its own rule's) or failing, a pod name
that is not a Deployment's. Also the helper that names a Deployment from its pod's name.

Real: the Evidence factories, ``run_analyzers``; the series summaries are synthetic.
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.cfs import NEIGHBOUR_THROTTLED
from kubetriage.analyzers.fresh_throttling import CONFIDENCE, NAME
from kubetriage.analyzers.support import pod_name_workload
from kubetriage.models.base import ObjectRef
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import ago, analyze

NS = "hotel"
FRONTEND = ObjectRef(kind="Deployment", namespace=NS, name="frontend")
GEO = ObjectRef(kind="Deployment", namespace=NS, name="geo")
_QUERY = "sum by (pod, container) (rate(container_cpu_cfs_throttled_periods_total[5m]))"


def _throttled(
    pod: str, before: float, after: float, stepped_ago: float | None = 30
) -> MetricSummary:
    return make.metric(
        _QUERY,
        name=NEIGHBOUR_THROTTLED,
        labels={"pod": pod, "container": "main"},
        first=before,
        last=after,
        trend="rising" if after > before else "flat",
        changed_minutes_ago=stepped_ago,
    ).model_copy(update={"before": before, "after": after})


GEO_STEP = _throttled("geo-58c4b7d9f6-x58c4", 0.05, 0.62)


def _frontend(*metrics: MetricSummary, alert_ago: float = 22, **fields: Any) -> Any:
    fields.setdefault("pods", [make.app_pod("frontend-7c5d9f8b47-x7c5d", namespace=NS)])
    alert = make.alert(alertname="FrontendLatencySLOBurn", namespace=NS)
    return make.evidence(
        target=FRONTEND,
        workload=make.deployment("frontend", NS, replicas=1),
        alerts=[alert.model_copy(update={"starts_at": ago(alert_ago)})],
        metrics=list(metrics),
        **fields,
    )


def test_a_pod_name_names_its_deployment() -> None:
    assert pod_name_workload(NS, "geo-58c4b7d9f6-x58c4") == GEO
    assert pod_name_workload(NS, "mongodb-geo-7f5c8d9b64-m4r8t") == ObjectRef(
        kind="Deployment", namespace=NS, name="mongodb-geo"
    )
    assert pod_name_workload(NS, "web-0") is None  # a StatefulSet's
    assert pod_name_workload(NS, "agent-x7k2p") is None  # no ReplicaSet hash


def test_the_one_neighbour_whose_throttling_stepped_up_before_the_alert_is_the_cause() -> None:
    first = analyze(_frontend(GEO_STEP)).findings[0]
    assert first.analyzer == NAME
    assert (first.category, first.action, first.target.key()) == (
        Category.CPU_THROTTLING,
        Action.INCREASE_CPU,
        GEO.key(),
    )
    assert first.confidence == CONFIDENCE.stepped
    assert first.params == {"container": "main"}


def test_a_neighbour_throttled_at_the_same_level_all_window_is_its_steady_state() -> None:
    steady = _throttled("geo-58c4b7d9f6-x58c4", 0.6, 0.62, stepped_ago=None)
    assert all(f.analyzer != NAME for f in analyze(_frontend(steady)).findings)
    high_before = _throttled("geo-58c4b7d9f6-x58c4", 0.4, 0.7)
    assert all(f.analyzer != NAME for f in analyze(_frontend(high_before)).findings)


def test_a_step_after_the_alert_fired_or_long_before_the_trouble_is_not_its_cause() -> None:
    later = _throttled("geo-58c4b7d9f6-x58c4", 0.05, 0.62, stepped_ago=10)
    assert all(f.analyzer != NAME for f in analyze(_frontend(later)).findings)
    long_before = _throttled("geo-58c4b7d9f6-x58c4", 0.05, 0.62, stepped_ago=200)
    assert all(f.analyzer != NAME for f in analyze(_frontend(long_before)).findings)


def test_two_neighbours_that_stepped_are_not_one_explanation() -> None:
    other = _throttled("search-6f8d7c9b55-x6f8d", 0.02, 0.5)
    assert all(f.analyzer != NAME for f in analyze(_frontend(GEO_STEP, other)).findings)
    # Two pods of one workload are one neighbour.
    twin = _throttled("geo-58c4b7d9f6-k2p9q", 0.05, 0.55)
    assert analyze(_frontend(GEO_STEP, twin)).findings[0].target.key() == GEO.key()


def test_the_alerted_workloads_own_pods_and_a_pod_of_no_deployment_are_not_neighbours() -> None:
    own = _throttled("frontend-7c5d9f8b47-x7c5d", 0.05, 0.62)
    assert all(f.analyzer != NAME for f in analyze(_frontend(own)).findings)
    stateful = _throttled("geo-0", 0.05, 0.62)
    assert all(f.analyzer != NAME for f in analyze(_frontend(stateful)).findings)


def test_a_failing_alerted_workload_is_not_explained_by_a_neighbour() -> None:
    crashing = make.pod(
        "frontend-7c5d9f8b47-x7c5d",
        make.crash_looping("app"),
        namespace=NS,
        replica_set="frontend-7c5d9f8b47",
    )
    ev = _frontend(GEO_STEP, pods=[crashing])
    assert all(f.analyzer != NAME for f in analyze(ev).findings)


def test_an_alerted_workload_throttled_itself_is_its_own_rules() -> None:
    own = make.metric(
        'sum(rate(container_cpu_cfs_throttled_periods_total{container="app"}[5m])) / '
        'sum(rate(container_cpu_cfs_periods_total{container="app"}[5m]))',
        name="cpu_throttled_ratio",
        labels={"container": "app"},
        last=0.6,
    )
    assert all(f.analyzer != NAME for f in analyze(_frontend(GEO_STEP, own)).findings)
