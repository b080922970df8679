"""Checks what the unschedulable finding puts first when the scheduler gives several reasons,
and that its summary stays whole with long object names. When nodes the pod's node selector
matches exist, the nodes the selector rules out are nodes the pod is not meant for: the
reason that blocks it on the nodes it is meant for (a host port its own replicas hold, a
taint, a lack of CPU) leads the headline and picks the fix. When no node matches the selector
(it names a pool that is gone), the selector is the blocker whatever else the scheduler
lists. A LimitRange refusal of a workload with a long name keeps a whole sentence.

Real: Evidence models from ``tests.support.evidence`` and the whole analyzer registry; the
scheduler's and the LimitRanger's messages are their own wording.
"""

from __future__ import annotations

from kubetriage import prose
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import NodeEvidence, PodCondition
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads

HOST_PORTS = (
    "0/6 nodes are available: 2 node(s) didn't match Pod's node affinity/selector, 4 node(s) "
    "didn't have free ports for the requested pod ports. preemption: 0/6 nodes are available: "
    "2 Preemption is not helpful for scheduling, 4 No preemption victims found for incoming pod."
)
SELECTOR_AND_TAINT = (
    "0/6 nodes are available: 2 node(s) had untolerated taint "
    "{node-role.kubernetes.io/control-plane: }, 4 node(s) didn't match Pod's node "
    "affinity/selector."
)
EDGE = {"node-role.kubernetes.io/edge": ""}


def _nodes() -> list[NodeEvidence]:
    """Four edge nodes, two control-plane nodes (tainted), all ready."""
    return [NodeEvidence(name=f"edge-0{i}", ready="True", labels=EDGE) for i in range(1, 5)] + [
        NodeEvidence(
            name=f"cp-0{i}",
            ready="True",
            labels={"node-role.kubernetes.io/control-plane": ""},
            taints=["node-role.kubernetes.io/control-plane:NoSchedule"],
        )
        for i in (1, 2)
    ]


def _pending(
    message: str,
    workload: str = "checkout",
    namespace: str = "shop",
    selector: dict[str, str] | None = None,
) -> Evidence:
    pod = f"{workload}-6d5f8c7b9-r7b5f"
    return make.evidence(
        workload=make.deployment(workload, namespace, replicas=6, ready=4),
        nodes=_nodes(),
        pods=[
            make.pod(
                pod,
                make.container("app", ready=False, state=make.waiting("ContainerCreating")),
                phase="Pending",
                node=None,
                namespace=namespace,
                replica_set=f"{workload}-6d5f8c7b9",
                node_selector=EDGE if selector is None else selector,
                conditions=[
                    PodCondition(
                        type="PodScheduled", status="False", reason="Unschedulable", message=message
                    )
                ],
            )
        ],
        events=[make.event("FailedScheduling", message, name=pod, namespace=namespace, count=24)],
    )


def _whole(finding: Finding) -> None:
    assert len(finding.summary) <= prose.SUMMARY_LIMIT
    assert prose.ELLIPSIS not in finding.summary


def test_a_host_port_taken_on_every_intended_node_leads_over_the_selector() -> None:
    ref = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
    finding = assert_leads(
        analyze(_pending(HOST_PORTS)), Category.UNSCHEDULABLE, Action.FREE_CAPACITY, ref
    )
    assert finding.params["reason"] == "host port conflict, node selector or affinity"
    assert "host port" in finding.summary
    assert "node selector" not in finding.summary.split(";")[1]
    _whole(finding)


def test_a_long_name_drops_reasons_from_the_headline_not_the_sentence() -> None:
    ref = ObjectRef(kind="Deployment", namespace="ingress-nginx", name="ingress-nginx-controller")
    ev = _pending(HOST_PORTS, "ingress-nginx-controller", "ingress-nginx")
    finding = assert_leads(analyze(ev), Category.UNSCHEDULABLE, Action.FREE_CAPACITY, ref)
    _whole(finding)
    assert "host port" in finding.summary


def test_a_taint_on_other_nodes_leads_when_the_selected_nodes_exist() -> None:
    ev = _pending(
        HOST_PORTS.replace(
            "didn't have free ports for the requested pod ports",
            "had untolerated taint {dedicated: edge}",
        )
    )
    finding = assert_leads(
        analyze(ev),
        Category.UNSCHEDULABLE,
        Action.FREE_CAPACITY,
        ObjectRef(kind="Deployment", namespace="shop", name="checkout"),
    )
    assert finding.params["reason"] == "untolerated taint, node selector or affinity"


def test_a_selector_no_node_matches_leads_over_the_taints_of_other_nodes() -> None:
    # Near miss: the selector names a pool that is gone; the tainted control-plane nodes are
    # not where the pod belongs, the selector is what to fix.
    ev = _pending(SELECTOR_AND_TAINT, selector={"agentpool": "userpool-old"})
    finding = assert_leads(
        analyze(ev),
        Category.UNSCHEDULABLE,
        Action.FREE_CAPACITY,
        ObjectRef(kind="Deployment", namespace="shop", name="checkout"),
    )
    assert finding.params["reason"] == "node selector or affinity, untolerated taint"
    assert "fix the node selector" in finding.summary


def test_a_limit_range_refusal_keeps_a_whole_sentence_with_a_long_name() -> None:
    name = "catalog-search-indexer-backfill"
    ev = make.evidence(
        workload=make.deployment(name, "catalog-platform", replicas=4, ready=3),
        pods=[
            make.pod(
                f"{name}-7c4b9d5f8-{s}",
                make.container("app"),
                namespace="catalog-platform",
                replica_set=f"{name}-7c4b9d5f8",
            )
            for s in ("9xk2m", "f4tqz", "l7wpd")
        ],
        events=[
            make.event(
                "FailedCreate",
                f'Error creating: pods "{name}-59d7c8f6b-" is forbidden: memory max limit to '
                "request ratio per Container is 2, but provided ratio is 4.000000",
                name=f"{name}-59d7c8f6b",
                namespace="catalog-platform",
                kind="ReplicaSet",
                count=17,
            )
        ],
    )
    ref = ObjectRef(kind="Deployment", namespace="catalog-platform", name=name)
    finding = assert_leads(analyze(ev), Category.UNSCHEDULABLE, Action.FREE_CAPACITY, ref)
    _whole(finding)
    assert "LimitRange" in finding.summary
