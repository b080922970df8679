"""The cache-tier rule (``kubetriage.analyzers.cache_tier``) and its queries: a called cache
that evicts ever more and answers fewer reads, while its caller is alerted as slow, is too
small for the working set; a cache that evicts steadily, or a caller in no trouble, is not."""

from __future__ import annotations

from datetime import timedelta

from kubetriage.evidence.queries import build_scope, select_queries
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, naming, top

CACHE = ObjectRef(kind="StatefulSet", namespace="shop", name="sessions-cache")
WEB = ObjectRef(kind="Deployment", namespace="shop", name="web")


def _series(name: str, first: float, last: float, pod: str = "sessions-cache-0") -> MetricSummary:
    return make.metric(
        f'{name}{{namespace=~"shop"}}',
        name=name,
        first=first,
        last=last,
        trend="rising" if last > first else "falling" if last < first else "flat",
        labels={"namespace": "shop", "pod": pod},
    )


def _caller(*metrics: MetricSummary, alerted: bool = True) -> Evidence:
    dep = DependencyEvidence(
        service=make.service("sessions-cache", "shop", ready=2, matching=2),
        named_by=naming("pod web env CACHE_ADDRS"),
        workload=CACHE,
        desired_replicas=2,
        ready_replicas=2,
        pods=2,
    )
    alerts = [make.alert(alertname="WebLatencyHigh", namespace="shop")] if alerted else []
    return make.app_evidence(
        "web-6d8f7c9b5-k2x4q", dependencies=[dep], metrics=list(metrics), alerts=alerts
    )


def _full_cache(**options: bool) -> Evidence:
    return _caller(
        _series("callee_cache_evictions_rate", 3.0, 350.0),
        _series("callee_cache_hit_ratio", 0.94, 0.61),
        _series("callee_cache_fill_ratio", 0.99, 0.99),
        **options,
    )


def _fired(ev: Evidence) -> bool:
    return any(f.analyzer == "cache-tier" for f in analyze(ev).findings)


def test_a_full_cache_evicting_more_is_scaled_out() -> None:
    finding = top(_full_cache())
    assert finding.category is Category.RESOURCE_SATURATION
    assert finding.action is Action.SCALE_OUT
    assert finding.target == CACHE
    assert any("hit ratio" in e.fact for e in finding.evidence)


def test_a_cache_that_evicts_as_ever_is_not_blamed() -> None:
    # Near miss: a cache at its limit evicts steadily; its hits hold.
    ev = _caller(
        _series("callee_cache_evictions_rate", 300.0, 320.0),
        _series("callee_cache_hit_ratio", 0.93, 0.92),
    )
    assert not _fired(ev)


def test_evictions_without_lost_hits_are_not_blamed() -> None:
    ev = _caller(
        _series("callee_cache_evictions_rate", 3.0, 350.0),
        _series("callee_cache_hit_ratio", 0.93, 0.9),
    )
    assert not _fired(ev)


def test_a_full_cache_of_a_caller_in_no_trouble_is_not_blamed() -> None:
    assert not _fired(_full_cache(alerted=False))


def test_another_workloads_cache_is_not_read_as_the_callees() -> None:
    ev = _caller(
        _series("callee_cache_evictions_rate", 3.0, 350.0, pod="other-cache-0"),
        _series("callee_cache_hit_ratio", 0.94, 0.61, pod="other-cache-0"),
    )
    assert not _fired(ev)


def test_cache_series_are_queried_for_callee_pods_in_each_exporters_names() -> None:
    scope = build_scope(WEB, [], callees=[CACHE])
    queries = {q.name: q.promql for q in select_queries(scope, timedelta(hours=1))}
    assert "memcached_items_evicted_total" in queries["callee_cache_evictions_rate"]
    assert "redis_evicted_keys_total" in queries["callee_cache_evictions_rate"]
    assert 'status="hit"' in queries["callee_cache_hit_ratio"]
    assert "redis_keyspace_misses_total" in queries["callee_cache_hit_ratio"]
    assert "memcached_limit_bytes" in queries["callee_cache_fill_ratio"]
    assert r'pod=~"sessions-cache-[0-9]+"' in queries["callee_cache_evictions_rate"]
