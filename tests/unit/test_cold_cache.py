"""Checks the caches of the incident's callers, and the cold-cache rule.

Evidence side (``kubetriage.evidence.caller_caches`` through the real builder): a caller of
the incident's Service that also names a Service whose pods run a cache image (Redis) gets
that cache, with the last runs of its cache containers that ended; a named Service whose
pods run no cache image is no cache. Analyzer side (``kubetriage.analyzers.cold_cache``): the
cache OOM-killed shortly before the onset while neither the caller nor the incident's
workload changed is oom-killed / increase-memory on the cache's workload; near misses: a
restart for another reason, one long before the onset, a caller that rolled out, an
incident workload that rolled out.

Real: raw Service, Pod, StatefulSet and Deployment manifests as the API returns them, the
pure builder, Evidence models from ``tests.support.evidence`` and the whole analyzer
registry.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kubetriage.analyzers.cold_cache import CONFIDENCE
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.neighbours import CallerCacheEvidence, CallerEvidence, ContainerRestart
from kubetriage.models.object_evidence import ChangeEvidence, ContainerState, WorkloadEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.built import built
from tests.support.evidence import NOW, ago, analyze, assert_leads, naming

DB = ObjectRef(kind="StatefulSet", namespace="db", name="orders-db")
API = ObjectRef(kind="Deployment", namespace="shop", name="orders-api")
CACHE = ObjectRef(kind="StatefulSet", namespace="shop", name="orders-cache")
CACHE_SERVICE = ObjectRef(kind="Service", namespace="shop", name="orders-cache")


def _at(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _service(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": {"app": name}, "ports": [{"port": 6379}]},
    }


def _pod(name: str, namespace: str, app: str, owner: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app": app},
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": owner, "controller": True}
            ],
        },
        "spec": {"containers": [{"name": "server", "image": image}]},
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "server",
                    "image": image,
                    "ready": True,
                    "restartCount": 1,
                    "state": {"running": {"startedAt": _at(19)}},
                    "lastState": {
                        "terminated": {
                            "reason": "OOMKilled",
                            "exitCode": 137,
                            "finishedAt": _at(19),
                        }
                    },
                }
            ],
        },
    }


def _objects(cache_image: str = "redis:7.2.4-alpine") -> list[dict[str, Any]]:
    caller = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": API.name, "namespace": API.namespace},
        "spec": {
            "selector": {"matchLabels": {"app": API.name}},
            "template": {
                "metadata": {"labels": {"app": API.name}},
                "spec": {
                    "containers": [
                        {
                            "name": "api",
                            "image": "orders-api:3",
                            "env": [
                                {"name": "CACHE_URL", "value": "redis://orders-cache:6379/0"},
                                {
                                    "name": "DATABASE_HOST",
                                    "value": "orders-db.db.svc.cluster.local",
                                },
                            ],
                        }
                    ]
                },
            },
        },
    }
    database = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": DB.name, "namespace": DB.namespace},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": DB.name}}},
    }
    return [
        database,
        _service("orders-db", "db"),
        _pod("orders-db-0", "db", "orders-db", "orders-db", "postgres:16"),
        _service("orders-cache", "shop"),
        _pod("orders-cache-0", "shop", "orders-cache", "orders-cache", cache_image),
        caller,
    ]


def test_a_caller_names_the_cache_it_reads_through_with_its_last_kill() -> None:
    [caller] = built(_objects(), DB).callers
    assert caller.ref == API
    [cache] = caller.caches
    assert (cache.service, cache.workload and cache.workload.name) == (
        CACHE_SERVICE,
        "orders-cache",
    )
    [restart] = cache.restarts
    assert (restart.pod, restart.container, restart.last.reason) == (
        "orders-cache-0",
        "server",
        "OOMKilled",
    )


def test_a_named_service_running_no_cache_image_is_no_cache() -> None:
    [caller] = built(_objects("ghcr.io/example/pricing:2"), DB).callers
    assert caller.caches == []


# --- the rule ----------------------------------------------------------------------------


def _evidence(
    *,
    reason: str = "OOMKilled",
    killed_ago: float = 19,
    caller_changes: list[ChangeEvidence] | None = None,
    own_changes: list[ChangeEvidence] | None = None,
) -> Evidence:
    cache = CallerCacheEvidence(
        service=CACHE_SERVICE,
        workload=CACHE,
        restarts=[
            ContainerRestart(
                pod="orders-cache-0",
                container="redis",
                restarts=1,
                last=ContainerState(state="terminated", reason=reason, finished_at=ago(killed_ago)),
            )
        ],
    )
    caller = CallerEvidence(
        ref=API,
        callee=ObjectRef(kind="Service", namespace="db", name="orders-db"),
        named_by=naming("Deployment orders-api env DATABASE_HOST"),
        changes=caller_changes or [],
        caches=[cache],
    )
    return make.evidence(
        target=DB,
        workload=WorkloadEvidence(ref=DB, desired_replicas=1, ready_replicas=1),
        alerts=[
            AlertEvidence(
                labels={"alertname": "PostgresqlTooManyConnections", "namespace": "db"},
                starts_at=ago(14),
                status="firing",
            )
        ],
        callers=[caller],
        changes=own_changes or [],
    )


def _cold(evidence: Evidence) -> list[object]:
    return [f for f in analyze(evidence).findings if f.analyzer == "cold-cache"]


def test_a_callers_cache_killed_for_memory_before_the_onset_gets_more_memory() -> None:
    finding = assert_leads(analyze(_evidence()), Category.OOM_KILLED, Action.INCREASE_MEMORY, CACHE)
    assert finding.confidence == CONFIDENCE.emptied_by_oom
    assert finding.params == {"container": "redis"}


def test_silent_when_the_cache_ended_for_another_reason_or_long_before() -> None:
    assert not _cold(_evidence(reason="Completed"))
    assert not _cold(_evidence(killed_ago=180))


def test_silent_when_the_caller_or_the_incident_workload_rolled_out() -> None:
    assert not _cold(
        _evidence(caller_changes=[make.rollout_change(API, 4, "image", minutes_ago=25)])
    )
    own = make.rollout_change(DB, 2, "env", minutes_ago=20)
    assert not _cold(_evidence(own_changes=[own]))
