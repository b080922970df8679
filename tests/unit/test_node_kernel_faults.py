"""Checks that a node whose node-problem-detector kernel monitor reports, within the hour, that
its disk or kernel fails (``IOError``, ``TaskHung`` Warning events on the Node), or whose own
series show its kernel's unreclaimable memory growing by gigabytes in the hour, is a node to
drain even while it is Ready and its pods run, as an SRE reading a node alert would conclude;
and the near misses that must not: the same reasons an hour and more ago (a past incident), a
Normal event, a pod's event of that reason, slab growth of a node not in the evidence.

Real: Evidence models from ``tests.support.evidence`` and ``run_analyzers``.
"""

from __future__ import annotations

from datetime import timedelta

from kubetriage.analyzers.node_metrics import KERNEL_MEMORY
from kubetriage.analyzers.nodes import CONFIDENCE
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import (
    EventEvidence,
    MetricSummary,
    NodeEvidence,
    PodCondition,
)
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, by_category

NODE = "worker-1"
NODE_REF = ObjectRef(kind="Node", name=NODE)


def _ready(name: str) -> NodeEvidence:
    return NodeEvidence(
        name=name,
        ready="True",
        conditions=[PodCondition(type="Ready", status="True", reason="KubeletReady")],
    )


def _kernel(reason: str, message: str, **fields: object) -> EventEvidence:
    event = make.event(reason, message, name=NODE, kind="Node", namespace=None, count=12)
    return event.model_copy(update={"source": "kernel-monitor", **fields})


IO_ERROR = "Buffer I/O error on dev nvme0n1p3, logical block 381216768, lost async page write"
HUNG = "task jbd2/nvme0n1p3-8:611 blocked for more than 120 seconds."


def _node_evidence(*events: EventEvidence) -> Evidence:
    return make.evidence(
        target=NODE_REF,
        pods=[make.pod("checkout-7d9f6c8b5-abcde", make.container("app"), node=NODE)],
        nodes=[_ready(NODE), _ready("worker-2")],
        events=list(events),
    )


def test_kernel_io_errors_and_hung_tasks_on_a_ready_node_drain_it() -> None:
    result = analyze(_node_evidence(_kernel("IOError", IO_ERROR), _kernel("TaskHung", HUNG)))
    first = assert_leads(result, Category.NODE_FAILURE, Action.DRAIN_NODE, NODE_REF)
    assert first.confidence >= CONFIDENCE.kernel_fault
    assert any("Buffer I/O error" in e.fact for e in first.evidence)


def test_old_normal_or_pod_events_of_those_reasons_drain_nothing() -> None:
    long_ago = make.ago(180)
    old = _kernel(
        "IOError", IO_ERROR, first_seen=long_ago - timedelta(minutes=5), last_seen=long_ago
    )
    normal = _kernel("TaskHung", HUNG, type="Normal")
    on_pod = make.event("IOError", IO_ERROR, name="checkout-7d9f6c8b5-abcde", count=12)
    for events in ([old], [normal], [on_pod]):
        assert not by_category(analyze(_node_evidence(*events)), Category.NODE_FAILURE), events


def _slab_growth(instance: str, grown: float) -> MetricSummary:
    return MetricSummary(
        name=KERNEL_MEMORY,
        query="max by (instance) (delta(node_memory_SUnreclaim_bytes[1h])) > 2147483648",
        labels={"instance": instance},
        last=grown,
        samples=61,
    )


def _with_addresses(name: str, address: str) -> NodeEvidence:
    return _ready(name).model_copy(update={"addresses": [address]})


def test_kernel_slab_growing_by_gigabytes_on_the_node_drains_it() -> None:
    evidence = make.evidence(
        target=NODE_REF,
        pods=[make.pod("checkout-7d9f6c8b5-abcde", make.container("app"), node=NODE)],
        nodes=[_with_addresses(NODE, "10.0.0.1"), _with_addresses("worker-2", "10.0.0.2")],
        metrics=[_slab_growth("10.0.0.1:9100", 9.4e9)],
    )
    first = assert_leads(analyze(evidence), Category.NODE_FAILURE, Action.DRAIN_NODE, NODE_REF)
    assert first.confidence >= CONFIDENCE.kernel_memory
    assert any("unreclaimable slab" in e.fact for e in first.evidence)


def test_slab_growth_of_a_node_not_in_the_evidence_drains_nothing() -> None:
    evidence = make.evidence(
        target=NODE_REF,
        pods=[make.pod("checkout-7d9f6c8b5-abcde", make.container("app"), node=NODE)],
        nodes=[_with_addresses(NODE, "10.0.0.1")],
        metrics=[_slab_growth("10.0.0.9:9100", 9.4e9), _slab_growth("10.0.0.1:9100", 0.0)],
    )
    assert not by_category(analyze(evidence), Category.NODE_FAILURE)


def test_the_raw_slab_gauge_counts_its_growth_over_the_window() -> None:
    def gauge(first: float, last: float) -> MetricSummary:
        return MetricSummary(
            name="node_memory_SUnreclaim_bytes",
            query='node_memory_SUnreclaim_bytes{instance="10.0.0.1:9100"}',
            labels={"instance": "10.0.0.1:9100"},
            first=first,
            last=last,
            samples=61,
        )

    def drained(metric: MetricSummary) -> bool:
        evidence = make.evidence(
            target=NODE_REF,
            pods=[make.pod("checkout-7d9f6c8b5-abcde", make.container("app"), node=NODE)],
            nodes=[_with_addresses(NODE, "10.0.0.1")],
            metrics=[metric],
        )
        return bool(by_category(analyze(evidence), Category.NODE_FAILURE))

    assert drained(gauge(4.4e9, 13.9e9))
    assert not drained(gauge(12.0e9, 12.9e9))  # large but steady: no leak in the hour
