"""The store-strain rule (``kubetriage.analyzers.store_strain``) and its query: a followed store
whose own exporter shows it falling behind (parts, read-only replicas, under-replicated
partitions, pending tasks) from before the caller's first failing sign, still holding, is the
fault, over the caller's rollout that came after the climb began. A climb that began after
the caller failed, or after a change of the caller, a flat or recovered series, another
store's series, or a caller in no trouble is not blamed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from kubetriage import prose
from kubetriage.evidence.queries import build_scope, select_queries
from kubetriage.evidence.series import summarize_series
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import ChangeEvidence, MetricSummary
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, by_category, naming, top
from tests.support.promtool_checks import assert_promtool

STORE = ObjectRef(kind="StatefulSet", namespace="analytics", name="chi-events-main-0-0")
STORE_SERVICE = ObjectRef(kind="Service", namespace="analytics", name="clickhouse-events")
INGESTER = ObjectRef(kind="Deployment", namespace="analytics", name="ingester")
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
ERROR_LINE = (
    '{"level": "error", "msg": "insert failed, batch sent to dead-letter topic", '
    '"error": "Code: 252. DB::Exception: Too many parts"}'
)


def _strain(
    *,
    first: float = 140.0,
    last: float = 2900.0,
    max_: float | None = None,
    climbed_minutes_ago: float | None = 35.0,
    pod: str = "chi-events-main-0-0-0",
    signal: str = "parts_per_partition",
    trend: Literal["rising", "falling", "flat"] | None = None,
) -> MetricSummary:
    summary = make.metric(
        "label_replace(max by (namespace, pod) (ClickHouseAsyncMetrics_MaxPartCountForPartition"
        '{namespace=~"analytics"}), "signal", "parts_per_partition", "", "")',
        name="callee_store_strain",
        first=first,
        last=last,
        max_=max_,
        trend=trend if trend is not None else ("rising" if last > first else "flat"),
        labels={"namespace": "analytics", "pod": pod, "signal": signal},
    )
    climbed = None if climbed_minutes_ago is None else NOW - timedelta(minutes=climbed_minutes_ago)
    return summary.model_copy(update={"climbed_at": climbed})


def _rollout(minutes_ago: float) -> ChangeEvidence:
    return ChangeEvidence(
        at=NOW - timedelta(minutes=minutes_ago),
        kind="rollout",
        object=INGESTER,
        aspects=["image"],
        details=["revision 21 -> 22"],
    )


def _caller(
    strain: MetricSummary,
    *,
    alerted: bool = True,
    logs: str | None = ERROR_LINE,
    changes: list[ChangeEvidence] | None = None,
    extra: list[MetricSummary] | None = None,
) -> Evidence:
    """ingester, its pods up, alerted for failing inserts (firing 6 minutes ago), writing
    through the store's Service, which its env names."""
    dep = DependencyEvidence(
        service=make.service("clickhouse-events", "analytics", ready=1, matching=1),
        ref=STORE_SERVICE,
        named_by=naming("pod ingester env CLICKHOUSE_HOST"),
        workload=STORE,
        desired_replicas=1,
        ready_replicas=1,
        pods=1,
    )
    alerts = (
        [make.alert(alertname="IngesterInsertFailures", namespace="analytics")] if alerted else []
    )
    return make.app_evidence(
        "ingester-6d8f7c9b5-k2x4q",
        namespace="analytics",
        logs=logs,
        dependencies=[dep],
        metrics=[strain, *(extra or [])],
        alerts=alerts,
        changes=changes or [],
    )


def _strain_findings(ev: Evidence) -> list[object]:
    return [f for f in analyze(ev).findings if f.analyzer == "store-strain"]


def test_a_store_that_fell_behind_before_its_caller_failed_is_the_fault() -> None:
    finding = top(_caller(_strain()))
    assert finding.analyzer == "store-strain"
    assert finding.category is Category.DEPENDENCY_FAILURE
    assert finding.action is Action.ESCALATE
    assert finding.target == STORE_SERVICE
    assert any(
        "parts in the busiest partition of chi-events-main-0-0-0 climbed from 140 to 2900 "
        "since 09:25" in e.fact
        for e in finding.evidence
    )
    assert prose.ELLIPSIS not in finding.summary, "the summary is never cut"


def test_the_climb_outweighs_a_rollout_of_the_caller_that_came_after_it_began() -> None:
    # The store climbed from 35 minutes ago, the caller rolled out 20 minutes ago and
    # failed 6 minutes ago: the failures follow the rollout, but the store's trouble came
    # first.
    result = analyze(_caller(_strain(), changes=[_rollout(20)]))
    assert any(f.analyzer == "change-correlation" for f in result.findings)
    (first, *_) = sorted(result.findings, key=lambda f: -f.confidence)
    assert first.analyzer == "store-strain"
    assert all(f.confidence < first.confidence for f in result.findings if f is not first)


def test_a_climb_that_began_after_the_callers_failures_is_not_blamed() -> None:
    # Near miss: the caller failed 6 minutes ago, the store climbed from 3 minutes ago (its
    # retries may be what piles up).
    assert not _strain_findings(_caller(_strain(climbed_minutes_ago=3.0)))


