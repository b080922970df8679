"""Checks where a degraded sibling component's replicas fail: the builder keeps the nodes its
pods are placed on (with their conditions), and when the alerted workload is healthy and the
sibling's new replicas are stuck only on one node that reports a problem (a root filesystem
remounted read-only, sandboxes that cannot be created there) while its replicas on other
nodes run, that node is the finding (node-failure, drain-node), spoken for below what it
would earn on the alerted workload. Near misses: the node reports nothing, a replica of the
same template runs on that node, the sibling's nodes were not read.

Real: ``build_evidence`` over raw manifests, the Evidence factories and ``run_analyzers``;
names, node conditions and event texts are synthetic.
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.siblings import CONFIDENCE, NAME
from kubetriage.combine import known_objects
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.neighbours import SiblingEvidence
from kubetriage.models.object_evidence import (
    EventEvidence,
    NodeEvidence,
    PodCondition,
    PodEvidence,
)
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.built import built, deployment_manifest
from tests.support.evidence import analyze, assert_leads

FRONTEND = ObjectRef(kind="Deployment", namespace="hotel", name="frontend")
SEARCH = ObjectRef(kind="Deployment", namespace="hotel", name="search")
BROKEN = ObjectRef(kind="Node", name="pool-b")
_SANDBOX = (
    "Failed to create pod sandbox: rpc error: code = Unknown desc = failed to create "
    "containerd task: failed to mount rootfs component: read-only file system"
)


def _node(name: str, *problems: PodCondition) -> NodeEvidence:
    ready = PodCondition(type="Ready", status="True", reason="KubeletReady")
    return NodeEvidence(name=name, ready="True", conditions=[ready, *problems])


READ_ONLY = PodCondition(
    type="ReadonlyFilesystem",
    status="True",
    reason="FilesystemIsReadOnly",
    message="Filesystem is read-only",
)


def _search_pod(name: str, node: str, *, running: bool) -> PodEvidence:
    state = make.running() if running else make.waiting("ContainerCreating")
    return make.pod(
        name,
        make.container("search", ready=running, state=state),
        namespace="hotel",
        replica_set="search-6c9f8d7b45",
        phase="Running" if running else "Pending",
        node=node,
        labels={"app": "search"},
    )


def _sandbox_event(pod: str) -> EventEvidence:
    return make.event(
        "FailedCreatePodSandBox",
        _SANDBOX,
        kind="Pod",
        name=pod,
        namespace="hotel",
        count=6,
    )


def _sibling(
    pods: list[PodEvidence], nodes: list[NodeEvidence], events: list[EventEvidence]
) -> SiblingEvidence:
    workload = make.deployment("search", "hotel", replicas=4, ready=2)
    return SiblingEvidence(
        workload=workload,
        application={"app.kubernetes.io/part-of": "hotel"},
        pods=pods,
        nodes=nodes,
        events=events,
    )


def _frontend(sibling: SiblingEvidence) -> Evidence:
    """The frontend, its one replica ready, alerting on its latency."""
    return make.evidence(
        target=FRONTEND,
        workload=make.deployment("frontend", "hotel", replicas=1),
        pods=[make.app_pod("frontend-7b8c5d9f64-b7c2x", namespace="hotel")],
        alerts=[make.alert(alertname="FrontendLatencyHigh", namespace="hotel")],
        siblings=[sibling],
    )


def _scaled_out(*broken: PodCondition, events: bool = True) -> Evidence:
    """Two replicas run on pool-a; the two new ones are stuck on pool-b."""
    stuck = ["search-6c9f8d7b45-h9b4s", "search-6c9f8d7b45-w3j8p"]
    pods = [
        _search_pod("search-6c9f8d7b45-t2k8w", "pool-a", running=True),
        _search_pod("search-6c9f8d7b45-n4q7c", "pool-a", running=True),
        *(_search_pod(name, "pool-b", running=False) for name in stuck),
    ]
    nodes = [_node("pool-a"), _node("pool-b", *broken)]
    return _frontend(_sibling(pods, nodes, [_sandbox_event(n) for n in stuck] if events else []))


def test_a_siblings_replicas_stuck_on_a_read_only_node_name_that_node() -> None:
    ev = _scaled_out(READ_ONLY)
    finding = assert_leads(analyze(ev), Category.NODE_FAILURE, Action.DRAIN_NODE, BROKEN)
    assert finding.analyzer == NAME
    assert finding.confidence <= CONFIDENCE.ceiling
    facts = " ".join(e.fact for e in finding.evidence)
    assert "ReadonlyFilesystem=True" in facts
    assert "Node//pool-b" in known_objects(ev)


def test_a_node_that_reports_nothing_is_not_named() -> None:
    assert not [f for f in analyze(_scaled_out(events=False)).findings if f.target.kind == "Node"]


def test_a_replica_running_on_that_node_clears_it() -> None:
    ev = _scaled_out(READ_ONLY, events=False)
    [sibling] = ev.siblings
    pods = [*sibling.pods, _search_pod("search-6c9f8d7b45-k2m9z", "pool-b", running=True)]
    ev = _frontend(sibling.model_copy(update={"pods": pods}))
    assert not [f for f in analyze(ev).findings if f.target.kind == "Node"]


def test_without_the_siblings_nodes_no_node_is_named() -> None:
    ev = _scaled_out(READ_ONLY)
    [sibling] = ev.siblings
    ev = _frontend(sibling.model_copy(update={"nodes": []}))
    assert not [f for f in analyze(ev).findings if f.target.kind == "Node"]


def _node_manifest(name: str, *conditions: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}, *conditions],
            "images": [{"names": ["registry/large:1"], "sizeBytes": 1}],
        },
    }


def _pod_manifest(name: str, labels: dict[str, str], node: str, owner: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "hotel",
            "labels": labels,
            "ownerReferences": [
                {"kind": "Deployment", "name": owner, "uid": f"{owner}-uid", "controller": True}
            ],
        },
        "spec": {"nodeName": node, "containers": [{"name": owner, "image": "hotel:1"}]},
        "status": {"phase": "Pending"},
    }


def test_the_builder_keeps_the_nodes_of_a_siblings_pods() -> None:
    part_of = {"app.kubernetes.io/part-of": "hotel"}
    objects: list[dict[str, Any]] = [
        deployment_manifest(
            name,
            "hotel",
            (name, "hotel:1"),
            labels={"app": name, **part_of},
            metadata={"labels": part_of, "uid": f"{name}-uid"},
            status={"readyReplicas": ready},
            replicas=replicas,
        )
        for name, replicas, ready in (("frontend", 1, 1), ("search", 2, 1))
    ]
    objects += [
        _pod_manifest("frontend-0", {"app": "frontend", **part_of}, "pool-a", "frontend"),
        _pod_manifest("search-0", {"app": "search", **part_of}, "pool-b", "search"),
        _node_manifest("pool-a"),
        _node_manifest("pool-b", {"type": "ReadonlyFilesystem", "status": "True"}),
        _node_manifest("pool-c"),
    ]
    [sibling] = built(objects, FRONTEND).siblings
    assert sibling.workload.ref.key() == SEARCH.key()
    assert [n.name for n in sibling.nodes] == ["pool-b"]
    assert ("ReadonlyFilesystem", "True") in [
        (c.type, c.status) for c in sibling.nodes[0].conditions
    ]
