"""Checks the lag between a change and a step in a symptom series: a rollout (or an edit) that
was live for half an hour or more while the series was seen at its earlier level did not cause
a later step (the step has another cause: a dependency, a traffic spike, a node, a cron job),
while a step soon after the change, or one the series never showed the earlier level for
after the change, still points at it.

Real: Evidence models from ``tests.support.evidence``, ``kubetriage.analyzers.onset`` and
the whole analyzer registry.
"""

from __future__ import annotations

from kubetriage.analyzers.onset import (
    earliest_onset,
    filling_since,
    series_onset,
    served_before_step,
    stepped_long_after,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.models.vocabulary import Category
from tests.support import evidence as make
from tests.support.evidence import ago, analyze

WORKLOAD = ObjectRef(kind="Deployment", namespace="shop", name="checkout")


def _latency(*, stepped_minutes_ago: float, first_seen_minutes_ago: float = 60) -> MetricSummary:
    """p99 latency stepping from 0.2 s to 0.8 s ``stepped_minutes_ago``, sampled since
    ``first_seen_minutes_ago``."""
    return make.metric(
        "histogram_quantile(0.99, sum by (le) (rate("
        'http_request_duration_seconds_bucket{job="checkout"}[5m])))',
        name="http_latency_p99_seconds",
        first=0.2,
        last=0.8,
        trend="rising",
        changed_minutes_ago=stepped_minutes_ago,
    ).model_copy(
        update={
            "shape": "step",
            "before": 0.2,
            "after": 0.8,
            "first_at": ago(first_seen_minutes_ago),
        }
    )


def _serving_since(rollout_minutes_ago: float, *metrics: MetricSummary) -> Evidence:
    """The checkout Deployment at revision 5 (a new image), rolled out
    ``rollout_minutes_ago``, every pod ready."""
    return make.evidence(
        workload=make.deployment(revision=5),
        pods=[
            make.pod("checkout-new-a", make.container("app", "app:1.1"), replica_set="checkout-new")
        ],
        revisions=make.rollout_revisions(
            5,
            {"app": "app:1.1"},
            {"app": "app:1.0"},
            minutes_ago=rollout_minutes_ago,
            ready=1,
            names=("checkout-new", "checkout-new-old"),
        ),
        changes=[make.rollout_change(WORKLOAD, 4, "image", minutes_ago=rollout_minutes_ago)],
        alerts=[make.alert(alertname="CheckoutLatencyP99High")],
        metrics=list(metrics),
    )


def test_a_step_long_after_the_change_with_the_earlier_level_seen_is_not_the_changes() -> None:
    latency = _latency(stepped_minutes_ago=48)
    assert stepped_long_after(latency, ago(140))  # 92 minutes; seen at 0.2 s for 12 minutes
    assert stepped_long_after(latency, ago(90))  # 42 minutes, all of them in the samples
    assert not stepped_long_after(latency, ago(70))  # 22 minutes: soon enough to be its doing
    # The series began after the change and only two minutes before the step: not seen.
    assert not stepped_long_after(
        _latency(stepped_minutes_ago=48, first_seen_minutes_ago=50), ago(140)
    )
    # A ramp (a leak, a filling volume) grows from the change: no step to separate from it.
    ramp = latency.model_copy(update={"shape": "ramp"})
    assert not stepped_long_after(ramp, ago(140))


def test_served_before_step_names_the_series_and_how_long_the_change_served() -> None:
    found = served_before_step(_serving_since(140, _latency(stepped_minutes_ago=48)), ago(140))
    assert found is not None
    when, fact = found
    assert when == ago(48)
    assert "1h 32m" in fact.fact
    assert "http_latency_p99_seconds" in fact.fact
    assert served_before_step(_serving_since(70, _latency(stepped_minutes_ago=48)), ago(70)) is None


def test_a_rollout_that_served_an_hour_before_the_latency_step_is_not_rolled_back() -> None:
    result = analyze(_serving_since(140, _latency(stepped_minutes_ago=48)))
    assert "change-correlation" not in result.fired
    assert not any(f.category is Category.BAD_ROLLOUT for f in result.findings)


def test_a_latency_step_soon_after_the_rollout_still_points_at_it() -> None:
    result = analyze(_serving_since(70, _latency(stepped_minutes_ago=48)))
    assert "change-correlation" in result.fired


def test_an_earlier_warning_right_after_the_rollout_keeps_it_the_explanation() -> None:
    # The step came late, but the pods warned right after the rollout: the first symptom
    # follows the change, not the step.
    warning = make.event("Unhealthy", "Readiness probe failed: timeout", name="checkout-new-a")
    ev = _serving_since(140, _latency(stepped_minutes_ago=48)).model_copy(
        update={"events": [warning.model_copy(update={"first_seen": ago(135)})]}
    )
    assert served_before_step(ev, ago(140)) is not None
    assert "change-correlation" in analyze(ev).fired


def test_a_change_whose_effect_waits_for_something_to_fill_is_not_excused() -> None:
    # A leak or a store filling up shows only once full: the late step is still the change's.
    stepped = _serving_since(140, _latency(stepped_minutes_ago=48))
    assert not filling_since(stepped)
    full = make.log(
        "checkout-new-a", "app", "redis: OOM command not allowed when used memory > 'maxmemory'"
    )
    killed = make.pod(
        "checkout-new-a",
        make.container("app", "app:1.1", last_state=make.terminated("OOMKilled", 137)),
        replica_set="checkout-new",
    )
    memory = make.metric(
        'max(container_memory_working_set_bytes{pod=~"checkout-.*"})',
        name="memory_working_set_bytes",
        first=2.8e8,
        last=4.1e8,
        trend="rising",
    ).model_copy(update={"shape": "spike"})
    for filled in (
        stepped.model_copy(update={"logs": [full]}),
        stepped.model_copy(update={"pods": [killed]}),
        stepped.model_copy(update={"metrics": [*stepped.metrics, memory]}),
    ):
        assert filling_since(filled)
        assert served_before_step(filled, ago(140)) is None
        assert "change-correlation" in analyze(filled).fired


def _risen_and_easing(*, departed_minutes_ago: float) -> MetricSummary:
    """p99 latency that left 0.2 s ``departed_minutes_ago``, peaked and eased to 0.5 s five
    minutes ago: its latest move (``changed_at``) is the easing, its shape no step."""
    return _latency(stepped_minutes_ago=5).model_copy(
        update={"shape": "ramp", "last": 0.5, "departed_at": ago(departed_minutes_ago)}
    )


def test_the_onset_of_a_series_that_rose_and_eased_is_when_it_left_its_level() -> None:
    eased = _risen_and_easing(departed_minutes_ago=22)
    assert series_onset(eased) == ago(22)
    # Without a departure (a drift, or a summary that has none) the latest step stands.
    assert series_onset(eased.model_copy(update={"departed_at": None})) == ago(5)
    ev = _serving_since(56, eased)
    assert earliest_onset(ev) == ago(22)
    assert stepped_long_after(eased, ago(56))  # left its level 34 minutes after the change
    assert not stepped_long_after(eased, ago(45))  # 23 minutes: soon enough to be its doing


def test_a_rollout_that_served_half_an_hour_before_latency_rose_and_eased_is_not_blamed() -> None:
    result = analyze(_serving_since(56, _risen_and_easing(departed_minutes_ago=22)))
    assert "change-correlation" not in result.fired
    assert not any(f.category is Category.BAD_ROLLOUT for f in result.findings)


def test_latency_that_rose_soon_after_the_rollout_and_eased_still_points_at_it() -> None:
    # Near miss: the same series, but it left its level ten minutes after the rollout.
    result = analyze(_serving_since(32, _risen_and_easing(departed_minutes_ago=22)))
    assert "change-correlation" in result.fired
