"""Checks the pooler's rollout read through its client's errors: a client that quotes its
connection pooler's own errors (``log_signatures.POOLER_ERROR``: PgBouncer's
``query_wait_timeout``, ``max_client_conn``; ProxySQL's hostgroup timeout) names no host, yet
the pooler its env names is the one it calls; rolled out right before those errors began, that
pooler is rolled back (dependency-change). Unchanged, it is not."""

from __future__ import annotations

from kubetriage.analyzers import run_analyzers
from kubetriage.analyzers.log_signatures import POOLER_ERROR
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.vocabulary import Action, Category
from tests.unit.test_analyzers_callee_causes import (
    _container,
    _endpoints,
    _evidence,
    _logs,
    _service,
    _workload,
)

_ORDERS = ObjectRef(kind="Deployment", namespace="orders", name="orders-api")
_WAITED = (
    "ERROR request GET /v1/orders/ord_8K failed after 120.4s: "
    "(psycopg2.OperationalError) query_wait_timeout"
)


def _orders_behind_pooler(*, pooler_revisions: tuple[tuple[int, float, str], ...]) -> Evidence:
    client = _container(
        "api",
        "registry.example/orders-api:5.14",
        {"http": 8000},
        env=[{"name": "DB_HOST", "value": "pooler.db.svc.cluster.local"}],
    )
    pooler = _container("pgbouncer", "registry.example/pgbouncer:1.23", {"pgbouncer": 6432})
    objects = [
        *_workload(
            "orders",
            "orders-api",
            client,
            revisions=((31, 8 * 24 * 60, "registry.example/orders-api:5.14"),),
            statuses=[{"ready": True, "restartCount": 0, "state": {"running": {}}}],
        ),
        *_workload(
            "db",
            "pooler",
            pooler,
            revisions=pooler_revisions,
            statuses=[{"ready": True, "restartCount": 0, "state": {"running": {}}}],
        ),
        _service("db", "pooler", 6432, "pgbouncer"),
        _endpoints("db", "pooler", 1, 0),
    ]
    logs = [_logs("orders", "orders-api-h31-p0", "api", _WAITED, "scope")]
    return _evidence(objects, _ORDERS, logs)


def test_pooler_errors_are_recognised_without_a_host() -> None:
    assert POOLER_ERROR.search(_WAITED)
    assert POOLER_ERROR.search(
        "FATAL:  no more connections allowed (max_client_conn) (SQLSTATE 08P01)"
    )
    assert POOLER_ERROR.search(
        "Max connect timeout reached while reaching hostgroup 10 after 10000ms"
    )
    assert not POOLER_ERROR.search("GET /v1/orders 200 in 12ms")


def test_pooler_rolled_out_before_its_clients_waits_is_rolled_back() -> None:
    ev = _orders_behind_pooler(
        pooler_revisions=(
            (6, 40 * 24 * 60, "registry.example/pgbouncer:1.23"),
            (7, 25, "registry.example/pgbouncer:1.23"),
        )
    )
    changed = [f for f in run_analyzers(ev).findings if f.analyzer == "dependency-change"]
    assert [(f.category, f.action, f.target.name) for f in changed] == [
        (Category.BAD_ROLLOUT, Action.ROLLBACK, "pooler")
    ]


def test_unchanged_pooler_is_not_rolled_back() -> None:
    ev = _orders_behind_pooler(
        pooler_revisions=((6, 40 * 24 * 60, "registry.example/pgbouncer:1.23"),)
    )
    assert all(f.analyzer != "dependency-change" for f in run_analyzers(ev).findings)
