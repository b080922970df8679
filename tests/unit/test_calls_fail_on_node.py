"""Checks ``node_calls.check_calls_fail_on_node``: every replica runs, only the ones on one node
log failing calls, the same revision runs elsewhere, and that node's own series report a fault
on its way out (Cloud NAT out of source ports, a full conntrack table): drain the node rather
than escalate to the callee. Without the node's own word, with a replica on that node calling
out fine, with failing calls from two nodes, or with a split that follows the revision, it
stays silent. The cloud NAT series are tied to the node by the VM's ``instance_name``.

Everything is real: Evidence models from ``tests.support.evidence`` and ``run_analyzers``; no
Prometheus (the series are summaries).
"""

from __future__ import annotations

from kubetriage.analyzers.node_metrics import metric_node, nat_exhaustion, outbound_faults
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import LogTail, MetricSummary, NodeEvidence, PodEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make

NODES = [
    NodeEvidence(name="gke-prod-pool-1a2b3c4d-aaaa", ready="True", addresses=["10.128.0.4"]),
    NodeEvidence(name="gke-prod-pool-1a2b3c4d-bbbb", ready="True", addresses=["10.128.0.5"]),
]
BAD, GOOD = NODES
TIMEOUT = "ERROR fetch failed: Connection timeout to host https://api.partner.example/v1/items"
FINE = "INFO fetched page=12 items=500 elapsed=0.41s"


def _pod(suffix: str, node: NodeEvidence, replica_set: str = "sync-6c9d8f7b5") -> PodEvidence:
    return make.pod(
        f"{replica_set}-{suffix}",
        make.container("worker"),
        namespace="catalog",
        replica_set=replica_set,
        labels={"app": "sync"},
        node=node.name,
    )


def _log(pod: PodEvidence, text: str) -> LogTail:
    return make.log(pod.name, "worker", text, namespace="catalog")


def _nat(node: NodeEvidence, name: str = "node_nat_allocation_failed") -> MetricSummary:
    return make.metric(
        "max by (instance_name) (stackdriver_..._nat_allocation_failed) > 0",
        name=name,
        labels={"instance_name": node.name},
        first=1.0,
        last=1.0,
    )


def _sync(
    *,
    metrics: list[MetricSummary],
    logs: dict[str, str] | None = None,
    elsewhere_revision: str = "sync-6c9d8f7b5",
) -> Evidence:
    pods = [
        _pod("aaaaa", BAD),
        _pod("bbbbb", BAD),
        _pod("ccccc", GOOD, elsewhere_revision),
    ]
    texts = logs if logs is not None else {"aaaaa": TIMEOUT, "bbbbb": TIMEOUT, "ccccc": FINE}
    by_suffix = {p.name.rsplit("-", 1)[1]: p for p in pods}
    return make.evidence(
        pods=pods,
        nodes=NODES,
        workload=make.deployment("sync", "catalog"),
        logs=[_log(by_suffix[s], text) for s, text in texts.items()],
        metrics=metrics,
    )


def _ours(ev: Evidence) -> list[str]:
    return [f.analyzer for f in make.analyze(ev).findings if f.analyzer == "calls-fail-on-node"]


def test_calls_failing_only_from_a_node_whose_nat_ports_ran_out_drain_that_node() -> None:
    finding = make.assert_leads(
        make.analyze(_sync(metrics=[_nat(BAD)])),
        Category.NODE_FAILURE,
        Action.DRAIN_NODE,
        ObjectRef(kind="Node", name=BAD.name),
    )
    assert finding.analyzer == "calls-fail-on-node"
    facts = " ".join(e.fact for e in finding.evidence)
    assert "2 replicas of sync on node gke-prod-pool-1a2b3c4d-aaaa log failing calls" in facts
    assert "1 replica on gke-prod-pool-1a2b3c4d-bbbb log none" in facts
    assert "Cloud NAT failed to allocate the node more source ports" in facts
    assert "None" not in facts


def test_a_full_conntrack_table_on_that_node_counts_as_its_word_too() -> None:
    conntrack = make.metric(
        "max by (instance) (node_nf_conntrack_entries / ...) > 0.9",
        name="node_conntrack_used_ratio",
        labels={"instance": "10.128.0.4:9100"},
        last=0.99,
    )
    assert _ours(_sync(metrics=[conntrack])) == ["calls-fail-on-node"]


def test_without_the_nodes_own_word_the_callee_is_not_cleared() -> None:
    assert _ours(_sync(metrics=[])) == []


def test_a_fault_of_another_kind_on_that_node_is_not_a_fault_on_its_way_out() -> None:
    memory = make.metric(
        "min by (instance) (...) < 0.05",
        name="node_memory_available_ratio",
        labels={"instance": "10.128.0.4:9100"},
        last=0.03,
    )
    assert _ours(_sync(metrics=[memory])) == []


def test_nat_trouble_on_the_other_node_holds_nothing_against_the_failing_one() -> None:
    ev = _sync(metrics=[_nat(GOOD)])
    assert nat_exhaustion(ev, BAD) == []
    assert _ours(ev) == []


def test_a_replica_on_that_node_calling_out_fine_clears_the_node() -> None:
    logs = {"aaaaa": TIMEOUT, "bbbbb": FINE, "ccccc": FINE}
    assert _ours(_sync(metrics=[_nat(BAD)], logs=logs)) == []


def test_failing_calls_from_both_nodes_are_the_callees_not_a_nodes() -> None:
    logs = {"aaaaa": TIMEOUT, "ccccc": TIMEOUT}
    assert _ours(_sync(metrics=[_nat(BAD)], logs=logs)) == []


def test_a_split_that_follows_the_revision_is_not_the_nodes() -> None:
    ev = _sync(metrics=[_nat(BAD)], elsewhere_revision="sync-5b8c7d6a4")
    assert _ours(ev) == []


def test_with_no_log_read_elsewhere_the_replicas_running_there_are_named() -> None:
    finding = make.analyze(
        _sync(metrics=[_nat(BAD)], logs={"aaaaa": TIMEOUT, "bbbbb": TIMEOUT})
    ).findings[0]
    assert finding.analyzer == "calls-fail-on-node"
    assert any(
        "log failing calls; 1 replica run on gke-prod-pool-1a2b3c4d-bbbb" in e.fact
        for e in finding.evidence
    )


def test_nat_series_are_tied_to_the_node_by_the_vms_instance_name() -> None:
    labels = {"instance_name": BAD.name, "instance": "stackdriver-exporter:9255"}
    assert metric_node(labels, NODES) is BAD
    dropped = _nat(BAD, "node_nat_dropped_packets_per_second").model_copy(update={"last": 9.5})
    ev = make.evidence(nodes=NODES, metrics=[dropped])
    (fact,) = outbound_faults(ev, BAD)
    assert "9.5 outbound packets/s dropped by Cloud NAT for lack of source ports" in fact.fact
