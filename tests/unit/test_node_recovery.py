"""Checks that a node's pressure event the kubelet has since reported ended (its
``NodeHasNoDiskPressure`` after the ``NodeHasDiskPressure``, hours before the alert) is
history, not a failing node to drain; contrasts that keep the node's finding: the node still
reports the condition, the recovery came before the pressure (it returned), and a recovery
reported for another node.

Everything is real: Evidence models from ``tests.support.evidence`` and ``run_analyzers``.
"""

from __future__ import annotations

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import EventEvidence, NodeEvidence, PodCondition
from kubetriage.models.vocabulary import Category
from tests.support import evidence as make
from tests.support.evidence import ago, analyze, by_category

POD = "uploader-7c4b9f6d58-w4kzp"


def _node_event(reason: str, node: str, minutes_ago: int) -> EventEvidence:
    return EventEvidence(
        type="Normal",
        reason=reason,
        message=f"Node {node} status is now: {reason}",
        involved=ObjectRef(kind="Node", namespace=None, name=node),
        first_seen=ago(minutes_ago),
        last_seen=ago(minutes_ago),
    )


def _evidence(events: list[EventEvidence], *, pressure: bool = False) -> Evidence:
    conditions = [PodCondition(type="DiskPressure", status="True")] if pressure else []
    return make.app_evidence(
        POD,
        make.container("uploader"),
        nodes=[NodeEvidence(name="worker-1", ready="True", conditions=conditions)],
        events=events,
    )


def _node_findings(ev: Evidence) -> list[Finding]:
    return by_category(analyze(ev), Category.NODE_FAILURE)


def test_a_pressure_the_kubelet_reported_ended_is_no_failing_node() -> None:
    events = [
        _node_event("NodeHasDiskPressure", "worker-1", 420),
        _node_event("NodeHasNoDiskPressure", "worker-1", 413),
    ]
    assert not _node_findings(_evidence(events))


def test_a_node_still_under_pressure_or_under_it_again_is_still_the_nodes() -> None:
    ended = [
        _node_event("NodeHasDiskPressure", "worker-1", 420),
        _node_event("NodeHasNoDiskPressure", "worker-1", 413),
    ]
    assert _node_findings(_evidence(ended, pressure=True))
    again = [
        _node_event("NodeHasNoDiskPressure", "worker-1", 413),
        _node_event("NodeHasDiskPressure", "worker-1", 5),
    ]
    assert _node_findings(_evidence(again))
    elsewhere = [
        _node_event("NodeHasDiskPressure", "worker-1", 420),
        _node_event("NodeHasNoDiskPressure", "worker-2", 413),
    ]
    assert _node_findings(_evidence(elsewhere))
