"""The callee-pools rule (``kubetriage.analyzers.callee_pools``) and its query: a called
workload at fixed replicas whose pods have no worker or pooled connection free while their
CPU rose, and whose caller is alerted, is short of replicas; a pool that filled with the CPU
flat (calls held longer, not more work), a callee with an autoscaler, one that just rolled
out, or a caller in no trouble, is not this rule's."""

from __future__ import annotations

from datetime import timedelta

from kubetriage.evidence.queries import build_scope, select_queries
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import AutoscalerEvidence, ChangeEvidence, MetricSummary
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import autoscalers
from tests.support import evidence as make
from tests.support.evidence import analyze, naming, top

PRICES = ObjectRef(kind="Deployment", namespace="pricing", name="prices")
WEB = ObjectRef(kind="Deployment", namespace="shop", name="web")


def _series(name: str, first: float, last: float, pod: str = "prices-7c9d5-x2k4q") -> MetricSummary:
    return make.metric(
        f'{name}{{namespace=~"pricing"}}',
        name=name,
        first=first,
        last=last,
        trend="rising" if last > first else "falling" if last < first else "flat",
        labels={"namespace": "pricing", "pod": pod},
    )


def _caller(
    *metrics: MetricSummary,
    alerted: bool = True,
    autoscalers: list[AutoscalerEvidence] | None = None,
    changes: list[ChangeEvidence] | None = None,
) -> Evidence:
    dep = DependencyEvidence(
        service=make.service("prices", "pricing", ready=3, matching=3),
        named_by=naming("pod web env PRICES_URL"),
        workload=PRICES,
        desired_replicas=3,
        ready_replicas=3,
        pods=3,
        autoscalers=autoscalers or [],
        changes=changes or [],
    )
    alerts = [make.alert(alertname="WebLatencyHigh", namespace="shop")] if alerted else []
    return make.app_evidence(
        "web-6d8f7c9b5-k2x4q", dependencies=[dep], metrics=list(metrics), alerts=alerts
    )


def _full_and_busier(
    *,
    alerted: bool = True,
    autoscalers: list[AutoscalerEvidence] | None = None,
    changes: list[ChangeEvidence] | None = None,
) -> Evidence:
    return _caller(
        _series("callee_pool_free_slots", 8.0, 0.0),
        _series("callee_cpu_usage_cores", 0.4, 1.9),
        alerted=alerted,
        autoscalers=autoscalers,
        changes=changes,
    )


def _fired(ev: Evidence) -> bool:
    return any(f.analyzer == "callee-pools" for f in analyze(ev).findings)


def test_a_fixed_callee_with_full_pools_and_more_work_is_scaled_out() -> None:
    finding = top(_full_and_busier())
    assert finding.category is Category.RESOURCE_SATURATION
    assert finding.action is Action.SCALE_OUT
    assert finding.target == PRICES
    assert int(finding.params["replicas"]) > 3


def test_a_pool_full_with_flat_cpu_is_not_read_as_demand() -> None:
    # Near miss: each call holds its slot longer (a slow store behind it), the work did not
    # grow; more replicas would only open more connections to the slow store.
    ev = _caller(
        _series("callee_pool_free_slots", 8.0, 0.0),
        _series("callee_cpu_usage_cores", 0.4, 0.42),
    )
    assert not _fired(ev)


def test_a_pool_that_was_never_free_in_the_window_is_not_a_new_fill() -> None:
    ev = _caller(
        _series("callee_pool_free_slots", 0.0, 0.0),
        _series("callee_cpu_usage_cores", 0.4, 1.9),
    )
    assert not _fired(ev)


def test_a_callee_with_an_autoscaler_is_left_to_the_autoscaler_rules() -> None:
    hpa = autoscalers.hpa(PRICES, minimum=None)
    assert not _fired(_full_and_busier(autoscalers=[hpa]))


def test_a_callee_that_just_rolled_out_is_not_read_as_short_of_replicas() -> None:
    rolled = make.rollout_change(PRICES, 7, "image", minutes_ago=40)
    assert not _fired(_full_and_busier(changes=[rolled]))


def test_a_full_callee_of_a_caller_in_no_trouble_is_not_blamed() -> None:
    assert not _fired(_full_and_busier(alerted=False))


def test_another_workloads_pool_is_not_read_as_the_callees() -> None:
    ev = _caller(
        _series("callee_pool_free_slots", 8.0, 0.0, pod="pricing-batch-5f6d7-q9w2e"),
        _series("callee_cpu_usage_cores", 0.4, 1.9),
    )
    assert not _fired(ev)


def test_free_slots_are_queried_for_callee_pods_in_each_exporters_names() -> None:
    scope = build_scope(WEB, [], callees=[PRICES])
    queries = {q.name: q.promql for q in select_queries(scope, timedelta(hours=1))}
    promql = queries["callee_pool_free_slots"]
    assert "puma_pool_capacity" in promql
    assert "pgxpool_max_conns" in promql
    assert "pgxpool_acquired_conns" in promql
    assert "hikaricp_connections_max" in promql
    assert "tomcat_threads_busy_threads" in promql
    assert 'namespace=~"pricing"' in promql
