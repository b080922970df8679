"""The replica-lag rule (``kubetriage.analyzers.replica_lag``) and its query: a followed
callee whose exporter says it fell behind its primary is why its caller fails; one always
behind, catching up, or a caller not in trouble is not."""

from __future__ import annotations

from datetime import timedelta

from kubetriage.evidence.queries import build_scope, select_queries
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, by_category, naming, top

REPLICA = ObjectRef(kind="StatefulSet", namespace="data", name="orders-db-replica")
REPLICA_SERVICE = ObjectRef(kind="Service", namespace="data", name="orders-db-ro")
ORDERS = ObjectRef(kind="Deployment", namespace="shop", name="orders")


def _lag(*, first: float, last: float, min_: float | None = None, pod: str = "") -> MetricSummary:
    return make.metric(
        'max by (namespace, pod) (pg_replication_lag_seconds{namespace=~"data"})',
        name="callee_replication_lag_seconds",
        first=first,
        last=last,
        min_=min_,
        trend="rising" if last > first else "flat",
        labels={"namespace": "data", "pod": pod or "orders-db-replica-0"},
    )


def _reader(lag: MetricSummary, *, alerted: bool = True) -> Evidence:
    """orders, healthy and alerted for errors, reading through the replica's Service."""
    dep = DependencyEvidence(
        service=make.service("orders-db-ro", "data", ready=1, matching=1),
        ref=REPLICA_SERVICE,
        named_by=naming("pod orders env DB_READ_URL"),
        workload=REPLICA,
        desired_replicas=1,
        ready_replicas=1,
        pods=1,
    )
    alerts = [make.alert(alertname="OrdersErrorRatioHigh", namespace="shop")] if alerted else []
    return make.app_evidence(
        "orders-6d8f7c9b5-k2x4q", dependencies=[dep], metrics=[lag], alerts=alerts
    )


def test_a_replica_that_fell_behind_is_why_its_reader_fails() -> None:
    finding = top(_reader(_lag(first=0.2, last=1500.0)))
    assert finding.category is Category.DEPENDENCY_FAILURE
    assert finding.action is Action.ESCALATE
    assert finding.target == REPLICA_SERVICE
    assert any("replication lag" in e.fact for e in finding.evidence)


def test_a_replica_delayed_all_window_long_is_not_blamed() -> None:
    # Near miss: a delayed standby lags the same all along; nothing changed on it.
    ev = _reader(_lag(first=3600.0, last=3600.0))
    assert not [f for f in analyze(ev).findings if f.analyzer == "replica-lag"]


def test_a_replica_a_few_seconds_behind_is_not_blamed() -> None:
    ev = _reader(_lag(first=0.1, last=4.0))
    assert not [f for f in analyze(ev).findings if f.analyzer == "replica-lag"]


def test_a_lagging_replica_of_a_caller_in_no_trouble_is_not_blamed() -> None:
    ev = _reader(_lag(first=0.2, last=1500.0), alerted=False)
    assert not by_category(analyze(ev), Category.DEPENDENCY_FAILURE)


def test_another_workloads_lag_is_not_read_as_the_callees() -> None:
    ev = _reader(_lag(first=0.2, last=1500.0, pod="billing-db-replica-0"))
    assert not [f for f in analyze(ev).findings if f.analyzer == "replica-lag"]


def test_replication_lag_is_queried_for_callee_pods_in_each_exporters_names() -> None:
    scope = build_scope(ORDERS, [], callees=[REPLICA])
    query = next(
        q
        for q in select_queries(scope, timedelta(hours=1))
        if q.name == "callee_replication_lag_seconds"
    )
    for name in (
        "pg_replication_lag_seconds",
        "pg_replication_lag{",
        "mysql_slave_status_seconds_behind_master",
        "redis_master_last_io_seconds_ago",
    ):
        assert name in query.promql
    assert r'pod=~"orders-db-replica-[0-9]+"' in query.promql
