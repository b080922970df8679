"""Checks that a node's completed reboot is history, not a present node fault: one
``Rebooted`` event of a node that reports Ready again (a kured or patch reboot) blames
neither the node-localized rule (replicas failing only there) nor the node rule (a node
event), so a pod that fails after the reboot restarted it is judged by its own evidence; a
node rebooting again and again, or not Ready since, is still the node's failure.

Real: Evidence models from ``tests.support.evidence``, ``reboot_behind_it`` and the whole
analyzer registry.
"""

from __future__ import annotations

from kubetriage.analyzers.support import reboot_behind_it
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import NodeEvidence, PodEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import (
    analyze,
    by_category,
    container,
    crash_looping,
    event,
    evidence,
    pod,
)

REBOOTED = "worker-3"
NODE = ObjectRef(kind="Node", name=REBOOTED)


def _replica(suffix: str, node: str, *, failing: bool) -> PodEvidence:
    return pod(
        f"checkout-7d9f6c8b5-{suffix}",
        crash_looping("app") if failing else container("app"),
        node=node,
    )


def _evidence(*, count: int = 1, ready: str = "True") -> Evidence:
    reboot = event(
        "Rebooted",
        f"Node {REBOOTED} has been rebooted, boot id: 6d0f3a9e-41b7-4c2a-9e85-b13c7d2f0e64",
        name=REBOOTED,
        kind="Node",
        namespace=None,
        count=count,
    )
    return evidence(
        pods=[
            _replica("aaaaa", "worker-1", failing=False),
            _replica("bbbbb", "worker-2", failing=False),
            _replica("ccccc", REBOOTED, failing=True),
        ],
        nodes=[
            NodeEvidence(name="worker-1", ready="True"),
            NodeEvidence(name="worker-2", ready="True"),
            NodeEvidence(name=REBOOTED, ready=ready),
        ],
        events=[reboot],
    )


def _blames_the_node(ev: Evidence) -> bool:
    return any(f.target == NODE for f in by_category(analyze(ev), Category.NODE_FAILURE))


def test_one_reboot_of_a_node_ready_again_is_behind_it() -> None:
    ev = _evidence()
    assert reboot_behind_it(ev.events[0], ev.nodes[2])
    assert not _blames_the_node(ev)


def test_a_node_rebooting_again_and_again_is_still_failing() -> None:
    ev = _evidence(count=4)
    assert not reboot_behind_it(ev.events[0], ev.nodes[2])
    top = analyze(ev).findings[0]
    assert (top.category, top.action, top.target) == (
        Category.NODE_FAILURE,
        Action.DRAIN_NODE,
        NODE,
    )


def test_a_reboot_the_node_is_not_ready_since_is_still_its_failure() -> None:
    ev = _evidence(ready="False")
    assert not reboot_behind_it(ev.events[0], ev.nodes[2])
    assert _blames_the_node(ev)
