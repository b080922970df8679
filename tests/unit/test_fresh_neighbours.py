"""Checks the neighbour whose trouble starts with the alert: among the workloads of the
incident's namespace outside its own (and outside its application), the one whose pods began
restarting repeatedly within the hour before the alert fired is kept as a sibling, with when
its restarts can have begun (estimated from its pods' restart count and last run), and the
rules that read a workload's own pods speak for it when the alerted workload is healthy. Near
misses keep nothing: a neighbour restarting for days (chronic), one that restarted once, one
whose last exit is hours old, one whose restarts can only have begun after the alert fired,
and two neighbours whose restarts both began (not one explanation).

Real: ``build_evidence`` over raw manifests (pods with the status fields the kubelet writes),
``fresh_restarts``' estimate, and ``run_analyzers``; the objects and times are synthetic.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kubetriage.analyzers.siblings import CONFIDENCE, NAME
from kubetriage.evidence.summaries.fresh_restarts import fresh_neighbour, restarts_began
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from kubetriage.models.vocabulary import Action, Category
from tests.support.built import built
from tests.support.evidence import NOW, analyze

NS = "shop"
EDGE = ObjectRef(kind="Deployment", namespace=NS, name="edge")
CACHE = ObjectRef(kind="Deployment", namespace=NS, name="cache")


def _at(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _status(restarts: int, run: tuple[float, float] | None, now_since: float) -> dict[str, Any]:
    """A container status: ``restarts`` restarts, its last run from ``run[0]`` to ``run[1]``
    minutes ago (OOM-killed), running again since ``now_since`` minutes ago."""
    status: dict[str, Any] = {
        "name": "main",
        "ready": True,
        "restartCount": restarts,
        "state": {"running": {"startedAt": _at(now_since)}},
    }
    if run is not None:
        status["lastState"] = {
            "terminated": {
                "reason": "OOMKilled",
                "exitCode": 137,
                "startedAt": _at(run[0]),
                "finishedAt": _at(run[1]),
            }
        }
    return status


def _workload(
    name: str,
    status: dict[str, Any],
    *,
    created_days_ago: float = 14,
    memory: str = "512Mi",
) -> list[dict[str, Any]]:
    """A one-replica Deployment, its ReplicaSet and its ready pod with ``status``."""
    labels = {"app": name}
    rs, pod_hash = f"{name}-6d9f7c8b5d", "6d9f7c8b5d"
    container = {
        "name": "main",
        "image": f"{name}:1",
        "resources": {"limits": {"memory": memory}, "requests": {"memory": memory}},
    }
    template = {"metadata": {"labels": labels}, "spec": {"containers": [container]}}
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": NS, "uid": f"{name}-uid", "labels": labels},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": template},
            "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": rs,
                "namespace": NS,
                "uid": f"{rs}-uid",
                "labels": {**labels, "pod-template-hash": pod_hash},
                "annotations": {"deployment.kubernetes.io/revision": "1"},
                "ownerReferences": [
                    {"kind": "Deployment", "name": name, "uid": f"{name}-uid", "controller": True}
                ],
            },
            "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": template},
            "status": {"replicas": 1, "readyReplicas": 1},
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"{rs}-k7p2z",
                "namespace": NS,
                "labels": {**labels, "pod-template-hash": pod_hash},
                "creationTimestamp": _at(created_days_ago * 24 * 60),
                "ownerReferences": [
                    {"kind": "ReplicaSet", "name": rs, "uid": f"{rs}-uid", "controller": True}
                ],
            },
            "spec": {"containers": [container], "nodeName": "node-1"},
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [status],
            },
        },
    ]


HEALTHY = _status(0, None, 14 * 24 * 60)
# Killed four times in the last 45 minutes, each run about 11 minutes: began with the alert.
FRESH = _status(4, (13, 2), 2)
# Restarting every 11 minutes for days: 400 restarts.
CHRONIC = _status(400, (13, 2), 2)


def _alert(minutes_ago: float = 2) -> Alert:
    return Alert(
        status="firing",
        labels={"alertname": "EdgeErrorRatioHigh", "namespace": NS, "service": "edge"},
        starts_at=NOW - timedelta(minutes=minutes_ago),
    )


def _evidence(*objects: dict[str, Any], alert_ago: float = 2) -> Any:
    return built([*_workload("edge", HEALTHY), *objects], EDGE, alerts=[_alert(alert_ago)])


def _pod(status: dict[str, Any], created_days_ago: float = 14) -> dict[str, Any]:
    return _workload("cache", status, created_days_ago=created_days_ago)[2]


def test_restarts_began_is_the_last_exit_minus_the_count_times_the_last_run() -> None:
    began = restarts_began(_pod(FRESH), NOW)
    # Last exit 2 minutes ago, last run 11 minutes from start to the next start, 4 restarts.
    assert began == NOW - timedelta(minutes=2 + 4 * 11)
    # Never before the pod was created.
    young = restarts_began(_pod(FRESH, created_days_ago=0.02), NOW)
    assert young == NOW - timedelta(days=0.02)


def test_a_pod_that_does_not_restart_repeatedly_now_has_no_onset() -> None:
    assert restarts_began(_pod(HEALTHY), NOW) is None
    assert restarts_began(_pod(_status(1, (13, 2), 2)), NOW) is None  # one exit
    assert restarts_began(_pod(_status(4, (200, 190), 190)), NOW) is None  # hours ago


def test_the_builder_keeps_the_one_neighbour_whose_restarts_began_with_the_alert() -> None:
    ev = _evidence(*_workload("cache", FRESH))
    [neighbour] = ev.siblings
    assert neighbour.workload.ref.key() == CACHE.key()
    assert neighbour.restarts_since == NOW - timedelta(minutes=46)
    assert [p.name for p in neighbour.pods] == ["cache-6d9f7c8b5d-k7p2z"]


def test_the_oom_rule_speaks_for_the_fresh_neighbour_of_a_healthy_workload() -> None:
    first = analyze(_evidence(*_workload("cache", FRESH))).findings[0]
    assert first.analyzer == NAME
    assert (first.category, first.action, first.target.key()) == (
        Category.OOM_KILLED,
        Action.INCREASE_MEMORY,
        CACHE.key(),
    )
    assert first.confidence <= CONFIDENCE.ceiling
    assert first.narrative is not None
    assert "began restarting" in " ".join(c.text for c in first.narrative.because)


def test_a_chronic_neighbour_does_not_explain_a_page_that_began_now() -> None:
    ev = _evidence(*_workload("cache", CHRONIC))
    assert ev.siblings == []
    assert all(f.analyzer != NAME for f in analyze(ev).findings)


def test_restarts_that_began_after_the_alert_fired_followed_it() -> None:
    # The alert fired 50 minutes ago; the neighbour's restarts can have begun 46 at most.
    assert _evidence(*_workload("cache", FRESH), alert_ago=50).siblings == []


def test_two_neighbours_whose_restarts_began_are_not_one_explanation() -> None:
    ev = _evidence(*_workload("cache", FRESH), *_workload("queue", FRESH))
    assert ev.siblings == []
    pods = [_workload(n, FRESH)[2] for n in ("cache", "queue")]
    onset = NOW - timedelta(minutes=2)
    assert fresh_neighbour(pods, ("Deployment", "edge"), onset, NOW) is None
    assert fresh_neighbour(pods[:1], ("Deployment", "edge"), onset, NOW) == (
        "Deployment",
        "cache",
    )
    # The alerted workload's own restarting pods are not a neighbour.
    assert fresh_neighbour(pods[:1], ("Deployment", "cache"), onset, NOW) is None


def test_a_finding_on_the_alerted_workload_itself_wins() -> None:
    ev = built([*_workload("edge", FRESH), *_workload("cache", FRESH)], EDGE, alerts=[_alert()])
    first = analyze(ev).findings[0]
    assert first.target.key() == EDGE.key()
    assert all(f.analyzer != NAME for f in analyze(ev).findings)
