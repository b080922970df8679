"""Checks the pinned-member reading (``analyzers.replica_writes``): a caller whose ConfigMap
names a member of a replicated StatefulSet through its headless Service, and whose writes a
replica refuses, is pointed at the primary's address (fix that ConfigMap), above the
escalation at the store; a Service with a virtual IP or a single-member store is not a
pinned member."""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers import run_analyzers
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.unit.test_analyzers_callee_causes import _container, _evidence, _logs, _workload

_CART = ObjectRef(kind="Deployment", namespace="shop", name="cart")
_READONLY = (
    '{"level":50,"msg":"add to cart failed","err":{"type":"ReplyError",'
    '"message":"READONLY You can\'t write against a read only replica."}}'
)


def _store(members: int) -> list[dict[str, Any]]:
    labels = {"app": "redis"}
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "redis-node", "namespace": "cache", "uid": "uid-redis"},
            "spec": {
                "replicas": members,
                "serviceName": "redis-headless",
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": {"containers": []}},
            },
            "status": {"replicas": members, "readyReplicas": members},
        }
    ]
    for ordinal in range(members):
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"redis-node-{ordinal}",
                    "namespace": "cache",
                    "labels": labels,
                    "ownerReferences": [
                        {
                            "kind": "StatefulSet",
                            "name": "redis-node",
                            "uid": "uid-redis",
                            "controller": True,
                        }
                    ],
                },
                "spec": {"containers": [{"name": "redis", "image": "redis:7.4"}]},
                "status": {
                    "phase": "Running",
                    "podIP": f"10.2.0.{ordinal + 10}",
                    "containerStatuses": [
                        {"name": "redis", "ready": True, "state": {"running": {}}}
                    ],
                },
            }
        )
    return objects


def _cart(host: str, *, members: int = 3, headless: bool = True) -> Evidence:
    container = _container(
        "cart",
        "registry.example/cart:3.2",
        {"http": 3000},
        envFrom=[{"configMapRef": {"name": "cart-config"}}],
    )
    service: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "redis-headless", "namespace": "cache"},
        "spec": {
            "clusterIP": "None" if headless else "10.96.0.40",
            "selector": {"app": "redis"},
            "ports": [{"name": "tcp-redis", "port": 6379, "targetPort": 6379}],
        },
    }
    objects = [
        *_workload(
            "shop",
            "cart",
            container,
            revisions=((17, 9 * 24 * 60, "registry.example/cart:3.2"),),
            statuses=[{"ready": True, "restartCount": 0, "state": {"running": {}}}],
        ),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cart-config", "namespace": "shop"},
            "data": {"REDIS_HOST": host, "REDIS_PORT": "6379"},
        },
        service,
        *_store(members),
    ]
    return _evidence(objects, _CART, [_logs("shop", "cart-h17-p0", "cart", _READONLY, "scope")])


def test_writes_refused_by_the_pinned_member_fix_the_config_map() -> None:
    run = run_analyzers(_cart("redis-node-0.redis-headless.cache.svc.cluster.local"))
    first = run.findings[0]
    assert (first.category, first.action, first.target) == (
        Category.CONFIG_MISSING,
        Action.FIX_CONFIG,
        ObjectRef(kind="ConfigMap", namespace="shop", name="cart-config"),
    )


def test_a_virtual_ip_or_a_single_member_store_is_not_a_pinned_member() -> None:
    host = "redis-node-0.redis-headless.cache.svc.cluster.local"
    for ev in (_cart(host, headless=False), _cart(host, members=1)):
        assert all(f.analyzer != "pinned-replica-member" for f in run_analyzers(ev).findings)


# --- the stale-primary reading ------------------------------------------------------------

_ORDERS = ObjectRef(kind="Deployment", namespace="orders", name="orders-api")
_DB = ObjectRef(kind="Service", namespace="orders", name="orders-db")
_LOST = (
    "2026-11-20T09:31:07Z WARN HikariPool-1 - Failed to validate connection "
    "(This connection has been closed.)"
)
_REFUSED = (
    "2026-11-20T09:59:52Z ERROR org.postgresql.util.PSQLException: ERROR: cannot execute "
    "INSERT in a read-only transaction"
)


def _stale(
    text: str, host: str = "orders-prod.cluster-c8x2kq1mzt0a.eu-west-1.rds.amazonaws.com"
) -> Evidence:
    pod = "orders-api-d8b5c7f94-4ptxk"
    return make.evidence(
        target=_ORDERS,
        workload=make.deployment("orders-api", "orders", replicas=3),
        pods=[make.app_pod(pod, make.container("app"), namespace="orders")],
        logs=[make.log(pod, "app", text, namespace="orders")],
        dependencies=[
            DependencyEvidence(service=make.external_service("orders-db", host, "orders"), ref=_DB)
        ],
    )


def _stale_findings(evidence: Evidence) -> list[Any]:
    return [f for f in run_analyzers(evidence).findings if f.analyzer == "stale-primary-address"]


def test_writes_refused_by_a_replica_after_a_lost_connection_restart_the_client() -> None:
    (finding,) = _stale_findings(_stale(f"{_LOST}\n{_REFUSED}"))
    assert (finding.category, finding.action, finding.target) == (
        Category.DEPENDENCY_FAILURE,
        Action.RESTART,
        _ORDERS,
    )
    top = run_analyzers(_stale(f"{_LOST}\n{_REFUSED}")).findings[0]
    assert top.analyzer == "stale-primary-address"


def test_writes_refused_without_a_lost_connection_first_are_not_a_failover() -> None:
    assert not _stale_findings(_stale(f"{_REFUSED}\n{_LOST}"))


def test_a_reader_endpoint_refusing_writes_is_not_a_stale_primary() -> None:
    reader = "orders-prod.cluster-ro-c8x2kq1mzt0a.eu-west-1.rds.amazonaws.com"
    assert not _stale_findings(_stale(f"{_LOST}\n{_REFUSED}", host=reader))
