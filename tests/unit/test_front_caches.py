"""Checks what a proxy or cache in front of the alerted service (a caller a mounted ConfigMap
routes to its Service) says of its own resources. Its volume, full after filling within the
window, is the claim to expand (``front-volumes``), above the origin's own release; a volume
full all along (a preallocated store), one with room, or a caller naming the Service in env
(no front) earn nothing. Its CPU limit throttling it is a hop of the request path
(``request-path-throttling``), and its throttling stepping up before the origin's release
dates the onset, so that release is not blamed; a front throttled a little, or an env caller,
adds nothing. The builder keeps the claims of a front's pods, and the live queries read them
and the front's throttling.

Real: Evidence models from ``tests.support.evidence``, the whole analyzer registry, the
query scope readers of ``kubetriage.models.alerts_view`` and ``build_evidence`` (via
``tests.support.built``) over raw objects.
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.front_volumes import CONFIDENCE
from kubetriage.models.alerts_view import callee_workloads, volume_claims
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.naming import config_map_source, env_source
from kubetriage.models.neighbours import CallerEvidence
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.built import built, deployment_manifest, service_manifest
from tests.support.evidence import ago, analyze, assert_leads, by_category

ORIGIN = ObjectRef(kind="Deployment", namespace="media", name="renderer")
SERVICE = ObjectRef(kind="Service", namespace="media", name="renderer")
CACHE = ObjectRef(kind="Deployment", namespace="media", name="img-cache")
CLAIM = ObjectRef(kind="PersistentVolumeClaim", namespace="media", name="img-cache-data")
CAPACITY = 50 * 2**30


def _used(first: float, last: float, trend: str) -> MetricSummary:
    labels = {"namespace": "media", "persistentvolumeclaim": "img-cache-data"}
    return make.metric(
        'kubelet_volume_stats_used_bytes{namespace="media",persistentvolumeclaim="img-cache-data"}',
        first=first * CAPACITY,
        last=last * CAPACITY,
        trend=trend,  # type: ignore[arg-type]
        labels=labels,
    )


def _capacity() -> MetricSummary:
    return make.metric(
        "kubelet_volume_stats_capacity_bytes"
        '{namespace="media",persistentvolumeclaim="img-cache-data"}',
        first=CAPACITY,
        last=CAPACITY,
        trend="flat",
        labels={"namespace": "media", "persistentvolumeclaim": "img-cache-data"},
    )


def _released() -> dict[str, Any]:
    """The origin released 40 minutes ago (only its log level changed)."""
    return {
        "workload": make.deployment("renderer", "media", revision=5),
        "revisions": make.rollout_revisions(
            5, {"app": "renderer:1.1"}, {"app": "renderer:1.0"}, minutes_ago=40, ready=2
        ),
        "changes": [make.rollout_change(ORIGIN, 4, "env", minutes_ago=40)],
    }


def _origin(
    metrics: list[MetricSummary],
    *,
    fronting: bool = True,
    claims: tuple[str, ...] = ("img-cache-data",),
    alertname: str = "RendererLatencyP95High",
    released: bool = True,
) -> Evidence:
    named = (
        config_map_source("img-cache-conf", used_by="Deployment img-cache")
        if fronting
        else env_source("Deployment", "img-cache", "ORIGIN_URL")
    )
    return make.evidence(
        target=ORIGIN,
        pods=[
            make.app_pod(
                "renderer-6c8d5f9b74-b4nq2",
                make.container("app", "renderer:1.1"),
                namespace="media",
            )
        ],
        alerts=[
            AlertEvidence(
                labels={"alertname": alertname, "namespace": "media"},
                annotations={"summary": "p95 render latency above 1.5s"}
                if alertname != "Watchdog"
                else {},
                starts_at=ago(15),
                status="firing",
            )
        ],
        callers=[
            CallerEvidence(
                ref=CACHE,
                callee=SERVICE,
                named_by=[named],
                claims=list(claims) if fronting else [],
            )
        ],
        metrics=metrics,
        **(_released() if released else {"workload": make.deployment("renderer", "media")}),
    )


def test_a_front_cache_whose_volume_filled_is_expanded_above_the_origin_release() -> None:
    result = analyze(_origin([_used(0.86, 1.0, "rising"), _capacity()]))
    first = assert_leads(result, Category.STORAGE, Action.EXPAND_STORAGE, CLAIM)
    assert first.analyzer == "front-volumes"
    assert first.confidence == CONFIDENCE.filled
    assert first.params == {"pvc": "img-cache-data", "size": "100Gi", "currentSize": "50Gi"}
    assert "change-correlation" in result.fired  # still an alternative, ranked below


def test_a_volume_full_all_along_or_with_room_is_no_front_cause() -> None:
    full_all_along = analyze(_origin([_used(1.0, 1.0, "flat"), _capacity()]))
    assert "front-volumes" not in full_all_along.fired
    with_room = analyze(_origin([_used(0.5, 0.8, "rising"), _capacity()]))
    assert "front-volumes" not in with_room.fired


def test_a_caller_naming_the_service_in_env_or_no_strain_is_no_front_cause() -> None:
    metrics = [_used(0.86, 1.0, "rising"), _capacity()]
    assert "front-volumes" not in analyze(_origin(metrics, fronting=False)).fired
    assert "front-volumes" not in analyze(_origin(metrics, alertname="Watchdog")).fired
    # A full claim that is not the front's own: the storage rule's, not this one.
    assert "front-volumes" not in analyze(_origin(metrics, claims=("other",))).fired


def _throttle(share: float, stepped_minutes_ago: float) -> MetricSummary:
    return make.metric(
        "sum by (namespace, pod, container) (rate(container_cpu_cfs_throttled_periods_total"
        '{namespace=~"media"}[5m])) / sum by (namespace, pod, container) '
        '(rate(container_cpu_cfs_periods_total{namespace=~"media"}[5m]))',
        name="callee_cpu_throttled_ratio",
        first=0.0,
        last=share,
        trend="rising",
        changed_minutes_ago=stepped_minutes_ago,
        labels={"namespace": "media", "pod": "img-cache-5d9b8f6c47-7wd4k", "container": "nginx"},
    )


def test_a_throttled_front_is_the_request_path_hop_and_dates_the_onset() -> None:
    # Throttled from 50 minutes ago, before the origin's release 40 minutes ago.
    result = analyze(_origin([_throttle(0.52, 50)], claims=()))
    first = assert_leads(result, Category.CPU_THROTTLING, Action.INCREASE_CPU, CACHE)
    assert first.analyzer == "request-path-throttling"
    assert first.params == {"container": "nginx"}
    assert "change-correlation" not in result.fired


def test_a_front_throttled_after_the_release_leaves_the_release_a_suspect() -> None:
    result = analyze(_origin([_throttle(0.52, 20)], claims=()))
    assert "change-correlation" in result.fired


def test_a_front_barely_throttled_or_an_env_caller_adds_nothing() -> None:
    assert not by_category(
        analyze(_origin([_throttle(0.1, 50)], claims=())), Category.CPU_THROTTLING
    )
    env_caller = analyze(_origin([_throttle(0.52, 50)], fronting=False))
    assert "request-path-throttling" not in env_caller.fired


def test_the_live_queries_read_a_fronts_throttling_and_claims() -> None:
    ev = _origin([])
    assert CACHE in callee_workloads(ev)
    assert CLAIM in volume_claims(ev)
    env_caller = _origin([], fronting=False)
    assert CACHE not in callee_workloads(env_caller)
    assert volume_claims(env_caller) == []


def _raw(volume: dict[str, Any]) -> list[dict[str, Any]]:
    container = {"name": "nginx", "image": "nginx:1.27"}
    cache = deployment_manifest("img-cache", "media", container)
    volumes = [{"name": "conf", "configMap": {"name": "img-cache-conf"}}, volume]
    cache["spec"]["template"]["spec"]["volumes"] = volumes
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "img-cache-abc", "namespace": "media", "labels": {"app": "img-cache"}},
        "spec": {"containers": [container], "volumes": volumes},
    }
    conf = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "img-cache-conf", "namespace": "media"},
        "data": {"img.conf": "upstream r { server renderer.media.svc.cluster.local:8888; }"},
    }
    origin = [
        deployment_manifest("renderer", "media", ("app", "renderer:1")),
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "renderer-abc",
                "namespace": "media",
                "labels": {"app": "renderer"},
            },
            "spec": {"containers": [{"name": "app", "image": "renderer:1"}]},
        },
        service_manifest("renderer", "media", {"app": "renderer"}, port=8888),
    ]
    return [*origin, cache, pod, conf]


def test_the_builder_keeps_the_claims_a_fronts_pods_mount() -> None:
    claim = {"name": "cache", "persistentVolumeClaim": {"claimName": "img-cache-data"}}
    fronting = built(_raw(claim), ORIGIN).callers
    assert [(c.ref, c.claims) for c in fronting] == [(CACHE, ["img-cache-data"])]
    scratch = built(_raw({"name": "cache", "emptyDir": {}}), ORIGIN).callers
    assert [(c.ref, c.claims) for c in scratch] == [(CACHE, [])]
