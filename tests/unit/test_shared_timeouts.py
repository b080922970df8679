"""Probe timeouts the previous revision shares (``shared_timeouts.previous_times_out_too``):
a rollout whose new pods run but time out on their readiness probe, while pods of the
previous revision timed out on theirs within the hour, is not what broke the workload; the
bad-rollout finding stays an alternative below the autoscaler at its maximum. Near misses
that keep the rollback leading: new pods whose probe is refused (not a timeout), new pods
that crash, and old pods whose timeouts ended hours ago.

Real: the whole analyzer registry over Evidence models. Synthetic: every object and event.
"""

from __future__ import annotations

from datetime import timedelta

from kubetriage.analyzers.rollout import CONFIDENCE, check_bad_rollout
from kubetriage.analyzers.shared_timeouts import previous_times_out_too
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import (
    AutoscalerEvidence,
    EventEvidence,
    PodEvidence,
)
from kubetriage.models.vocabulary import Action, Category
from tests.support import autoscalers
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, by_category

CHECKOUT = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
_NEW_RS, _OLD_RS = "checkout-7d9f6c8b5", "checkout-5c6d7e8f9"
_TIMEOUT = (
    'Readiness probe failed: Get "http://10.0.0.{n}:8080/ready": context deadline exceeded '
    "(Client.Timeout exceeded while awaiting headers)"
)
_REFUSED = (
    'Readiness probe failed: Get "http://10.0.0.{n}:8080/ready": dial tcp: connect: '
    "connection refused"
)


def _unhealthy(pod: str, message: str, *, hours_ago: float = 0.0) -> EventEvidence:
    event = make.event("Unhealthy", message, name=pod, count=30)
    if not hours_ago:
        return event
    shift = timedelta(hours=hours_ago)
    assert event.first_seen is not None
    assert event.last_seen is not None
    return event.model_copy(
        update={"first_seen": event.first_seen - shift, "last_seen": event.last_seen - shift}
    )


def _maxed() -> AutoscalerEvidence:
    return autoscalers.hpa(CHECKOUT, current=4, maximum=4, limited=True)


def _rollout(
    *, new_message: str = _TIMEOUT, new_crashes: bool = False, old_hours_ago: float = 0.0
) -> Evidence:
    """Revision 8 of checkout rolled out 15 minutes ago; its two new pods are not ready, the
    four pods of revision 7 still serve and two of them logged probe timeouts."""
    new_container = (
        make.crash_looping("app", "ghcr.io/example/app:1.8")
        if new_crashes
        else make.container("app", "ghcr.io/example/app:1.8", ready=False)
    )
    new = [make.pod(f"{_NEW_RS}-n{i}", new_container, replica_set=_NEW_RS) for i in range(2)]
    old = [
        make.pod(
            f"{_OLD_RS}-o{i}", make.container("app", "ghcr.io/example/app:1.7"), replica_set=_OLD_RS
        )
        for i in range(4)
    ]
    events = [_unhealthy(p.name, new_message.format(n=i)) for i, p in enumerate(new)]
    events += [
        _unhealthy(p.name, _TIMEOUT.format(n=10 + i), hours_ago=old_hours_ago)
        for i, p in enumerate(old[:2])
    ]
    return make.evidence(
        workload=make.deployment(replicas=4, ready=4, revision=8),
        pods=[*new, *old],
        events=events,
        autoscalers=[_maxed()],
        revisions=make.rollout_revisions(
            8,
            {"app": "ghcr.io/example/app:1.8"},
            {"app": "ghcr.io/example/app:1.7"},
            minutes_ago=15,
            old_ready=4,
            names=(_NEW_RS, _OLD_RS),
        ),
        changes=[make.rollout_change(CHECKOUT, 7, "image", minutes_ago=15)],
    )


def _old_and_new(ev: Evidence) -> tuple[list[PodEvidence], list[PodEvidence]]:
    new = [p for p in ev.pods if p.name.startswith(_NEW_RS)]
    old = [p for p in ev.pods if p.name.startswith(_OLD_RS)]
    return new, old


def test_new_pods_timing_out_like_the_previous_revision_are_load_not_the_revision() -> None:
    ev = _rollout()
    new, old = _old_and_new(ev)
    fact = previous_times_out_too(ev, new, old)
    assert fact is not None
    assert "previous revision" in fact.fact
    [rollout] = check_bad_rollout(ev)
    assert rollout.confidence <= CONFIDENCE.shared_timeouts_cap
    result = analyze(ev)
    assert_leads(result, Category.RESOURCE_SATURATION, Action.SCALE_OUT, CHECKOUT)
    assert by_category(result, Category.BAD_ROLLOUT)  # still a ranked alternative


def test_new_pods_refused_by_their_probe_are_the_revisions_own_failure() -> None:
    ev = _rollout(new_message=_REFUSED)
    new, old = _old_and_new(ev)
    assert previous_times_out_too(ev, new, old) is None
    [rollout] = check_bad_rollout(ev)
    assert rollout.confidence > CONFIDENCE.shared_timeouts_cap


def test_crashing_new_pods_are_not_excused_by_old_timeouts() -> None:
    ev = _rollout(new_crashes=True)
    new, old = _old_and_new(ev)
    assert previous_times_out_too(ev, new, old) is None


def test_old_timeouts_that_ended_hours_ago_say_nothing_about_now() -> None:
    ev = _rollout(old_hours_ago=3)
    new, old = _old_and_new(ev)
    assert previous_times_out_too(ev, new, old) is None
    [rollout] = check_bad_rollout(ev)
    assert rollout.confidence > CONFIDENCE.shared_timeouts_cap
