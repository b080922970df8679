"""Checks the measured-clock rule: credentials refused as "not yet valid" or "used before
issued" by the workload (on any number of nodes), and the one node whose clock node_exporter
reports off (``node_clock_offset_seconds``) runs a pod of a dependency the workload calls (the
token's issuer) or a refusing pod: that node is the fault (node-failure, drain the Node).
No refusal, a clock off on a node that runs nothing involved, or two nodes off conclude
nothing; a sub-second offset never answers the template.

Real: the analyzer registry on Evidence models (tests/support/evidence.py factories).
"""

from __future__ import annotations

from kubetriage.analyzers.clocks import CLOCK_OFFSET, CONFIDENCE, check_measured_clock
from kubetriage.evidence.query_templates_cluster import CLUSTER_TEMPLATES
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import analyze, assert_leads, evidence, log, metric, pod

ISSUER_NODE = "ip-10-1-3-9.ec2.internal"
REFUSAL = (
    'level=warn msg="rejecting bearer token" '
    'err="token has invalid claims: token used before issued"'
)


def _issuer(nodes: dict[str, str]) -> DependencyEvidence:
    return DependencyEvidence(
        ref=ObjectRef(kind="Service", namespace="identity", name="issuer"),
        workload=ObjectRef(kind="Deployment", namespace="identity", name="issuer"),
        pods=len(nodes),
        pod_nodes=nodes,
    )


def _offset(seconds: float, **labels: str) -> object:
    return metric(CLOCK_OFFSET + "{}", name=CLOCK_OFFSET, last=seconds, labels=labels)


def _evidence(line: str = REFUSAL, offsets: tuple[object, ...] = (), **fields: object) -> Evidence:
    return evidence(
        pods=[
            pod("gateway-7c9-a1", node="ip-10-1-1-4.ec2.internal", replica_set="gateway-7c9"),
            pod("gateway-7c9-b2", node="ip-10-1-2-5.ec2.internal", replica_set="gateway-7c9"),
        ],
        logs=[log("gateway-7c9-a1", "gateway", line), log("gateway-7c9-b2", "gateway", line)],
        dependencies=[
            _issuer({"issuer-5d-x": "ip-10-1-1-4.ec2.internal", "issuer-5d-y": ISSUER_NODE})
        ],
        metrics=list(offsets),
        **fields,
    )


def test_the_issuers_node_with_its_clock_off_is_drained() -> None:
    ev = _evidence(offsets=(_offset(723.0, instance="10.1.3.9:9100", node=ISSUER_NODE),))
    first = assert_leads(
        analyze(ev),
        Category.NODE_FAILURE,
        Action.DRAIN_NODE,
        ObjectRef(kind="Node", name=ISSUER_NODE),
    )
    assert first.confidence == CONFIDENCE.measured_clock_off
    assert first.narrative is not None
    assert any("Deployment identity/issuer" in claim.text for claim in first.narrative.because)


def test_a_short_host_name_in_the_instance_label_finds_the_node() -> None:
    ev = _evidence(offsets=(_offset(95.0, instance="ip-10-1-3-9:9100"),))
    [finding] = check_measured_clock(ev)
    assert finding.target == ObjectRef(kind="Node", name=ISSUER_NODE)


def test_a_refusing_pods_own_node_off_is_drained() -> None:
    ev = _evidence(offsets=(_offset(40.0, nodename="ip-10-1-2-5.ec2.internal"),))
    [finding] = check_measured_clock(ev)
    assert finding.target == ObjectRef(kind="Node", name="ip-10-1-2-5.ec2.internal")
    assert finding.narrative is not None
    assert any("refusing pods run there" in claim.text for claim in finding.narrative.because)


def test_no_refusal_no_clock_finding() -> None:
    ev = _evidence(line="level=info msg=ok", offsets=(_offset(723.0, node=ISSUER_NODE),))
    assert check_measured_clock(ev) == []


def test_a_clock_off_where_nothing_involved_runs_concludes_nothing() -> None:
    ev = _evidence(offsets=(_offset(723.0, node="ip-10-1-9-9.ec2.internal"),))
    assert check_measured_clock(ev) == []


def test_two_nodes_off_are_not_one_clock() -> None:
    ev = _evidence(
        offsets=(
            _offset(723.0, node=ISSUER_NODE),
            _offset(60.0, node="ip-10-1-1-4.ec2.internal"),
        )
    )
    assert check_measured_clock(ev) == []


def test_a_raw_node_exporter_offset_series_counts_past_a_second() -> None:
    raw = "node_timex_offset_seconds"
    off = metric(raw + "{}", name=raw, last=-95.0, labels={"node": ISSUER_NODE})
    [finding] = check_measured_clock(_evidence(offsets=(off,)))
    assert finding.target == ObjectRef(kind="Node", name=ISSUER_NODE)
    fine = metric(raw + "{}", name=raw, last=0.85, labels={"node": ISSUER_NODE})
    assert check_measured_clock(_evidence(offsets=(fine,))) == []


def test_the_template_answers_only_past_a_second() -> None:
    [template] = [t for t in CLUSTER_TEMPLATES if t.name == CLOCK_OFFSET]
    assert not template.requires
    assert "> 1" in template.promql
    assert "node_timex_offset_seconds" in template.promql
