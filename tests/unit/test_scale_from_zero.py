"""Checks scale-from-zero reasoning: a workload its KEDA ScaledObject takes to zero and back
again and again, whose pod started by the last wake-up needed a minute to turn Ready after
its container started, is short of warm replicas (scale-out); not when the woken pod was
Ready in seconds, when it was woken only once, when it never went back to zero, or when the
last wake-up is hours old.

Real: the analyzer registry on Evidence models.
"""

from __future__ import annotations

from datetime import timedelta

from kubetriage.models.base import ObjectRef
from kubetriage.models.controllers import ScalerEvidence
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ContainerState, EventEvidence, PodCondition
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import (
    ago,
    analyze,
    app_pod,
    assert_leads,
    container,
    deployment,
    evidence,
)

PORTAL = ObjectRef(kind="Deployment", namespace="shop", name="portal")
SCALED = ObjectRef(kind="ScaledObject", namespace="shop", name="portal")


def _scaler_event(reason: str, count: int, last: float) -> EventEvidence:
    return EventEvidence(
        type="Normal",
        reason=reason,
        message=f"{reason} apps/v1.Deployment shop/portal",
        involved=SCALED,
        count=count,
        first_seen=ago(140),
        last_seen=ago(last),
    )


def _evidence(
    *, warm_up: float = 55, woken: int = 7, slept: int = 6, last_wake: float = 9
) -> Evidence:
    started = ago(last_wake) + timedelta(seconds=2)
    pod = app_pod(
        "portal-6d8f7b9c5-zk4pq",
        container("portal", state=ContainerState(state="running", started_at=started)),
        created_at=ago(last_wake),
        conditions=[
            PodCondition(
                type="Ready",
                status="True",
                last_transition_time=started + timedelta(seconds=warm_up),
            )
        ],
    )
    events = [_scaler_event("KEDAScaleTargetActivated", woken, last_wake)]
    if slept:
        events.append(_scaler_event("KEDAScaleTargetDeactivated", slept, last_wake + 7))
    return evidence(
        target=PORTAL,
        workload=deployment("portal", replicas=1),
        pods=[pod],
        events=events,
        scalers=[ScalerEvidence(ref=SCALED, trigger="external-push", ready=True)],
    )


def _woken(ev: Evidence) -> list[Finding]:
    return [f for f in analyze(ev).findings if f.analyzer == "scale-from-zero"]


def test_a_slow_pod_woken_from_zero_again_and_again_needs_a_warm_replica() -> None:
    found = assert_leads(
        analyze(_evidence()), Category.RESOURCE_SATURATION, Action.SCALE_OUT, PORTAL
    )
    assert found.analyzer == "scale-from-zero"


def test_a_pod_ready_in_seconds_is_no_cold_start_problem() -> None:
    assert _woken(_evidence(warm_up=8)) == []


def test_one_wake_up_or_none_back_to_zero_says_nothing() -> None:
    assert _woken(_evidence(woken=1)) == []
    assert _woken(_evidence(slept=0)) == []


def test_a_wake_up_hours_ago_does_not_explain_the_alert() -> None:
    assert _woken(_evidence(last_wake=180)) == []
