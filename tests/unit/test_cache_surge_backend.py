"""Checks the dependency-at-maximum rule for a surge passed on by a cache: an HTTP cache's
hit-ratio alert fires while the requests its clients send it multiplied, and the one backend
its mounted configuration routes to is up, every replica ready, at its autoscaler's maximum and
wanting more (ScalingLimited). The demand changed, not the cache: its release before the
surge is not blamed (traffic rose, so capacity is a fair rival), and the backend is scaled
out. Near misses: the same alert with flat traffic leaves the cache's release the suspect; a
backend with room to scale, or one of two configured backends, is not scaled out. The alert
family of a hit ratio asks for the cache's own request rate, other families do not.

Real: Evidence models from ``tests.support.evidence``, the whole analyzer registry, and the
query catalogue (``kubetriage.evidence.queries``).
"""

from __future__ import annotations

from datetime import timedelta

from kubetriage.analyzers.dependency_saturated import CONFIDENCE
from kubetriage.evidence.queries import Scope, alert_families, select_queries
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import (
    MetricSummary,
    ServiceEvidence,
)
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import autoscalers
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, naming

CACHE = ObjectRef(kind="Deployment", namespace="edge", name="varnish")
BACKEND = ObjectRef(kind="Deployment", namespace="results", name="results-api")


def _backend(
    name: str = "results-api", *, current: int = 4, maximum: int = 4
) -> DependencyEvidence:
    hpa = autoscalers.hpa(
        ObjectRef(kind="Deployment", namespace="results", name=name),
        current=current,
        maximum=maximum,
        limited=current >= maximum,
    )
    return DependencyEvidence(
        service=ServiceEvidence(
            name=name, namespace="results", selector={"app": name}, ready_endpoints=current
        ),
        workload=ObjectRef(kind="Deployment", namespace="results", name=name),
        named_by=naming("ConfigMap varnish-vcl"),
        desired_replicas=current,
        ready_replicas=current,
        pods=current,
        autoscalers=[hpa],
    )


def _requests(first: float, last: float) -> MetricSummary:
    return make.metric(
        'sum(rate(varnish_main_client_req{namespace="edge",pod=~"varnish-.+"}[5m]))',
        name="cache_request_rate",
        first=first,
        last=last,
        trend="rising" if last > first else "flat",
        changed_minutes_ago=30 if last > first else None,
    )


def _cache(traffic: MetricSummary, *dependencies: DependencyEvidence) -> Evidence:
    """The varnish cache, released 48 minutes ago (its VCL), alerted on its hit ratio."""
    return make.evidence(
        target=CACHE,
        workload=make.deployment("varnish", "edge", revision=6),
        pods=[
            make.app_pod("varnish-5c7f9b8d64-g2kfn", make.container("varnish"), namespace="edge")
        ],
        revisions=make.rollout_revisions(
            6,
            {"varnish": "varnish:7.6"},
            {"varnish": "varnish:7.6"},
            minutes_ago=48,
            ready=2,
            names=("varnish-5c7f9b8d64", "varnish-7d8c5b6f49"),
        ),
        changes=[make.rollout_change(CACHE, 5, "config", minutes_ago=48)],
        alerts=[
            make.alert(alertname="VarnishCacheHitRatioLow", namespace="edge", service="varnish")
        ],
        dependencies=list(dependencies or (_backend(),)),
        metrics=[traffic],
    )


def test_a_surge_through_the_cache_scales_out_its_backend_at_maximum() -> None:
    result = analyze(_cache(_requests(1000, 4100)))
    first = assert_leads(result, Category.RESOURCE_SATURATION, Action.SCALE_OUT, BACKEND)
    assert first.analyzer == "dependency-at-maximum"
    assert first.confidence == CONFIDENCE.surge_at_maximum
    assert first.params["replicas"] == "8"
    assert "change-correlation" not in result.fired


def test_flat_traffic_leaves_the_caches_release_the_suspect() -> None:
    result = analyze(_cache(_requests(1000, 1050)))
    assert "dependency-at-maximum" not in result.fired
    assert "change-correlation" in result.fired


def test_a_backend_with_room_or_one_of_two_is_not_scaled_out() -> None:
    roomy = analyze(_cache(_requests(1000, 4100), _backend(current=3, maximum=8)))
    assert "dependency-at-maximum" not in roomy.fired
    two = analyze(_cache(_requests(1000, 4100), _backend(), _backend("search-api")))
    assert "dependency-at-maximum" not in two.fired


def test_a_hit_ratio_alert_asks_for_the_caches_request_rate() -> None:
    hit_ratio = alert_families([make.alert(alertname="VarnishCacheHitRatioLow")])
    assert "cache" in hit_ratio
    scope = Scope(namespace="edge", pod_regex="varnish-.+")
    asked = {q.name for q in select_queries(scope, timedelta(hours=1), families=hit_ratio)}
    assert "cache_request_rate" in asked
    latency = alert_families([make.alert(alertname="VarnishLatencyHigh")])
    assert "cache" not in latency
    others = {q.name for q in select_queries(scope, timedelta(hours=1), families=latency)}
    assert "cache_request_rate" not in others
