"""Checks the callee-node rule: when the node lifecycle controller marks a called dependency's
replicas on one node not ready (``NodeNotReady`` warnings on its pods) while its replicas on
other nodes are untouched, the caller's failures are that node's: node-failure, drain the Node,
ranked above escalating to the dependency's owner. Marks on two nodes, on every replica, or
without the pods' nodes conclude nothing, unless every replica is on one node that reports
itself not Ready; the dependency summary carries each pod's node.

Real: the analyzer registry on Evidence models (tests/support/evidence.py factories) and the
dependency summary on raw objects.
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.nodes import CONFIDENCE, check_callee_node
from kubetriage.combine import combine
from kubetriage.evidence.dependency_summary import summarise_dependency
from kubetriage.evidence.index import ObjectIndex
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.notes import Notes
from kubetriage.evidence.summaries.dependency_details import dependency_details
from kubetriage.models.base import ObjectRef
from kubetriage.models.diagnosis import LLMUsage
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import NodeEvidence, PodCondition
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from kubetriage.votes import superseded
from tests.support.built import service_manifest
from tests.support.evidence import (
    CHECKOUT_POD,
    analyze,
    by_category,
    checkout_evidence,
    container,
    log,
    naming,
    service,
)

FLAKY = "bm-w-r2-14"
NO_LLM = LLMUsage(used=False, reason="not configured")
NODES = {
    "ledger-6f-a": "bm-w-r2-11",
    "ledger-6f-b": FLAKY,
    "ledger-6f-c": FLAKY,
    "ledger-6f-d": "bm-w-r2-12",
}
UNAVAILABLE = (
    "ERROR PostEntry failed: rpc error: code = Unavailable desc = connection reset by peer "
    "(ledger-grpc.ledger.svc.cluster.local:9090)"
)


def _ledger(*marked: str, nodes: dict[str, str] | None = None) -> DependencyEvidence:
    return DependencyEvidence(
        service=service("ledger-grpc", "ledger", ready=4),
        ref=ObjectRef(kind="Service", namespace="ledger", name="ledger-grpc"),
        named_by=naming("pod checkout env LEDGER_TARGET"),
        pods=4,
        ready_replicas=4,
        pod_nodes=NODES if nodes is None else nodes,
        warnings=[f"Pod/{pod} NodeNotReady: Node is not ready" for pod in marked],
    )


def _evidence(dependency: DependencyEvidence) -> Evidence:
    return checkout_evidence(
        container("app"),
        dependencies=[dependency],
        logs=[log(CHECKOUT_POD, "app", UNAVAILABLE)],
    )


def test_callee_replicas_marked_on_one_node_blame_the_node() -> None:
    ev = _evidence(_ledger("ledger-6f-b", "ledger-6f-c"))
    result = analyze(ev)
    first = by_category(result, Category.NODE_FAILURE)[0]
    assert (first.action, first.target) == (Action.DRAIN_NODE, ObjectRef(kind="Node", name=FLAKY))
    assert first.confidence == CONFIDENCE.callee_node
    # Escalating to the callee's owner is superseded: the node explains the callee's failure.
    escalations = [f for f in result.findings if f.action is Action.ESCALATE]
    assert escalations
    assert all(superseded(f, list(result.findings)) for f in escalations)
    diagnosis = combine(
        evidence=ev, findings=list(result.findings), opinion=None, llm=NO_LLM, similar=[]
    )
    assert diagnosis.category is Category.NODE_FAILURE
    assert diagnosis.remediations[0].action is Action.DRAIN_NODE


def test_marks_on_two_nodes_or_on_every_replica_conclude_nothing() -> None:
    assert check_callee_node(_evidence(_ledger("ledger-6f-a", "ledger-6f-b"))) == []
    all_on_one = {pod: FLAKY for pod in NODES}
    assert check_callee_node(_evidence(_ledger("ledger-6f-b", nodes=all_on_one))) == []
    assert check_callee_node(_evidence(_ledger("ledger-6f-b", nodes={}))) == []


def test_unmarked_dependency_is_left_to_the_dependency_rules() -> None:
    result = analyze(_evidence(_ledger()))
    assert not by_category(result, Category.NODE_FAILURE)


def test_dependency_summary_records_each_pods_node() -> None:
    pods = [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "ledger", "labels": {"app": "ledger-grpc"}},
            "spec": {"nodeName": node, "containers": [{"name": "ledger", "image": "ledger:1"}]},
            "status": {"phase": "Running"},
        }
        for name, node in NODES.items()
    ]
    summary = summarise_dependency(
        service("ledger-grpc", "ledger", selector={"app": "ledger-grpc"}, ready=4),
        None,
        naming("pod checkout env LEDGER_TARGET"),
        pods,
        EvidenceLimits(),
    )
    assert summary.pod_nodes == NODES


# --- a callee whose every replica is on the failing node -------------------------------------

LONE = {"cache-0": FLAKY}
STOPPED = "Kubelet stopped posting node status."


def _down_node(ready: str) -> NodeEvidence:
    condition = PodCondition(
        type="Ready",
        status=ready,
        reason="NodeStatusUnknown" if ready != "True" else "KubeletReady",
        message="Kubelet stopped posting node status." if ready != "True" else None,
    )
    return NodeEvidence(name=FLAKY, ready=ready, conditions=[condition])


def _lone(ready: str) -> Evidence:
    dependency = _ledger("cache-0", nodes=LONE)
    return _evidence(dependency).model_copy(update={"nodes": [_down_node(ready)]})


def test_a_lone_callee_replica_on_a_node_reporting_itself_down_blames_the_node() -> None:
    result = analyze(_lone("Unknown"))
    first = by_category(result, Category.NODE_FAILURE)[0]
    assert (first.action, first.target) == (Action.DRAIN_NODE, ObjectRef(kind="Node", name=FLAKY))
    assert first.confidence == CONFIDENCE.callee_node_down
    assert any("Kubelet stopped posting" in e.fact for e in first.evidence)
    escalations = [f for f in result.findings if f.action is Action.ESCALATE]
    assert all(superseded(f, list(result.findings)) for f in escalations)


def test_a_lone_callee_replica_on_a_node_back_to_ready_concludes_nothing() -> None:
    # Near miss: the mark is from a blip; the node reports Ready again.
    assert check_callee_node(_lone("True")) == []


def test_a_down_node_under_an_unmarked_lone_replica_is_left_to_the_dependency_rules() -> None:
    # Near miss: the node is down, but nothing says the callee's replica is on it and marked.
    dependency = _ledger(nodes=LONE)
    ev = _evidence(dependency).model_copy(update={"nodes": [_down_node("Unknown")]})
    assert check_callee_node(ev) == []


def test_the_dependency_summarys_down_node_is_enough_without_the_node_in_view() -> None:
    # The incident's evidence lists only its own pods' nodes; the dependency's summary read
    # the callee's node.
    dependency = _ledger("cache-0", nodes=LONE).model_copy(
        update={"down_nodes": {FLAKY: "Unknown: Kubelet stopped posting node status."}}
    )
    (found,) = check_callee_node(_evidence(dependency))
    assert found.target == ObjectRef(kind="Node", name=FLAKY)


def _node_object(name: str, ready: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "status": {"conditions": [{"type": "Ready", "status": ready, "message": STOPPED}]},
    }


def test_the_dependency_details_record_the_nodes_of_its_pods_that_are_down() -> None:
    spec: dict[str, Any] = {"nodeName": FLAKY, "containers": [{"name": "cache", "image": "c:1"}]}
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "cache-0", "namespace": "ledger", "labels": {"app": "cache"}},
        "spec": spec,
        "status": {"phase": "Running"},
    }
    svc = service_manifest("cache", "ledger", {"app": "cache"}, port=6379)
    well = "bm-w-r2-11"
    objects = [svc, pod, _node_object(FLAKY, "Unknown"), _node_object(well, "True")]
    index = ObjectIndex(objects, Notes())
    found = dependency_details(
        index, svc, naming("pod checkout env CACHE_URL"), objects, (), EvidenceLimits(), [], None
    )
    assert found.down_nodes == {FLAKY: "Unknown: Kubelet stopped posting node status."}
    # Near miss: a Ready node is not recorded.
    spec["nodeName"] = well
    again = dependency_details(
        index, svc, naming("pod checkout env CACHE_URL"), objects, (), EvidenceLimits(), [], None
    )
    assert again.down_nodes == {}
