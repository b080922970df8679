"""Checks the slow-callee rule: when the workload's own client metrics show its calls to one
Service of the evidence became many times slower (to well past half a second) while its pods
stay ready, that Service's owner gets the incident (dependency-failure, escalate to the
Service), not the caller (more replicas would only open more connections to it); and the
query that asks for those client metrics, by the server called, is run for a workload's
pods. Near misses: a modest slowdown, a call that stays fast in absolute terms, a server no
Service answers to, a caller whose own pods fail.

Real: Evidence models from ``tests.support.evidence``, ``run_analyzers`` and the query
catalogue (``select_queries``); names and numbers are synthetic.
"""

from __future__ import annotations

from datetime import timedelta

from kubetriage.analyzers.slow_callee import CONFIDENCE, NAME, TEMPLATE
from kubetriage.evidence.queries import Scope, select_queries
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import MetricSummary, ServiceEvidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import (
    analyze,
    app_pod,
    assert_leads,
    crash_looping,
    deployment,
    evidence,
    naming,
)

SCORER = ObjectRef(kind="Service", namespace="risk", name="fraud-scorer")
HOST = "fraud-scorer.risk.svc.cluster.local"


def _calls(before: float, after: float, host: str = HOST) -> MetricSummary:
    return MetricSummary(
        name=TEMPLATE,
        query="sum by (server_address) (...)",
        labels={"server_address": host},
        first=before,
        last=after,
        min=before,
        max=after,
        samples=60,
        shape="step",
        before=before,
        after=after,
    )


def _payments(metric: MetricSummary, *, crashing: bool = False) -> Evidence:
    own = crash_looping("payments-api", restarts=6) if crashing else None
    pods = [
        app_pod(f"payments-api-d5fvwqr572-{s}", *([own] if own else []), namespace="payments")
        for s in ("dzxvs", "2x4b7")
    ]
    scorer = DependencyEvidence(
        service=ServiceEvidence(
            name="fraud-scorer",
            namespace="risk",
            selector={"app": "fraud-scorer"},
            ready_endpoints=3,
        ),
        named_by=naming("Deployment payments-api env FraudScoring__BaseUrl"),
        pods=3,
        ready_replicas=3,
        desired_replicas=3,
    )
    return evidence(
        target=ObjectRef(kind="Deployment", namespace="payments", name="payments-api"),
        workload=deployment("payments-api", "payments", replicas=2),
        pods=pods,
        dependencies=[scorer],
        metrics=[metric],
    )


def test_calls_thirty_times_slower_hand_the_incident_to_the_callee() -> None:
    finding = assert_leads(
        analyze(_payments(_calls(0.06, 1.9))), Category.DEPENDENCY_FAILURE, Action.ESCALATE, SCORER
    )
    assert finding.analyzer == NAME
    assert finding.confidence == CONFIDENCE.slower_calls
    assert any(HOST in e.fact for e in finding.evidence)


def _slow(ev: Evidence) -> list[str]:
    return [f.target.name for f in analyze(ev).findings if f.analyzer == NAME]


def test_a_modest_slowdown_is_not_a_slow_callee() -> None:
    assert _slow(_payments(_calls(0.4, 0.9))) == []


def test_calls_that_stay_fast_are_not_a_slow_callee() -> None:
    assert _slow(_payments(_calls(0.005, 0.2))) == []


def test_a_server_no_service_answers_to_is_not_named() -> None:
    assert _slow(_payments(_calls(0.06, 1.9, host="api.partner.example.com"))) == []


def test_a_caller_whose_own_pods_fail_is_its_own_story() -> None:
    assert _slow(_payments(_calls(0.06, 1.9), crashing=True)) == []


def test_the_client_call_query_is_asked_for_a_workloads_pods() -> None:
    scope = Scope(namespace="payments", pod_regex="payments-api-.+")
    [query] = [q for q in select_queries(scope, timedelta(minutes=66)) if q.name == TEMPLATE]
    assert "http_client_request_duration_seconds_sum" in query.promql
    assert "by (server_address)" in query.promql
    assert 'pod=~"payments-api-.+"' in query.promql
