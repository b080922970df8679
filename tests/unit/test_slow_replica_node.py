"""Checks the slow-replica rule: every replica is Ready, but the one on a node whose network
interfaces count errors answers many times slower than the others, so the node is drained;
with the look-alikes that must not fire: every replica slow alike (the code, the load or a
callee), one slow replica on a node that shows no fault (its own trouble), a replica only
somewhat slower, and interface errors on a node that runs no slow replica.

Everything is real: Evidence models from ``tests.support.evidence`` and ``run_analyzers``.
"""

from __future__ import annotations

from kubetriage.analyzers.placement import check_slow_replica_node
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import NodeEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads

NODES = ("w01.dc1.example", "w02.dc1.example", "w03.dc1.example")
W02 = ObjectRef(kind="Node", name="w02.dc1.example")


def _ledger(
    p99: tuple[float, float, float] = (0.09, 2.9, 0.08),
    errors_on: str | None = "w02.dc1.example",
) -> Evidence:
    pods, metrics = [], []
    for index, node in enumerate(NODES):
        name = f"ledger-query-6f5d4c3b2a-p{index}"
        pods.append(
            make.pod(
                name,
                make.container("api"),
                namespace="ledger",
                replica_set="ledger-query-6f5d4c3b2a",
                node=node,
                labels={"app": "ledger-query"},
            )
        )
        metrics.append(
            make.metric(
                "histogram_quantile(0.99, ...)",
                name="pod_latency_p99_seconds",
                labels={"pod": name},
                first=0.09,
                last=p99[index],
            )
        )
    if errors_on is not None:
        metrics.append(
            make.metric(
                "sum by (instance) (rate(node_network_receive_errs_total[5m])) > 0",
                name="node_interface_faults_per_second",
                labels={"instance": f"{errors_on}:9100"},
                first=1400.0,
                last=1400.0,
            )
        )
    return make.evidence(
        workload=make.deployment("ledger-query", "ledger", replicas=3),
        pods=pods,
        nodes=[NodeEvidence(name=n, ready="True") for n in NODES],
        metrics=metrics,
    )


def test_the_slow_replica_on_a_node_with_interface_errors_drains_that_node() -> None:
    finding = assert_leads(analyze(_ledger()), Category.NODE_FAILURE, Action.DRAIN_NODE, W02)
    assert finding.analyzer == "slow-replica-node"
    assert any("node_interface_faults_per_second" in e.fact for e in finding.evidence)


def test_every_replica_slow_is_not_the_node() -> None:
    assert check_slow_replica_node(_ledger(p99=(2.7, 2.9, 2.8))) == []


def test_a_slow_replica_on_a_node_without_a_fault_is_not_the_node() -> None:
    assert check_slow_replica_node(_ledger(errors_on=None)) == []


def test_a_replica_only_somewhat_slower_is_not_the_node() -> None:
    assert check_slow_replica_node(_ledger(p99=(0.09, 0.2, 0.08))) == []


def test_interface_errors_where_no_replica_is_slow_are_not_the_cause() -> None:
    assert check_slow_replica_node(_ledger(errors_on="w03.dc1.example")) == []
