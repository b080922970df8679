"""Checks the dependency-at-maximum rule for a callee that turns calls away as overloaded: the
caller's lines name it and say it answered 503 or 429 with a Retry-After (HTTP's "come back
later", RFC 9110 15.6.4), while it is up, every replica ready, and its autoscaler runs its
maximum and wants more. That callee is short of replicas: scale it out. With the near misses:
a 503 without Retry-After (unavailable, not overloaded), a callee with room to scale, and one
short of ready replicas.

Real: Evidence models from ``tests.support.evidence`` and the whole analyzer registry; the
dependency is written as the dependency walk summarises it.
"""

from __future__ import annotations

from kubetriage.analyzers.log_signatures import OVERLOAD_REJECTION_LOG
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import ServiceEvidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import autoscalers
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, naming

INGEST = ObjectRef(kind="Deployment", namespace="warehouse", name="events-ingest")
INGEST_SERVICE = ServiceEvidence(
    name="events-ingest",
    namespace="warehouse",
    selector={"app": "events-ingest"},
    ready_endpoints=6,
)
TURNED_AWAY = (
    "WARN IngestSink - batch of 500 entries to http://events-ingest.warehouse.svc.cluster.local"
    ":8080/v1/events:batch rejected with HTTP 503 (retry-after 1s), requeueing"
)
UNAVAILABLE = (
    "WARN IngestSink - batch of 500 entries to http://events-ingest.warehouse.svc.cluster.local"
    ":8080/v1/events:batch rejected with HTTP 503 Service Unavailable, requeueing"
)


def _ingest(
    *, current: int = 6, maximum: int = 6, ready: int = 6, limited: bool = True
) -> DependencyEvidence:
    hpa = autoscalers.hpa(INGEST, current=current, maximum=maximum, limited=limited)
    return DependencyEvidence(
        service=INGEST_SERVICE,
        workload=INGEST,
        named_by=naming("log shop/checkout-1/app"),
        desired_replicas=current,
        ready_replicas=ready,
        pods=current,
        autoscalers=[hpa],
    )


def _calling(dependency: DependencyEvidence, line: str = TURNED_AWAY) -> Evidence:
    return make.checkout_evidence(
        logs=[make.checkout_log(line)],
        dependencies=[dependency],
        alerts=[make.alert(alertname="SinkBackPressured")],
    )


def _at_maximum(ev: Evidence) -> list[object]:
    return [f for f in analyze(ev).findings if f.analyzer == "dependency-at-maximum"]


def test_a_callee_at_its_maximum_that_turns_calls_away_is_scaled_out() -> None:
    finding = assert_leads(
        analyze(_calling(_ingest())), Category.RESOURCE_SATURATION, Action.SCALE_OUT, INGEST
    )
    assert finding.analyzer == "dependency-at-maximum"
    assert finding.params == {"replicas": "12", "hpa": "events-ingest"}


def test_a_503_without_retry_after_is_not_an_overload() -> None:
    assert not _at_maximum(_calling(_ingest(), UNAVAILABLE))


def test_a_callee_with_room_to_scale_or_short_of_ready_replicas_is_not_scaled_out() -> None:
    assert not _at_maximum(_calling(_ingest(current=3, maximum=8, limited=False)))
    assert not _at_maximum(_calling(_ingest(ready=2)))


def test_the_overload_answer_needs_the_status_and_the_retry_after() -> None:
    assert OVERLOAD_REJECTION_LOG.search('status=429 retry_after="2s" path=/v1/batch')
    assert OVERLOAD_REJECTION_LOG.search("Retry-After: 30 (HTTP 503 from upstream)")
    assert not OVERLOAD_REJECTION_LOG.search("HTTP 503 Service Unavailable")
    assert not OVERLOAD_REJECTION_LOG.search("retrying after 5s: connection refused")
    assert not OVERLOAD_REJECTION_LOG.search("order 15034 retry-after scheduled")
