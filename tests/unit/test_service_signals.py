"""Checks how service-level signals are read: a request rate counted by a latency histogram is
demand (not latency, not the new code's cost), errors that only the new revision's pods log
while the previous revision's pods serve beside them are a bad rollout, uWSGI's full listen
queue is an exhausted worker pool, an SLO burn-rate alert names its service, and an incident
about a namespace whose pods all belong to one workload escalates to that workload.

Everything is real: Evidence models from ``tests.support.evidence``, ``run_analyzers``, the
query templates, ``candidate_targets`` and ``combine``.
"""

from __future__ import annotations

from datetime import timedelta

from kubetriage.combine import combine
from kubetriage.evidence.queries import Scope, select_queries
from kubetriage.evidence.series import summarize_series
from kubetriage.evidence.targets import candidate_targets
from kubetriage.models.base import ObjectRef
from kubetriage.models.diagnosis import LLMUsage
from kubetriage.models.incident import Alert
from kubetriage.models.object_evidence import MetricSummary, PodEvidence, RevisionEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, by_category, top

PLAYBACK = ObjectRef(kind="Deployment", namespace="media", name="playback")


def _pods(*revisions: str, container: str = "api") -> list[PodEvidence]:
    """One running pod (no CPU limit) per ReplicaSet given, labelled with its app's name."""
    return [
        make.pod(
            f"{rs}-p{i}",
            make.container(container, limits={"memory": "1Gi"}),
            namespace="media",
            replica_set=rs,
            labels={"app": rs.split("-")[0]},
        )
        for i, rs in enumerate(revisions)
    ]


def _revisions(minutes_ago: float, old_ready: int = 0) -> list[RevisionEvidence]:
    return make.rollout_revisions(
        21,
        {"api": "ghcr.io/example/playback:2.1"},
        {"api": "ghcr.io/example/playback:2.0"},
        minutes_ago=minutes_ago,
        ready=2,
        old_ready=old_ready,
        names=("playback-7f6e5d4c3b", "playback-5a4b3c2d1e"),
    )


def _histogram_rate(first: float, last: float, changed_minutes_ago: float) -> MetricSummary:
    """Requests per second, counted by the service's latency histogram."""
    return make.metric(
        'sum(rate({__name__=~"http_request_duration_seconds_count",namespace="media",'
        'job=~"(.+/)?playback"}[5m]))',
        name="http_request_rate_from_histogram",
        first=first,
        last=last,
        trend="rising",
        changed_minutes_ago=changed_minutes_ago,
    )


def _latency(first: float, last: float, changed_minutes_ago: float) -> MetricSummary:
    return make.metric(
        "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
        name="http_latency_p99_seconds",
        first=first,
        last=last,
        trend="rising",
        changed_minutes_ago=changed_minutes_ago,
    )


def test_traffic_from_a_histogram_count_after_a_rollout_is_demand_not_the_rollout() -> None:
    # Revision 21 went out 30 minutes ago; ten minutes later requests rose 2.6x and latency
    # with them: the new code is not what got slower.
    ev = make.evidence(
        workload=make.deployment("playback", "media", revision=21),
        revisions=_revisions(30),
        pods=_pods("playback-7f6e5d4c3b", "playback-7f6e5d4c3b"),
        metrics=[_histogram_rate(2100.0, 5600.0, 20), _latency(0.2, 2.3, 19)],
    )
    result = analyze(ev)
    finding = result.findings[0]
    assert (finding.category, finding.action, finding.target) == (
        Category.RESOURCE_SATURATION,
        Action.SCALE_OUT,
        PLAYBACK,
    )
    assert not by_category(result, Category.BAD_ROLLOUT)
    # Near miss: the same latency step at unchanged traffic is the rollout's doing.
    flat = ev.model_copy(update={"metrics": [_latency(0.2, 2.3, 19)]})
    assert top(flat).category is Category.BAD_ROLLOUT


def test_the_histogram_request_rate_is_queried_for_latency_alerts() -> None:
    scope = Scope(namespace="media", job="playback")
    latency = select_queries(scope, timedelta(hours=1), families=frozenset({"latency"}))
    names = {q.name for q in latency}
    assert {"http_request_rate_from_histogram", "ingress_request_rate"} <= names
    restarts = select_queries(scope, timedelta(hours=1), families=frozenset({"restarts"}))
    assert "http_request_rate_from_histogram" not in {q.name for q in restarts}


_TRACEBACK = """
[2026-11-20 09:58:41 +0000] [14] [ERROR] Internal Server Error: /api/v1/points/redeem
Traceback (most recent call last):
redis.exceptions.ResponseError: unknown command `GETEX`
10.52.0.1 - - [20/Nov/2026:09:58:41 +0000] "POST /api/v1/points/redeem HTTP/1.1" 500 145
"""
_CLEAN = """
10.52.0.1 - - [20/Nov/2026:09:58:40 +0000] "POST /api/v1/points/redeem HTTP/1.1" 200 212
10.52.0.1 - - [20/Nov/2026:09:58:41 +0000] "GET /api/v1/points/balance HTTP/1.1" 200 88
"""


def _paused_rollout(old_log: str) -> list[object]:
    pods = _pods("playback-7f6e5d4c3b", "playback-5a4b3c2d1e")
    logs = [
        make.log(pods[0].name, "api", _TRACEBACK, namespace="media"),
        make.log(pods[1].name, "api", old_log, namespace="media"),
    ]
    return [pods, logs]


