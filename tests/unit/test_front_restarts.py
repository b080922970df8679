"""Checks the front-restart rule: a service alerted as slow while a proxy or cache in front of
it (a caller a mounted ConfigMap routes to it) had its containers OOM-killed within the last
hour is that cache's memory limit, raised on the cache's workload, above the origin's own
demand reading. Near misses: the kill is hours old, the container ended otherwise than
OOMKilled, the caller names the Service in env (not a front), no latency or error alert fires.
The builder keeps the restarts of a front's pods only, read by its selector.

Real: Evidence models from ``tests.support.evidence``, the whole analyzer registry, and
``build_evidence`` (via ``tests.support.built``) over raw objects.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kubetriage.analyzers.front_restarts import CONFIDENCE
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.naming import config_map_source, env_source
from kubetriage.models.neighbours import CallerEvidence, ContainerRestart
from kubetriage.models.object_evidence import ContainerState
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.built import built, deployment_manifest, service_manifest
from tests.support.evidence import NOW, ago, analyze, assert_leads, by_category

ORIGIN = ObjectRef(kind="Deployment", namespace="catalog", name="product-api")
SERVICE = ObjectRef(kind="Service", namespace="catalog", name="product-api")
CACHE = ObjectRef(kind="Deployment", namespace="edge", name="varnish")


def _restart(minutes_ago: float, reason: str = "OOMKilled", restarts: int = 2) -> ContainerRestart:
    return ContainerRestart(
        pod="varnish-7d4c8b9f6-2xkqp",
        container="varnish",
        restarts=restarts,
        last=ContainerState(
            state="terminated",
            reason=reason,
            exit_code=137 if reason == "OOMKilled" else 1,
            started_at=NOW - timedelta(minutes=minutes_ago + 30),
            finished_at=NOW - timedelta(minutes=minutes_ago),
        ),
    )


def _evidence(
    restarts: list[ContainerRestart], *, fronting: bool = True, alertname: str = "ApiLatencyHigh"
) -> Evidence:
    named = (
        config_map_source("varnish-vcl", used_by="Deployment varnish")
        if fronting
        else env_source("Deployment", "varnish", "BACKEND_URL")
    )
    return make.evidence(
        target=ORIGIN,
        alerts=[
            AlertEvidence(
                labels={"alertname": alertname, "namespace": "catalog"},
                annotations={"summary": "p99 latency of product-api above 800ms"}
                if alertname != "Watchdog"
                else {},
                starts_at=ago(15),
                status="firing",
            )
        ],
        callers=[CallerEvidence(ref=CACHE, callee=SERVICE, named_by=[named], restarts=restarts)],
    )


def test_a_cache_in_front_killed_within_the_hour_gets_more_memory() -> None:
    result = analyze(_evidence([_restart(13, restarts=3)]))
    first = assert_leads(result, Category.OOM_KILLED, Action.INCREASE_MEMORY, CACHE)
    assert first.confidence == CONFIDENCE.repeated
    assert first.params == {"container": "varnish"}


def test_a_single_kill_is_a_weaker_lead() -> None:
    result = analyze(_evidence([_restart(13, restarts=1)]))
    first = assert_leads(result, Category.OOM_KILLED, Action.INCREASE_MEMORY, CACHE)
    assert first.confidence == CONFIDENCE.killed


def test_an_old_kill_or_another_ending_is_not_blamed() -> None:
    assert not by_category(analyze(_evidence([_restart(180)])), Category.OOM_KILLED)
    assert not by_category(analyze(_evidence([_restart(10, "Error")])), Category.OOM_KILLED)


def test_a_caller_naming_the_service_in_env_is_no_front() -> None:
    result = analyze(_evidence([_restart(13)], fronting=False))
    assert not by_category(result, Category.OOM_KILLED)


def test_no_latency_or_error_alert_means_no_finding() -> None:
    result = analyze(_evidence([_restart(13)], alertname="Watchdog"))
    assert not by_category(result, Category.OOM_KILLED)


def _raw_cache(config: str, env_url: str | None = None) -> list[dict[str, Any]]:
    container: dict[str, Any] = {"name": "varnish", "image": "varnish:7.6"}
    if env_url is not None:
        container["env"] = [{"name": "BACKEND_URL", "value": env_url}]
    cache = deployment_manifest("varnish", "edge", container)
    cache["spec"]["template"]["spec"]["volumes"] = [{"name": "vcl", "configMap": {"name": config}}]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "varnish-abc", "namespace": "edge", "labels": {"app": "varnish"}},
        "spec": {"containers": [container]},
        "status": {
            "containerStatuses": [
                {
                    "name": "varnish",
                    "image": "varnish:7.6",
                    "restartCount": 2,
                    "state": {"running": {"startedAt": "2026-11-20T09:47:00Z"}},
                    "lastState": {
                        "terminated": {
                            "reason": "OOMKilled",
                            "exitCode": 137,
                            "finishedAt": "2026-11-20T09:46:54Z",
                        }
                    },
                }
            ]
        },
    }
    vcl = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "varnish-vcl", "namespace": "edge"},
        "data": {"default.vcl": 'backend b { .host = "product-api.catalog.svc.cluster.local"; }'},
    }
    return [cache, pod, vcl]


def _raw_origin() -> list[dict[str, Any]]:
    return [
        deployment_manifest("product-api", "catalog", ("app", "product-api:3")),
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "product-api-abc",
                "namespace": "catalog",
                "labels": {"app": "product-api"},
            },
            "spec": {"containers": [{"name": "app", "image": "product-api:3"}]},
        },
        service_manifest("product-api", "catalog", {"app": "product-api"}, port=8080),
    ]


def test_the_builder_keeps_the_restarts_of_a_front_only() -> None:
    fronting = built([*_raw_origin(), *_raw_cache("varnish-vcl")], ORIGIN).callers
    assert [c.ref for c in fronting] == [CACHE]
    assert [(r.pod, r.container, r.restarts, r.last.reason) for r in fronting[0].restarts] == [
        ("varnish-abc", "varnish", 2, "OOMKilled")
    ]
    # Named in env, not routed by its file: a caller, but its restarts are not read.
    by_env = built(
        [*_raw_origin(), *_raw_cache("other", "http://product-api.catalog.svc:8080")], ORIGIN
    ).callers
    assert [c.ref for c in by_env] == [CACHE]
    assert by_env[0].restarts == []
