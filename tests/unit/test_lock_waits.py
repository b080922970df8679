"""The lock-wait rule (``kubetriage.analyzers.lock_waits``) and its query: a followed database
whose own exporter says a queue of sessions formed waiting for a lock is why its caller is
slow, over the caller's rollout the queue merely followed; a database with a few waiters, a
queue there all along, one that drains, another workload's queue, or a caller in no trouble
is not blamed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from kubetriage import prose
from kubetriage.evidence.queries import build_scope, select_queries
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import ChangeEvidence, MetricSummary
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, by_category, naming, top

DATABASE = ObjectRef(kind="StatefulSet", namespace="data", name="orders-db")
DATABASE_SERVICE = ObjectRef(kind="Service", namespace="data", name="orders-db")
ORDERS = ObjectRef(kind="Deployment", namespace="shop", name="orders")
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def _waiters(
    *,
    first: float,
    last: float,
    min_: float | None = None,
    pod: str = "",
    trend: Literal["rising", "falling", "flat"] | None = None,
) -> MetricSummary:
    return make.metric(
        'sum by (namespace, pod) (mysql_info_schema_processlist_threads{namespace=~"data"})',
        name="callee_lock_waiting_sessions",
        first=first,
        last=last,
        min_=min_,
        trend=trend if trend is not None else ("rising" if last > first else "flat"),
        labels={"namespace": "data", "pod": pod or "orders-db-0"},
    )


def _caller(
    waiters: MetricSummary,
    *,
    alerted: bool = True,
    changes: list[ChangeEvidence] | None = None,
) -> Evidence:
    """orders, healthy and alerted for latency, querying through the database's Service."""
    dep = DependencyEvidence(
        service=make.service("orders-db", "data", ready=1, matching=1),
        ref=DATABASE_SERVICE,
        named_by=naming("pod orders env DB_HOST"),
        workload=DATABASE,
        desired_replicas=1,
        ready_replicas=1,
        pods=1,
    )
    alerts = [make.alert(alertname="OrdersLatencyP99High", namespace="shop")] if alerted else []
    return make.app_evidence(
        "orders-6d8f7c9b5-k2x4q",
        dependencies=[dep],
        metrics=[waiters],
        alerts=alerts,
        changes=changes or [],
    )


def test_a_queue_of_lock_waiters_in_the_database_is_why_its_caller_is_slow() -> None:
    finding = top(_caller(_waiters(first=0.0, last=190.0)))
    assert finding.analyzer == "lock-waits"
    assert finding.category is Category.DEPENDENCY_FAILURE
    assert finding.action is Action.ESCALATE
    assert finding.target == DATABASE_SERVICE
    assert any("wait for a lock" in e.fact for e in finding.evidence)
    assert prose.ELLIPSIS not in finding.summary, "the summary is never cut"


def test_the_queue_outweighs_a_rollout_of_the_caller_it_followed() -> None:
    rollout = ChangeEvidence(
        at=NOW - timedelta(minutes=40),
        kind="rollout",
        object=ORDERS,
        aspects=["image"],
        details=["revision 7 -> 8"],
    )
    result = analyze(_caller(_waiters(first=0.0, last=190.0), changes=[rollout]))
    assert any(f.analyzer == "change-correlation" for f in result.findings)
    (first, *_) = sorted(result.findings, key=lambda f: -f.confidence)
    assert first.analyzer == "lock-waits"
    assert all(f.confidence < first.confidence for f in result.findings if f is not first)


def test_a_few_sessions_waiting_for_rows_are_not_a_queue() -> None:
    # Near miss: everyday contention on a busy database.
    ev = _caller(_waiters(first=1.0, last=6.0))
    assert not [f for f in analyze(ev).findings if f.analyzer == "lock-waits"]


def test_waiters_there_all_window_long_or_draining_are_not_blamed() -> None:
    for waiters in (
        _waiters(first=60.0, last=60.0, min_=55.0),  # nothing formed within the window
        _waiters(first=0.0, last=40.0, min_=0.0, trend="falling"),  # the holder let go
    ):
        ev = _caller(waiters)
        assert not [f for f in analyze(ev).findings if f.analyzer == "lock-waits"]


def test_another_workloads_waiters_are_not_read_as_the_callees() -> None:
    ev = _caller(_waiters(first=0.0, last=190.0, pod="billing-db-0"))
    assert not [f for f in analyze(ev).findings if f.analyzer == "lock-waits"]


def test_a_queue_behind_a_caller_in_no_trouble_is_not_blamed() -> None:
    ev = _caller(_waiters(first=0.0, last=190.0), alerted=False)
    assert not by_category(analyze(ev), Category.DEPENDENCY_FAILURE)


def test_lock_waiters_are_queried_for_callee_pods_in_the_processlist_states() -> None:
    database = ObjectRef(kind="StatefulSet", namespace="data", name="orders-db")
    scope = build_scope(ORDERS, [], callees=[database])
    query = next(
        q
        for q in select_queries(scope, timedelta(hours=1))
        if q.name == "callee_lock_waiting_sessions"
    )
    assert "mysql_info_schema_processlist_threads" in query.promql
    assert 'state=~"(?i)waiting for .*lock.*"' in query.promql
    assert r'pod=~"orders-db-[0-9]+"' in query.promql