def test_errors_only_the_new_revisions_pods_log_are_a_bad_rollout() -> None:
    # A paused rollout: one pod of each revision serves, both ready; only the new one's log
    # has server errors (that name a callee the old pod uses without error).
    pods, logs = _paused_rollout(_CLEAN)
    ev = make.evidence(
        workload=make.deployment("playback", "media", revision=21),
        revisions=_revisions(25, old_ready=1),
        pods=pods,
        logs=logs,
    )
    finding = by_category(analyze(ev), Category.BAD_ROLLOUT)[0]
    assert (finding.action, finding.target, finding.params) == (
        Action.ROLLBACK,
        PLAYBACK,
        {"revision": "20"},
    )
    assert any("only the new revision logs errors" in e.fact for e in finding.evidence)
    # Near miss: the old revision's pod logs the same errors, so the revision is not the cause.
    pods, logs = _paused_rollout(_TRACEBACK)
    both = ev.model_copy(update={"pods": pods, "logs": logs})
    assert not by_category(analyze(both), Category.BAD_ROLLOUT)


def test_a_full_uwsgi_listen_queue_is_an_exhausted_worker_pool() -> None:
    full = make.log(
        "render-6c7d8e9f0a-p0",
        "render",
        '*** uWSGI listen queue of socket "0.0.0.0:8000" (fd: 3) full !!! (101/100) ***',
        namespace="media",
    )
    pods = _pods("render-6c7d8e9f0a", "render-6c7d8e9f0a", container="render")
    cpu = make.metric(
        'sum by (pod, container) (rate(container_cpu_usage_seconds_total{namespace="media"}[5m]))',
        name="cpu_usage_cores",
        first=0.3,
        last=0.8,
        labels={"container": "render"},
        trend="rising",
        changed_minutes_ago=25,
    )
    ev = make.evidence(
        workload=make.deployment("render", "media"), pods=pods, metrics=[cpu], logs=[full]
    )
    finding = top(ev)
    assert (finding.category, finding.action) == (Category.RESOURCE_SATURATION, Action.SCALE_OUT)


def _keys(refs: list[ObjectRef]) -> list[str]:
    return [ref.key() for ref in refs]


def test_an_slo_burn_rate_alert_names_its_service_as_a_workload_hint() -> None:
    alert = Alert(
        labels={
            "alertname": "ErrorBudgetBurnRateCritical",
            "namespace": "loyalty",
            "sloth_service": "points-api",
            "sloth_slo": "requests-availability",
        }
    )
    assert _keys(candidate_targets(None, [alert]))[0] == "Deployment/loyalty/points-api"
    assert _keys(candidate_targets(None, [alert]))[-1] == "Namespace/-/loyalty"


def test_a_namespace_incident_with_one_workload_escalates_to_it() -> None:
    namespace = ObjectRef(kind="Namespace", name="support", api_version="v1")
    pods = [
        make.pod(f"kb-6d9b8c7f5-p{i}", namespace="support", replica_set="kb-6d9b8c7f5")
        for i in range(2)
    ]
    llm = LLMUsage(used=False, reason="not configured")
    one = combine(
        evidence=make.evidence(target=namespace, pods=pods),
        findings=[],
        opinion=None,
        llm=llm,
        similar=[],
    )
    assert one.category is Category.UNKNOWN
    assert [(r.action, r.target) for r in one.remediations] == [
        (Action.ESCALATE, ObjectRef(kind="Deployment", namespace="support", name="kb"))
    ]
    # Near miss: pods of two workloads leave nobody in particular to hand over to.
    other = make.pod("search-5f4e3d2c1b-p0", namespace="support", replica_set="search-5f4e3d2c1b")
    two = combine(
        evidence=make.evidence(target=namespace, pods=[*pods, other]),
        findings=[],
        opinion=None,
        llm=llm,
        similar=[],
    )
    assert two.remediations == []


def test_a_rate_is_summarised_once_its_range_is_full() -> None:
    # Data that begins inside the queried window: the first minutes of rate(...[5m]) see
    # only part of their range and read low; that is no rise in demand.
    start = make.ago(40)
    partial = [12.0, 24.0, 30.0, 34.0]
    points = [(start + timedelta(minutes=i), v) for i, v in enumerate(partial)]
    points += [(start + timedelta(minutes=4 + i), 36.7) for i in range(1, 30)]
    query = 'sum(rate(http_server_requests_seconds_count{job=~"(.+/)?pricing"}[5m]))'
    summary = summarize_series("http_request_rate_from_histogram", query, {}, points)
    assert (summary.first, summary.last, summary.trend) == (36.7, 36.7, "flat")
    # A gauge has no range to fill: every point counts.
    gauge = summarize_series("replicas", "max(kube_deployment_spec_replicas)", {}, points)
    assert gauge.first == 12.0


def test_a_thresholded_rate_keeps_its_first_points_they_are_its_onset() -> None:
    # `... > 0.1` returns a series only from where it crossed the threshold: its first
    # point is when the trouble began, not data that begins inside the window.
    start = make.ago(30)
    points = [(start + timedelta(minutes=i), 0.4 + 0.02 * min(i, 3)) for i in range(30)]
    steal = (
        'sum by (instance) (rate(node_cpu_seconds_total{mode="steal"}[5m]))'
        " / sum by (instance) (rate(node_cpu_seconds_total[5m])) > 0.1"
    )
    assert summarize_series("node_cpu_steal_ratio", steal, {}, points).first_at == start
    # The same rate without the filter, or with `> bool`, still waits for its range.
    unfiltered = steal.removesuffix(" > 0.1")
    for query in (unfiltered, unfiltered + " > bool 0.1"):
        assert summarize_series("x", query, {}, points).first_at == start + timedelta(minutes=5)
