"""Checks the dependency-at-maximum rule for a caller that is only slow: its latency alert
fires, no call times out or is turned away, and the one callee its configuration names is up,
every replica ready, at its autoscaler's maximum and wanting more (ScalingLimited). That callee
answers every call late: scale it out, below the rule's failing calls. With the near misses: a
callee with room to scale, a callee named only by a log line (another callee may take the
time), and an alert that does not say the caller is slow.

Real: Evidence models from ``tests.support.evidence`` and the whole analyzer registry; the
dependency is written as the dependency walk summarises it.
"""

from __future__ import annotations

from kubetriage.analyzers.dependency_saturated import CONFIDENCE
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ServiceEvidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import autoscalers
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, naming

ROUTER = ObjectRef(kind="Deployment", namespace="vitess", name="vtgate-zone1")
SLOW_REQUEST = (
    "Completed 200 OK in 1893ms (Views: 41.2ms | ActiveRecord: 1822.6ms (14 queries, 2 cached))"
)


def _router(
    *, current: int = 3, maximum: int = 3, limited: bool = True, named_by: str = ""
) -> DependencyEvidence:
    hpa = autoscalers.hpa(ROUTER, current=current, maximum=maximum, limited=limited)
    return DependencyEvidence(
        service=ServiceEvidence(
            name="vtgate-zone1",
            namespace="vitess",
            selector={"app": "vtgate"},
            ready_endpoints=current,
        ),
        workload=ROUTER,
        named_by=naming(named_by or "Deployment checkout env DATABASE_URL"),
        desired_replicas=current,
        ready_replicas=current,
        pods=current,
        autoscalers=[hpa],
    )


def _slow(dependency: DependencyEvidence, alertname: str = "CheckoutDbLatencyP99High") -> Evidence:
    return make.checkout_evidence(
        logs=[make.checkout_log(SLOW_REQUEST)],
        dependencies=[dependency],
        alerts=[make.alert(alertname=alertname)],
    )


def _at_maximum(ev: Evidence) -> list[Finding]:
    return [f for f in analyze(ev).findings if f.analyzer == "dependency-at-maximum"]


def test_a_slow_caller_of_its_one_callee_at_maximum_scales_the_callee_out() -> None:
    finding = assert_leads(
        analyze(_slow(_router())), Category.RESOURCE_SATURATION, Action.SCALE_OUT, ROUTER
    )
    assert finding.analyzer == "dependency-at-maximum"
    assert finding.confidence == CONFIDENCE.slow_at_maximum
    assert any(e.source == "alert" for e in finding.evidence)


def test_a_callee_with_room_to_scale_is_not_scaled_out() -> None:
    assert not _at_maximum(_slow(_router(current=2, maximum=6, limited=False)))


def test_a_callee_named_only_by_a_log_line_does_not_take_the_time() -> None:
    assert not _at_maximum(_slow(_router(named_by="log shop/checkout-1/app")))


def test_an_alert_that_does_not_say_slow_concludes_nothing() -> None:
    assert not _at_maximum(_slow(_router(), alertname="CheckoutPodsNotReady"))