def test_a_climb_that_followed_a_change_of_the_caller_is_left_to_the_change() -> None:
    # Near miss: the caller rolled out 50 minutes ago, the store climbed 35 minutes ago (the
    # release may write what the store cannot keep up with).
    assert not _strain_findings(_caller(_strain(), changes=[_rollout(50)]))


def test_a_climb_under_a_rise_of_the_callers_own_load_is_not_blamed_on_the_store() -> None:
    # Near miss: the caller's requests tripled; the store may fall behind on that load.
    rate = make.metric(
        'sum(rate(http_requests_total{namespace="analytics"}[5m]))',
        name="http_request_rate",
        first=100.0,
        last=300.0,
    )
    assert not _strain_findings(_caller(_strain(), extra=[rate]))
    steady = rate.model_copy(update={"last": 105.0})
    assert _strain_findings(_caller(_strain(), extra=[steady]))


def test_a_flat_or_recovered_series_is_not_a_store_falling_behind() -> None:
    for strain in (
        _strain(first=150.0, last=158.0, climbed_minutes_ago=None),  # its everyday sawtooth
        _strain(first=140.0, last=200.0),  # a wobble, not a climb
        # Climbed and came back down: the store caught up.
        _strain(first=140.0, last=300.0, max_=2900.0, trend="falling"),
    ):
        assert not _strain_findings(_caller(strain))


def test_another_stores_series_is_not_read_as_the_callees() -> None:
    assert not _strain_findings(_caller(_strain(pod="chi-billing-main-0-0-0")))


def test_a_store_behind_a_caller_in_no_trouble_is_not_blamed() -> None:
    ev = _caller(_strain(), alerted=False, logs="level=info msg=batch inserted")
    assert not by_category(analyze(ev), Category.DEPENDENCY_FAILURE)


def test_the_stores_strain_is_queried_for_callee_pods_with_what_each_series_counts() -> None:
    scope = build_scope(INGESTER, [], callees=[STORE])
    query = next(
        q for q in select_queries(scope, timedelta(hours=1)) if q.name == "callee_store_strain"
    )
    assert r'pod=~"chi-events-main-0-0-[0-9]+"' in query.promql
    for name, signal in (
        ("ClickHouseAsyncMetrics_MaxPartCountForPartition", "parts_per_partition"),
        ("ClickHouseMetrics_ReadonlyReplica", "readonly_replicas"),
        ("kafka_server_replicamanager_underreplicatedpartitions", "under_replicated_partitions"),
        ("elasticsearch_cluster_health_number_of_pending_tasks", "pending_cluster_tasks"),
    ):
        assert name in query.promql
        assert f'"signal", "{signal}"' in query.promql
    # No callee, no query.
    assert "callee_store_strain" not in {
        q.name for q in select_queries(build_scope(INGESTER, []), timedelta(hours=1))
    }


def test_the_strain_query_reaches_each_store_pods_series_and_no_other(tmp_path: Path) -> None:
    # Real promtool: the rendered query over a ClickHouse pod's and a Kafka broker's series,
    # another namespace's store and a pod of another workload with the same metric.
    broker = ObjectRef(kind="StatefulSet", namespace="analytics", name="kafka")
    scope = build_scope(INGESTER, [], callees=[STORE, broker])
    query = next(
        q.promql
        for q in select_queries(scope, timedelta(hours=1))
        if q.name == "callee_store_strain"
    )
    parts = "ClickHouseAsyncMetrics_MaxPartCountForPartition"
    series = [
        (f'{parts}{{namespace="analytics",pod="chi-events-main-0-0-0",instance="a"}}', "140+50x30"),
        (f'{parts}{{namespace="other",pod="chi-events-main-0-0-0",instance="b"}}', "9000x30"),
        (f'{parts}{{namespace="analytics",pod="chi-billing-main-0-0-0",instance="c"}}', "9000x30"),
        (
            'kafka_server_replicamanager_underreplicatedpartitions{namespace="analytics",'
            'pod="kafka-1",instance="d"}',
            "0x10 12x20",
        ),
    ]
    ch = '{namespace="analytics",pod="chi-events-main-0-0-0",signal="parts_per_partition"}'
    kafka = '{namespace="analytics",pod="kafka-1",signal="under_replicated_partitions"}'
    assert_promtool(
        tmp_path,
        series,
        [
            {
                "expr": query,
                "eval_time": "20m",
                "exp_samples": [
                    {"labels": ch, "value": 1140.0},
                    {"labels": kafka, "value": 12.0},
                ],
            }
        ],
    )


def test_a_slow_climb_is_dated_from_where_it_began_not_its_half_way_mark() -> None:
    # Parts at their usual sawtooth for 22 minutes, then a steady climb for 38.
    values = [140.0 + 6 * (i % 4) for i in range(22)] + [160.0 + 76 * i for i in range(39)]
    start = NOW - timedelta(minutes=len(values) - 1)
    points = [(start + timedelta(minutes=i), v) for i, v in enumerate(values)]
    summary = summarize_series("callee_store_strain", "parts", {}, points)
    assert summary.climbed_at is not None
    assert summary.rose_at is not None
    assert summary.climbed_at < summary.rose_at
    assert NOW - summary.climbed_at == timedelta(minutes=34)
    # A series flat all along began no climb.
    flat = summarize_series("callee_store_strain", "parts", {}, [(t, 150.0) for t, _ in points])
    assert flat.climbed_at is None
