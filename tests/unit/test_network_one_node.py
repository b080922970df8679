"""Checks the routing rule for a node whose service routing drops traffic: the workload's pods
on one Ready node time out calling a Service that has ready endpoints while its replicas on
the other nodes are ready, so the node (kube-proxy, CNI) is drained rather than the callee
escalated; with the look-alikes that must not fire: every replica failing (the callee or the
workload), a callee with no ready endpoint, a node that reports itself NotReady.

Everything is real: Evidence models from ``tests.support.evidence`` and ``run_analyzers``.
"""

from __future__ import annotations

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import NodeEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads

TIMEOUT = (
    "ERROR amqp: connect to rabbitmq.messaging.svc.cluster.local:5672 (10.96.33.50:5672) "
    "failed: IO error: Connection timed out (os error 110)"
)
WORKER_3 = ObjectRef(kind="Node", name="worker-3")


def _publishers(
    failing_nodes: tuple[str, ...] = ("worker-3",),
    ready_endpoints: int = 1,
    node_ready: str = "True",
) -> Evidence:
    pods, logs = [], []
    for index, node in enumerate(("worker-1", "worker-2", "worker-3")):
        name = f"order-events-6d5c4b3a2f-p{index}"
        failing = node in failing_nodes
        pods.append(
            make.pod(
                name,
                make.container("publisher", ready=not failing),
                namespace="orders",
                replica_set="order-events-6d5c4b3a2f",
                node=node,
                labels={"app": "order-events"},
            )
        )
        if failing:
            logs.append(make.log(name, "publisher", TIMEOUT, namespace="orders"))
    rabbitmq = make.service("rabbitmq", "messaging", ready=ready_endpoints, matching=1)
    nodes = [
        NodeEvidence(name=n, ready=node_ready if n == "worker-3" else "True")
        for n in ("worker-1", "worker-2", "worker-3")
    ]
    return make.evidence(
        workload=make.deployment(
            "order-events", "orders", replicas=3, ready=3 - len(failing_nodes)
        ),
        pods=pods,
        logs=logs,
        services=[rabbitmq],
        nodes=nodes,
    )


def _drains_from_network(ev: Evidence) -> list[object]:
    return [
        f for f in analyze(ev).findings if f.analyzer == "routing" and f.action is Action.DRAIN_NODE
    ]


def test_timeouts_only_from_one_node_drain_that_node() -> None:
    finding = assert_leads(analyze(_publishers()), Category.NETWORK, Action.DRAIN_NODE, WORKER_3)
    assert any(e.fact == "ready on node worker-1" for e in finding.evidence)
    assert any("Connection timed out" in e.fact for e in finding.evidence)


def test_every_replica_failing_is_not_the_node() -> None:
    assert _drains_from_network(_publishers(("worker-1", "worker-2", "worker-3"))) == []


def test_a_callee_without_ready_endpoints_is_not_the_node() -> None:
    assert _drains_from_network(_publishers(ready_endpoints=0)) == []


def test_a_node_reporting_not_ready_is_left_to_the_node_rules() -> None:
    assert _drains_from_network(_publishers(node_ready="False")) == []
