"""Checks that an eviction for exceeding the pod's own emptyDir or ephemeral-storage limit is
the pod's doing, not its node's: no node is blamed for it, while an eviction for the node's
pressure still blames the node.

Everything is real: Evidence models from ``tests.support.evidence`` and ``run_analyzers``.
"""

from __future__ import annotations

from kubetriage.analyzers.pods import own_limit_eviction
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import NodeEvidence, PodCondition
from kubetriage.models.vocabulary import Category
from tests.support import evidence as make
from tests.support.evidence import analyze, by_category

_EMPTYDIR = 'Usage of EmptyDir volume "app-logs" exceeds the limit "2Gi". '
_NODE_PRESSURE = (
    "The node was low on resource: ephemeral-storage. Threshold quantity: 10%, available: 8%. "
)


def test_own_limit_eviction_words() -> None:
    assert own_limit_eviction(_EMPTYDIR)
    assert own_limit_eviction(
        "Pod ephemeral local storage usage exceeds the total limit of containers 1Gi. "
    )
    assert own_limit_eviction('Container app exceeded its local ephemeral storage limit "1Gi". ')
    assert not own_limit_eviction(_NODE_PRESSURE)
    assert not own_limit_eviction(None)


def _evicted(message: str) -> Evidence:
    node = NodeEvidence(
        name="worker-1", ready="True", conditions=[PodCondition(type="Ready", status="True")]
    )
    evicted = make.pod(
        "checkout-7d9f6c8b5-ev001",
        make.container("app", ready=False, state=make.terminated("Error", 137)),
        phase="Failed",
        reason="Evicted",
        message=message,
    )
    return make.evidence(
        workload=make.deployment(replicas=2, ready=1),
        nodes=[node],
        pods=[evicted, make.pod("checkout-7d9f6c8b5-ok001", make.container("app"))],
        events=[make.event("Evicted", message, name=evicted.name)],
    )


def test_eviction_for_own_emptydir_limit_does_not_blame_the_node() -> None:
    assert not by_category(analyze(_evicted(_EMPTYDIR)), Category.NODE_FAILURE)


def test_eviction_for_node_pressure_still_blames_the_node() -> None:
    found = by_category(analyze(_evicted(_NODE_PRESSURE)), Category.NODE_FAILURE)
    assert found
    assert found[0].target == ObjectRef(kind="Node", name="worker-1")
