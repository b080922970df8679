"""Checks the callee OOM-killed once as the caller's calls began to fail
(``callee_oom_onset``): one kill that ends within minutes of the caller's first failing call,
while the incident still fires, is the dependency's memory to raise; a kill long before the
failures began, a caller log without timestamps, a run that ended for another reason, or
kills again and again (``oom.killed_again``'s) are not this rule's."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kubetriage.analyzers import run_analyzers
from kubetriage.analyzers.callee_oom_onset import check_callee_oom_at_onset
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

_WORKER = ObjectRef(kind="Deployment", namespace="jobs", name="worker")


def _at(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _queue_killed(
    *,
    restarts: int = 1,
    last: str = "OOMKilled",
    killed_minutes_ago: float = 29,
    failing_minutes_ago: float | None = 29,
) -> Evidence:
    worker = _container(
        "worker",
        "registry.example/worker:2.11.0",
        {"http": 8080},
        env=[{"name": "REDIS_URL", "value": "redis://queue.jobs.svc.cluster.local:6379"}],
    )
    queue = _container("redis", "registry.example/redis:7.2.6", {"redis": 6379})
    status: dict[str, Any] = {
        "ready": True,
        "restartCount": restarts,
        "state": {"running": {"startedAt": _at(killed_minutes_ago - 0.1)}},
        "lastState": {
            "terminated": {"reason": last, "exitCode": 137, "finishedAt": _at(killed_minutes_ago)}
        },
    }
    objects = [
        *_workload(
            "jobs",
            "worker",
            worker,
            revisions=((7, 30 * 24 * 60, "registry.example/worker:2.11.0"),),
            statuses=[{"ready": True, "restartCount": 0, "state": {"running": {}}}],
        ),
        *_workload(
            "jobs",
            "queue",
            queue,
            revisions=((2, 60 * 24 * 60, "registry.example/redis:7.2.6"),),
            statuses=[status],
        ),
        _service("jobs", "queue", 6379, "redis"),
        _endpoints("jobs", "queue", 1, 0),
    ]
    reset = "redis connection lost: read ECONNRESET (queue.jobs.svc.cluster.local:6379)"
    line = reset if failing_minutes_ago is None else f"{_at(failing_minutes_ago)} ERROR {reset}"
    return _evidence(objects, _WORKER, [_logs("jobs", "worker-h12-p0", "worker", line, "scope")])


def test_callee_killed_once_as_the_callers_calls_began_to_fail_is_its_memory() -> None:
    run = run_analyzers(_queue_killed())
    first = run.findings[0]
    assert (first.analyzer, first.category, first.action, first.target) == (
        "callee-oom-killed-at-onset",
        Category.OOM_KILLED,
        Action.INCREASE_MEMORY,
        ObjectRef(kind="Deployment", namespace="jobs", name="queue"),
    )
    assert first.params.get("container") == "redis"


def test_a_kill_apart_from_the_first_failure_or_an_untimed_log_is_not_the_onset() -> None:
    # the kill ended 20 minutes before the caller's first failing call, and a log line
    # without a timestamp cannot be ordered against the kill
    assert not check_callee_oom_at_onset(_queue_killed(failing_minutes_ago=9))
    assert not check_callee_oom_at_onset(_queue_killed(failing_minutes_ago=None))


def test_another_ending_or_kills_again_and_again_are_not_this_rule() -> None:
    assert not check_callee_oom_at_onset(_queue_killed(last="Error"))
    # three kills within the hour are oom.killed_again's (callee-oom-killed)
    assert not check_callee_oom_at_onset(_queue_killed(restarts=3))
