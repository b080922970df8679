"""Checks the blocked-sink rule: a log aggregator the caller's configuration names says it
holds its input until its buffer drains and that its flushes fail, while the caller's pods
stay ready and complete a fraction of their requests: escalate the aggregator's Service. And
the near misses: a sink that blocks but passes on what it holds (it only lags), a caller
still serving its demand, a sink found only in a log line, a caller whose pods are not ready.

Real: Evidence models from ``tests.support.evidence`` and the whole analyzer registry.
"""

from __future__ import annotations

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, naming

AGGREGATOR = ObjectRef(kind="StatefulSet", namespace="logging", name="fluentd-aggregator")
SERVICE = make.service("fluentd-aggregator", "logging", selector={"app": "fluentd-aggregator"})
BLOCKED = (
    "2026-11-20 09:46:10 +0000 [warn]: #0 [out_os] failed to write data into buffer by "
    "buffer overflow action=:block"
)
FLUSH_FAILED = (
    "2026-11-20 09:51:42 +0000 [warn]: #0 [out_os] failed to flush the buffer. retry_times=13 "
    'error_class=Fluent::Plugin::OpenSearchOutput::RecoverableRequestFailure error="[429]"'
)
RATE = "sum(rate(http_requests_total{namespace='shop'}[5m]))"


def _sink(*lines: str, named_by: str = "ConfigMap checkout-logging") -> DependencyEvidence:
    return DependencyEvidence(
        service=SERVICE,
        workload=AGGREGATOR,
        named_by=naming(named_by),
        desired_replicas=2,
        ready_replicas=2,
        pods=2,
        logs=[
            make.log("fluentd-aggregator-0", "fluentd", line, namespace="logging") for line in lines
        ],
    )


def _caller(dependency: DependencyEvidence, *, last: float = 3.0) -> Evidence:
    rate = make.metric(RATE, name="http_request_rate", first=120.0, last=last)
    return make.checkout_evidence(dependencies=[dependency], metrics=[rate])


def _rule(ev: Evidence) -> list[object]:
    return [f for f in analyze(ev).findings if f.analyzer == "blocked-sink"]


def test_a_caller_stalled_on_a_blocked_aggregator_escalates_it() -> None:
    finding = assert_leads(
        analyze(_caller(_sink(BLOCKED, FLUSH_FAILED))),
        Category.DEPENDENCY_FAILURE,
        Action.ESCALATE,
        SERVICE.ref(),
    )
    assert finding.confidence >= 0.75


def test_a_sink_that_blocks_but_passes_on_what_it_holds_is_not_blamed() -> None:
    assert not _rule(_caller(_sink(BLOCKED, "2026-11-20 09:51:42 +0000 [info]: flushed")))


def test_a_caller_still_serving_its_demand_does_not_blame_its_sink() -> None:
    assert not _rule(_caller(_sink(BLOCKED, FLUSH_FAILED), last=110.0))


def test_a_sink_found_only_in_a_log_line_is_not_the_callers_to_wait_on() -> None:
    dependency = _sink(BLOCKED, FLUSH_FAILED, named_by="log shop/checkout-7d9f6c8b5-x2x9k/app")
    assert not _rule(_caller(dependency))


def test_a_caller_with_unready_pods_is_left_to_other_rules() -> None:
    dependency = _sink(BLOCKED, FLUSH_FAILED)
    rate = make.metric(RATE, name="http_request_rate", first=120.0, last=3.0)
    ev = make.checkout_evidence(
        make.container("app", ready=False), dependencies=[dependency], metrics=[rate]
    )
    assert not _rule(ev)
