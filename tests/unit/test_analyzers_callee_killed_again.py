"""Checks the callee killed for memory again and again while it serves between kills: a
dependency whose pods are all ready now but restarted OOMKilled twice or more within the hour
(``dependency_summary.restarted``, ``oom.killed_again``) is what drops the caller's calls, above
a rollout of the caller's own that came before the kills; one kill long ago, or kills of
another reason, are not."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kubetriage.analyzers import run_analyzers
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import NOW
from tests.unit.test_analyzers_callee_causes import (
    _container,
    _endpoints,
    _evidence,
    _logs,
    _service,
    _workload,
)

_POOLER = ObjectRef(kind="Deployment", namespace="db", name="pooler")
_CANNOT_CONNECT = (
    "WARNING C-0x55: app/app@10.0.3.1:40112 pooler error: could not connect to "
    "orders-db.db.svc.cluster.local:5432"
)


def _ended(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _serving_after(restarts: int, last: str, ended_minutes_ago: float) -> dict[str, Any]:
    return {
        "ready": True,
        "restartCount": restarts,
        "state": {"running": {"startedAt": _ended(ended_minutes_ago - 0.1)}},
        "lastState": {
            "terminated": {"reason": last, "exitCode": 137, "finishedAt": _ended(ended_minutes_ago)}
        },
    }


def _pooler_in_front_of_database(
    *, restarts: int, last: str, ended_minutes_ago: float, pooler_rolled_minutes: float = 75
) -> Evidence:
    pooler = _container(
        "pooler",
        "registry.example/pooler:1.23-r5",
        {"pgbouncer": 6432},
        env=[{"name": "DB_HOST", "value": "orders-db.db.svc.cluster.local"}],
    )
    database = _container("postgres", "registry.example/postgres:16.4", {"postgres": 5432})
    objects = [
        *_workload(
            "db",
            "pooler",
            pooler,
            revisions=(
                (11, 40 * 24 * 60, "registry.example/pooler:1.23-r3"),
                (12, pooler_rolled_minutes, "registry.example/pooler:1.23-r5"),
            ),
            statuses=[{"ready": True, "restartCount": 0, "state": {"running": {}}}],
        ),
        *_workload(
            "db",
            "orders-db",
            database,
            revisions=((3, 60 * 24 * 60, "registry.example/postgres:16.4"),),
            statuses=[_serving_after(restarts, last, ended_minutes_ago)],
        ),
        _service("db", "orders-db", 5432, "postgres"),
        _endpoints("db", "orders-db", 1, 0),
    ]
    logs = [_logs("db", "pooler-h12-p0", "pooler", _CANNOT_CONNECT, "scope")]
    return _evidence(objects, _POOLER, logs)


def test_ready_dependency_pod_keeps_its_restarts_and_when_the_last_run_ended() -> None:
    ev = _pooler_in_front_of_database(restarts=3, last="OOMKilled", ended_minutes_ago=8)
    database = next(d for d in ev.dependencies if d.workload and d.workload.name == "orders-db")
    assert not database.failing_pods
    [again] = database.restarted_pods
    assert (again.restarts, again.last_terminated) == (3, "OOMKilled")
    assert again.last_finished == NOW.replace(microsecond=0) - timedelta(minutes=8)


def test_callee_killed_again_and_again_outranks_the_callers_earlier_rollout() -> None:
    run = run_analyzers(
        _pooler_in_front_of_database(restarts=3, last="OOMKilled", ended_minutes_ago=8)
    )
    first = run.findings[0]
    assert (first.category, first.action, first.target) == (
        Category.OOM_KILLED,
        Action.INCREASE_MEMORY,
        ObjectRef(kind="Deployment", namespace="db", name="orders-db"),
    )
    assert first.params.get("container") == "postgres"


def test_one_kill_or_an_old_kill_or_another_reason_is_not_killed_again() -> None:
    for restarts, last, ended in ((1, "OOMKilled", 8), (3, "OOMKilled", 300), (3, "Error", 8)):
        run = run_analyzers(
            _pooler_in_front_of_database(restarts=restarts, last=last, ended_minutes_ago=ended)
        )
        assert all(f.analyzer != "callee-oom-killed" for f in run.findings), (restarts, last)
