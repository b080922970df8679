"""Checks which healthy replicas' logs are read: the first pods (troubled first, then the
newest) and the longest-running ready one, whose log spans the whole window when an
autoscaler has just added replicas that started after the symptom began.

Real: ``kubetriage.evidence.logs.log_requests`` on API-shaped pods.
"""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.index import sort_pods
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.logs import log_requests


def _pod(name: str, created: str, *, ready: bool = True) -> dict[str, Any]:
    return {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "ns", "creationTimestamp": created},
        "spec": {"containers": [{"name": "app"}]},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [
                {"name": "app", "ready": ready, "restartCount": 0, "state": {"running": {}}}
            ],
        },
    }


def _read(pods: list[dict[str, Any]]) -> list[str]:
    return [pod for _, pod, _, _ in log_requests(sort_pods(pods), [], EvidenceLimits())]


def test_the_oldest_ready_replica_is_read_after_the_newest_ones() -> None:
    pods = [
        _pod("old-a", "2026-11-10T15:20:30Z"),
        _pod("old-b", "2026-11-12T15:20:30Z"),
        _pod("mid", "2026-11-19T15:20:30Z"),
        _pod("new-a", "2026-11-20T09:24:31Z"),
        _pod("new-b", "2026-11-20T09:28:46Z"),
    ]
    assert _read(pods) == ["new-b", "new-a", "mid", "old-a"]


def test_few_replicas_are_read_as_before() -> None:
    pods = [_pod("a", "2026-11-10T15:20:30Z"), _pod("b", "2026-11-20T09:28:46Z")]
    assert _read(pods) == ["b", "a"]


def test_a_replica_that_is_not_ready_is_no_veteran() -> None:
    pods = [
        _pod("old-unready", "2026-11-01T00:00:00Z", ready=False),
        _pod("old", "2026-11-10T15:20:30Z"),
        _pod("mid", "2026-11-19T15:20:30Z"),
        _pod("new-a", "2026-11-20T09:24:31Z"),
        _pod("new-b", "2026-11-20T09:28:46Z"),
    ]
    read = _read(pods)
    assert read[0] == "old-unready"  # troubled: read first anyway
    assert "old" in read
