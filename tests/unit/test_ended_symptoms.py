"""Checks that a symptom which ended while the suspect revision still serves does not indict the
revision: failures counted after a rollout that stopped rising for minutes while every replica
runs the new revision keep change correlation silent (the rollout explains nothing), while the
near misses still point at the rollout: failures still counting, a replica of the old revision
still serving, another symptom still rising, a failure rate that holds a high level, and
failures that stopped only a moment ago. Also checks when a summarised series began holding its
last value (``held_since``).

Real: Evidence models from ``tests.support.evidence``, the Prometheus summariser and the
whole analyzer registry.
"""

from __future__ import annotations

from datetime import timedelta

from kubetriage.analyzers.ended_symptoms import symptom_ended
from kubetriage.evidence.series import summarize_series
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import ChangeEvidence, MetricSummary
from kubetriage.models.vocabulary import Category
from tests.support import evidence as make
from tests.support.evidence import NOW, ago, analyze

WORKLOAD = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
COUNTER = 'checkout_payment_failures_total{namespace="shop",pod="checkout-new-a"}'


def _rollout(minutes_ago: float = 30) -> ChangeEvidence:
    return make.rollout_change(WORKLOAD, 4, "image", minutes_ago=minutes_ago)


def _series(query: str, values: list[float]) -> MetricSummary:
    """``values`` one a minute, the last at ``NOW``, summarised as the Prometheus stage does."""
    start = NOW - timedelta(minutes=len(values) - 1)
    points = [(start + timedelta(minutes=i), v) for i, v in enumerate(values)]
    return summarize_series(query.split("{", 1)[0], query, {}, points)


def _failures(rising_for: int, held_for: int, *, query: str = COUNTER) -> MetricSummary:
    """A failure counter flat for the first half hour, counting for ``rising_for`` minutes
    after the rollout, then holding its value for ``held_for`` minutes."""
    quiet = 60 - rising_for - held_for
    counting = [20.0 * (i + 1) for i in range(rising_for)]
    return _series(query, [0.0] * quiet + counting + [20.0 * rising_for] * held_for)


def _evidence(*metrics: MetricSummary, old_pod: bool = False, restarts: int = 0) -> Evidence:
    pods = [
        make.pod(
            "checkout-new-a",
            make.container("app", "app:1.1", restarts=restarts),
            replica_set="checkout-new",
        )
    ]
    if old_pod:
        pods.append(
            make.pod("checkout-old-a", make.container("app", "app:1.0"), replica_set="checkout-old")
        )
    return make.evidence(
        workload=make.deployment(revision=5),
        pods=pods,
        revisions=make.rollout_revisions(
            5,
            {"app": "app:1.1"},
            {"app": "app:1.0"},
            minutes_ago=30,
            ready=1,
            old_ready=1 if old_pod else 0,
            names=("checkout-new", "checkout-old"),
        ),
        metrics=list(metrics),
        changes=[_rollout()],
    )


def _blames_rollout(ev: Evidence) -> bool:
    return any(
        f.analyzer == "change-correlation" and f.category is Category.BAD_ROLLOUT
        for f in analyze(ev).findings
    )


def test_held_since_dates_the_final_run_of_equal_values() -> None:
    summary = _series(COUNTER, [0, 0, 5, 10, 10, 10])
    assert summary.held_since == NOW - timedelta(minutes=2)
    assert _series(COUNTER, [3.0]).held_since is None
    rising = _series(COUNTER, [0, 1, 2, 3])
    assert rising.held_since == NOW


def test_failures_that_stopped_while_the_new_revision_serves_do_not_indict_it() -> None:
    ev = _evidence(_failures(rising_for=12, held_for=18))
    fact = symptom_ended(ev, _rollout())
    assert fact is not None
    assert "revision 5" in fact.fact
    assert not _blames_rollout(ev)


def test_failures_still_counting_point_at_the_rollout() -> None:
    ev = _evidence(_failures(rising_for=29, held_for=1))
    assert symptom_ended(ev, _rollout()) is None


def test_failures_stopped_only_a_moment_ago_are_not_over() -> None:
    ev = _evidence(_failures(rising_for=27, held_for=3))
    assert symptom_ended(ev, _rollout()) is None


def test_a_replica_of_the_old_revision_still_serving_keeps_the_question_open() -> None:
    ev = _evidence(_failures(rising_for=12, held_for=18), old_pod=True)
    assert symptom_ended(ev, _rollout()) is None


def test_a_restarted_replica_is_not_a_clean_run_of_the_new_revision() -> None:
    ev = _evidence(_failures(rising_for=12, held_for=18), restarts=2)
    assert symptom_ended(ev, _rollout()) is None


def test_another_symptom_still_rising_keeps_the_rollout_a_suspect() -> None:
    latency = make.metric(
        "histogram_quantile(0.99, sum by (le) "
        '(rate(http_request_duration_seconds_bucket{job="checkout"}[5m])))',
        name="latency_p99",
        first=0.2,
        last=2.5,
        trend="rising",
        changed_minutes_ago=20,
    )
    ev = _evidence(_failures(rising_for=12, held_for=18), latency)
    assert symptom_ended(ev, _rollout()) is None


def test_a_failure_rate_holding_a_high_level_still_fails() -> None:
    query = 'sum(rate(checkout_payment_failures_total{namespace="shop"}[5m]))'
    held_high = _series(query, [0.0] * 32 + [4.0] * 28)
    ev = _evidence(held_high)
    assert symptom_ended(ev, _rollout()) is None
    assert _blames_rollout(ev)
    back_to_zero = _series(query, [0.0] * 32 + [4.0] * 10 + [0.0] * 18)
    assert symptom_ended(_evidence(back_to_zero), _rollout()) is not None
    assert not _blames_rollout(_evidence(back_to_zero))


def test_only_a_rollout_is_judged() -> None:
    edit = ChangeEvidence(at=ago(30), kind="config", object=WORKLOAD, aspects=["data"])
    ev = _evidence(_failures(rising_for=12, held_for=18))
    assert symptom_ended(ev, edit) is None


def test_a_callers_failures_that_stopped_say_nothing_of_this_revision() -> None:
    theirs = 'ledger_post_failures_total{namespace="billing",pod="ledger-client-7d9-x2x9k"}'
    ev = _evidence(_failures(rising_for=12, held_for=18, query=theirs))
    ev.metrics[0].labels.update({"namespace": "billing", "pod": "ledger-client-7d9-x2x9k"})
    assert symptom_ended(ev, _rollout()) is None
