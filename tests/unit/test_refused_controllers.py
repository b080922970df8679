"""Checks "the operator keeping this Service is refused its writes since its upgrade": a Redis
failover's master Service selecting no member while the operator that moves the role label,
ready and running, logs the API server refusing its ServiceAccount a patch, with a rollout of
its own days before, leads to rolling the operator back. Refusals of a read, of another
namespace's account, a controller with no rollout of its own or one rolled out weeks ago,
and a Service no custom resource owns, conclude nothing.

Real: the API-refusal reading (``kubetriage.api_refusals``), the pure builder
(``tests.support.built``) over API-shaped dicts and the analyzer registry; the live walk
(``follow_resource_controllers``) over ``tests.support.listing``'s stand-in for the reader.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kubetriage.api_refusals import refused_write
from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.resource_controller_walk import follow_resource_controllers
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.vocabulary import Action, Category
from kubetriage.tenancy import Scope
from tests.support.built import built
from tests.support.evidence import analyze, assert_leads, log
from tests.support.listing import ListingReader

WEB = ObjectRef(kind="Deployment", namespace="web", name="storefront")
OPERATOR = ObjectRef(kind="Deployment", namespace="ops", name="redis-operator")
LABELS = {"app.kubernetes.io/name": "redis-operator"}
POD = "redis-operator-85f6c7d9b4-tq7wz"
FAILOVER = {"apiVersion": "databases.spotahome.com/v1", "kind": "RedisFailover", "name": "s"}
PATCH_REFUSED = (
    'level=error msg="error on object processing: pods \\"rfr-s-2\\" is forbidden: User '
    '\\"system:serviceaccount:ops:redis-operator\\" cannot patch resource \\"pods\\" in API '
    'group \\"\\" in the namespace \\"web\\""'
)


def _refusal(verb: str, namespace: str = "ops") -> str:
    return (
        f'pods "x" is forbidden: User "system:serviceaccount:{namespace}:redis-operator" '
        f'cannot {verb} resource "pods" in API group "" in the namespace "web"'
    )


def test_a_write_refused_to_an_account_of_the_namespace_is_a_refused_write() -> None:
    assert refused_write(PATCH_REFUSED, "ops")
    assert refused_write(_refusal("update"), "ops")
    # Near misses: a refused read, and another namespace's account.
    assert not refused_write(_refusal("list"), "ops")
    assert not refused_write(_refusal("patch", namespace="web"), "ops")


def _service(owner: dict[str, Any] | None) -> dict[str, Any]:
    refs = [] if owner is None else [{**owner, "controller": True}]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "rfrm-s", "namespace": "web", "ownerReferences": refs},
        "spec": {"selector": {"app.kubernetes.io/name": "s", "redisfailovers-role": "master"}},
    }


def _replica_set(revision: int, image: str, created: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"redis-operator-{revision}",
            "namespace": "ops",
            "creationTimestamp": created,
            "labels": LABELS,
            "annotations": {"deployment.kubernetes.io/revision": str(revision)},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": "redis-operator",
                    "controller": True,
                }
            ],
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": LABELS},
            "template": {
                "metadata": {"labels": LABELS},
                "spec": {"containers": [{"name": "redis-operator", "image": image}]},
            },
        },
        "status": {"replicas": replicas},
    }


def _operator(*, upgraded: str | None) -> list[dict[str, Any]]:
    """The operator's Deployment, its ready pod and its ReplicaSets: revision 1 only, or
    revision 2 (a new image) rolled out at ``upgraded`` over revision 1."""
    image = (
        "quay.io/spotahome/redis-operator:v1.3.0"
        if upgraded
        else "quay.io/spotahome/redis-operator:v1.2.4"
    )
    revision = 2 if upgraded else 1
    sets = [
        _replica_set(
            1,
            "quay.io/spotahome/redis-operator:v1.2.4",
            "2026-05-12T09:30:00Z",
            0 if upgraded else 1,
        )
    ]
    if upgraded:
        sets.append(_replica_set(2, image, upgraded, 1))
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "redis-operator",
                "namespace": "ops",
                "labels": LABELS,
                "annotations": {"deployment.kubernetes.io/revision": str(revision)},
            },
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": LABELS},
                "template": {
                    "metadata": {"labels": LABELS},
                    "spec": {"containers": [{"name": "redis-operator", "image": image}]},
                },
            },
            "status": {"replicas": 1, "readyReplicas": 1},
        },
        *sets,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": POD,
                "namespace": "ops",
                "labels": LABELS,
                "ownerReferences": [
                    {"kind": "ReplicaSet", "name": f"redis-operator-{revision}", "controller": True}
                ],
            },
            "spec": {"containers": [{"name": "redis-operator", "image": image}]},
            "status": {
                "phase": "Running",
                "containerStatuses": [
                    {
                        "name": "redis-operator",
                        "ready": True,
                        "restartCount": 0,
                        "state": {"running": {}},
                    }
                ],
            },
        },
    ]


def _evidence(
    *,
    upgraded: str | None = "2026-11-19T17:05:12Z",
    line: str = PATCH_REFUSED,
    owner: dict[str, Any] | None = FAILOVER,
) -> Evidence:
    tails = [
        log(POD, "redis-operator", f"starting\n{line}\n", namespace="ops", source="dependency")
    ]
    return built([_service(owner), *_operator(upgraded=upgraded)], WEB, logs=tails)


def test_an_operator_refused_its_writes_since_its_upgrade_is_rolled_back() -> None:
    ev = _evidence()
    assert [r.workload for r in ev.reconcilers] == [OPERATOR]
    assert ev.reconcilers[0].refused_writes == [PATCH_REFUSED.strip()]
    first = assert_leads(analyze(ev), Category.BAD_ROLLOUT, Action.ROLLBACK, OPERATOR)
    assert first.params == {"revision": "1"}


def _blamed(ev: Evidence) -> bool:
    return any(f.analyzer == "refused-controller" for f in analyze(ev).findings)


def test_a_refused_read_or_a_clean_log_concludes_nothing() -> None:
    assert not _blamed(_evidence(line=_refusal("watch")))
    assert not _blamed(_evidence(line="reconciled web/s"))


def test_an_operator_without_a_recent_rollout_of_its_own_is_not_rolled_back() -> None:
    # Near misses: never rolled out (an edited role took the permission), or upgraded weeks
    # before the refusals.
    assert not _blamed(_evidence(upgraded=None))
    assert not _blamed(_evidence(upgraded="2026-10-20T17:05:12Z"))


def test_a_service_no_custom_resource_controls_leads_to_no_operator() -> None:
    assert _evidence(owner=None).reconcilers == []
    other = {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "s"}
    assert _evidence(owner=other).reconcilers == []


def _walk(read: list[dict[str, Any]]) -> set[str]:
    run = CollectionRun(asyncio.Semaphore(1))
    for obj in read:
        run.add(obj)
    reader = ListingReader(_operator(upgraded="2026-11-19T17:05:12Z"))
    asyncio.run(follow_resource_controllers(reader, run, Scope.unrestricted()))  # type: ignore[arg-type]
    return {f"{k}/{ns}/{name}" for k, ns, name in run.objects}


def test_the_walk_reads_the_operator_of_a_service_its_resource_controls() -> None:
    assert "Deployment/ops/redis-operator" in _walk([_service(FAILOVER)])
    # Near miss: a Service of no custom resource.
    assert "Deployment/ops/redis-operator" not in _walk([_service(None)])
