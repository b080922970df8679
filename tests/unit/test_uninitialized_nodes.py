"""Checks the unschedulable finding's constraint for nodes the cloud provider has not
initialized: when the scheduler names the ``node.cloudprovider.kubernetes.io/uninitialized``
taint and Ready nodes still carry it, the finding says those nodes wait for the cloud
controller manager and points there before adding nodes (the action stays free-capacity on
the workload). Near misses: the tainted node is not Ready (a node that is down is another
rule's case), the scheduler does not name that taint (the nodes are full, not
uninitialized), and a Ready node carries another taint the scheduler names. The node summary
keeps the taints' keys as the Node spec sets them.

Real: Evidence models from ``tests.support.evidence``, the whole analyzer registry and the
node summary of the evidence builder; the scheduler's messages are its own wording.
"""

from __future__ import annotations

from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.summaries.nodes import node_summary
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import NodeEvidence, PodCondition
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads

UNINITIALIZED = "node.cloudprovider.kubernetes.io/uninitialized"
WAITING = (
    "0/5 nodes are available: 2 Insufficient cpu, 2 node(s) had untolerated taint "
    "{node.cloudprovider.kubernetes.io/uninitialized: true}, 1 node(s) had untolerated taint "
    "{node-role.kubernetes.io/control-plane: true}. preemption: 0/5 nodes are available: "
    "2 No preemption victims found for incoming pod, 3 Preemption is not helpful for scheduling."
)
FULL = (
    "0/5 nodes are available: 4 Insufficient cpu, 1 node(s) had untolerated taint "
    "{node-role.kubernetes.io/control-plane: true}. preemption: 0/5 nodes are available: "
    "4 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling."
)
DEDICATED = WAITING.replace(
    "{node.cloudprovider.kubernetes.io/uninitialized: true}", "{dedicated: batch}"
)
REF = ObjectRef(kind="Deployment", namespace="shop", name="checkout")


def _tainted(name: str, key: str, ready: str = "True") -> NodeEvidence:
    return NodeEvidence(name=name, ready=ready, taints=[f"{key}=true:NoSchedule"], taint_keys=[key])


def _pending(message: str, nodes: list[NodeEvidence]) -> Evidence:
    pod = "checkout-6f9d8c5b7d-d7j2x"
    return make.evidence(
        workload=make.deployment("checkout", "shop", replicas=9, ready=6),
        nodes=[NodeEvidence(name=f"worker-{i}", ready="True") for i in (1, 2)] + nodes,
        pods=[
            make.pod(
                pod,
                make.container("app", ready=False, state=make.waiting("ContainerCreating")),
                phase="Pending",
                node=None,
                namespace="shop",
                replica_set="checkout-6f9d8c5b7d",
                conditions=[
                    PodCondition(
                        type="PodScheduled", status="False", reason="Unschedulable", message=message
                    )
                ],
            )
        ],
        events=[make.event("FailedScheduling", message, name=pod, namespace="shop", count=8)],
    )


def test_ready_nodes_still_uninitialized_point_at_the_cloud_controller_manager() -> None:
    nodes = [_tainted("worker-3", UNINITIALIZED), _tainted("worker-4", UNINITIALIZED)]
    finding = assert_leads(
        analyze(_pending(WAITING, nodes)), Category.UNSCHEDULABLE, Action.FREE_CAPACITY, REF
    )
    assert "cloud controller manager" in finding.summary
    assert "2 Ready nodes" in finding.summary
    assert {"node/worker-3", "node/worker-4"} <= {e.source for e in finding.evidence}


def test_an_uninitialized_node_that_is_not_ready_is_not_waiting_for_the_controller() -> None:
    nodes = [_tainted("worker-3", UNINITIALIZED, ready="False")]
    finding = assert_leads(
        analyze(_pending(WAITING, nodes)), Category.UNSCHEDULABLE, Action.FREE_CAPACITY, REF
    )
    assert "cloud controller manager" not in finding.summary


def test_full_nodes_are_not_blamed_on_a_taint_the_scheduler_does_not_name() -> None:
    nodes = [_tainted("worker-3", UNINITIALIZED)]
    finding = assert_leads(
        analyze(_pending(FULL, nodes)), Category.UNSCHEDULABLE, Action.FREE_CAPACITY, REF
    )
    assert "cloud controller manager" not in finding.summary
    assert "node/worker-3" not in {e.source for e in finding.evidence}


def test_another_taint_on_ready_nodes_is_not_the_cloud_providers() -> None:
    nodes = [_tainted("worker-3", "dedicated"), _tainted("worker-4", "dedicated")]
    finding = assert_leads(
        analyze(_pending(DEDICATED, nodes)), Category.UNSCHEDULABLE, Action.FREE_CAPACITY, REF
    )
    assert "cloud controller manager" not in finding.summary


def test_the_node_summary_keeps_the_keys_of_its_taints() -> None:
    node = {
        "metadata": {"name": "worker-3"},
        "spec": {
            "taints": [
                {"key": UNINITIALIZED, "value": "true", "effect": "NoSchedule"},
                {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"},
            ]
        },
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    summary = node_summary(node, EvidenceLimits())
    assert summary.taint_keys == [UNINITIALIZED, "node.kubernetes.io/unschedulable"]
    assert summary.taints == [
        f"{UNINITIALIZED}=true:NoSchedule",
        "node.kubernetes.io/unschedulable:NoSchedule",
    ]
