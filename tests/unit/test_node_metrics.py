"""Checks what a node's own series hold against it (``analyzers.node_metrics``): a series is
tied to the node its labels name (a node label, the scrape instance as a name, a short name or
one of the node's addresses), a resource near exhaustion on the one node where a workload's
replicas fail makes that node the cause (drain it) even when it reports no condition, and the
same series on another node, or on no known node, holds nothing against it.

Everything is real: Evidence models from ``tests.support.evidence``, ``run_analyzers`` and
the node summary built from a raw Node object; no Prometheus (the series are summaries).
"""

from __future__ import annotations

import pytest

from kubetriage.analyzers.node_metrics import exhausted_resources, metric_node
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.summaries.nodes import node_summary
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import NodeEvidence, PodEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make

NODES = [
    NodeEvidence(name="ip-10-0-3-12.ec2.internal", ready="True", addresses=["10.0.3.12"]),
    NodeEvidence(name="ip-10-0-3-40.ec2.internal", ready="True", addresses=["10.0.3.40"]),
    NodeEvidence(name="ip-10-0-4-7.ec2.internal", ready="True", addresses=["10.0.4.7"]),
]
BAD = NODES[2]


@pytest.mark.parametrize(
    "labels",
    [
        {"instance": "ip-10-0-4-7.ec2.internal:9100"},
        {"instance": "10.0.4.7:9100"},
        {"instance": "ip-10-0-4-7"},
        {"node": "ip-10-0-4-7.ec2.internal", "instance": "10.9.9.9:9100"},
        {"kubernetes_node": "ip-10-0-4-7.ec2.internal"},
    ],
)
def test_a_node_series_is_tied_to_the_node_its_labels_name(labels: dict[str, str]) -> None:
    assert metric_node(labels, NODES) is BAD


@pytest.mark.parametrize(
    "labels", [{}, {"instance": "10.0.9.9:9100"}, {"job": "node-exporter"}, {"instance": "ip-10"}]
)
def test_a_series_naming_no_known_node_is_tied_to_none(labels: dict[str, str]) -> None:
    assert metric_node(labels, NODES) is None


def test_an_ambiguous_short_name_is_tied_to_none() -> None:
    twins = [NodeEvidence(name="w1.a.example"), NodeEvidence(name="w1.b.example")]
    assert metric_node({"instance": "w1:9100"}, twins) is None


def test_the_node_summary_keeps_the_addresses_scrape_targets_use() -> None:
    raw = {
        "metadata": {"name": "ip-10-0-4-7.ec2.internal"},
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": "10.0.4.7"},
                {"type": "Hostname", "address": "ip-10-0-4-7.ec2.internal"},
                {"type": "ExternalIP"},
            ]
        },
    }
    assert node_summary(raw, EvidenceLimits()).addresses == ["10.0.4.7", "ip-10-0-4-7.ec2.internal"]


def _replica(suffix: str, node: NodeEvidence, *, failing: bool) -> PodEvidence:
    return make.pod(
        f"orders-7d9f6c8b5-{suffix}",
        make.crash_looping("app") if failing else make.container("app"),
        node=node.name,
    )


def _orders(exhausted_on: NodeEvidence | None, name: str = "node_conntrack_used_ratio") -> Evidence:
    metrics = (
        [
            make.metric(
                "max by (instance) (node_nf_conntrack_entries / ...) > 0.9",
                name=name,
                labels={"instance": f"{exhausted_on.addresses[0]}:9100"},
                first=0.97,
                last=1.0,
                changed_minutes_ago=12,
            )
        ]
        if exhausted_on is not None
        else []
    )
    return make.evidence(
        pods=[
            _replica("aaaaa", NODES[0], failing=False),
            _replica("bbbbb", NODES[1], failing=False),
            _replica("ccccc", BAD, failing=True),
        ],
        nodes=NODES,
        metrics=metrics,
    )


def test_replicas_failing_only_on_a_node_whose_conntrack_table_is_full_drain_it() -> None:
    finding = make.assert_leads(
        make.analyze(_orders(BAD)),
        Category.NODE_FAILURE,
        Action.DRAIN_NODE,
        ObjectRef(kind="Node", name=BAD.name),
    )
    assert finding.analyzer == "node-localized"
    assert any("conntrack table in use" in e.fact and "100%" in e.fact for e in finding.evidence)


def test_without_the_nodes_own_word_the_split_alone_does_not_blame_it() -> None:
    assert not [f for f in make.analyze(_orders(None)).findings if f.analyzer == "node-localized"]


def test_exhaustion_on_a_node_where_nothing_fails_holds_nothing_against_the_failing_one() -> None:
    ev = _orders(NODES[0])
    assert exhausted_resources(ev, BAD) == []
    assert not [f for f in make.analyze(ev).findings if f.analyzer == "node-localized"]


def test_a_full_node_filesystem_is_named_with_its_mount_point() -> None:
    ev = make.evidence(
        nodes=NODES,
        metrics=[
            make.metric(
                "min by (instance, mountpoint) (...) < 0.1",
                name="node_filesystem_available_ratio",
                labels={"instance": "ip-10-0-4-7.ec2.internal:9100", "mountpoint": "/var/lib"},
                last=0.02,
            )
        ],
    )
    (fact,) = exhausted_resources(ev, BAD)
    assert "on /var/lib: 2% filesystem space available" in fact.fact
