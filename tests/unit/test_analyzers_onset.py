"""Checks when the trouble began and which changes can explain it: the earliest of the first
symptom and the alert's start, and the window from a change to that onset (clock skew
before, two hours after) that every change-correlation rule shares.

Real: Evidence models from ``tests.support.evidence`` and ``kubetriage.analyzers.onset``.
"""

from __future__ import annotations

from kubetriage.analyzers.onset import attributable, earliest_onset, follows_within
from kubetriage.models.evidence import AlertEvidence
from tests.support import evidence as make
from tests.support.evidence import ago


def test_the_earliest_onset_is_the_first_warning_when_it_precedes_the_alert() -> None:
    ev = make.evidence(
        events=[make.event("BackOff", "Back-off restarting failed container", name="p")],
        alerts=[make.alert(alertname="KubePodCrashLooping")],
    )
    # The event was first seen 30 minutes ago, the alert started 6 minutes ago.
    assert earliest_onset(ev) == ago(30)


def test_the_alert_start_is_the_onset_when_nothing_else_is_dated() -> None:
    ev = make.evidence(alerts=[make.alert(alertname="HighLatency")])
    assert earliest_onset(ev) == ago(6)


def test_the_earliest_alert_counts_and_no_alert_and_no_symptom_is_no_onset() -> None:
    ev = make.evidence(
        alerts=[
            AlertEvidence(labels={"alertname": "A"}, starts_at=ago(3), status="firing"),
            AlertEvidence(labels={"alertname": "B"}, starts_at=ago(40), status="firing"),
        ]
    )
    assert earliest_onset(ev) == ago(40)
    assert earliest_onset(make.evidence()) is None


def test_a_change_explains_an_onset_up_to_two_hours_later_and_not_one_before_it() -> None:
    onset = ago(30)
    assert follows_within(ago(45), onset) == 15 * 60
    assert follows_within(ago(31), onset) == 60
    # Clock skew: a change stamped one minute after the onset is the same moment.
    assert follows_within(ago(29), onset) == -60
    assert follows_within(ago(25), onset) is None
    assert follows_within(ago(30 + 121), onset) is None
    assert follows_within(ago(30 + 119), onset) == 119 * 60
    assert follows_within(None, onset) is None


def test_attributable_bounds_are_inclusive() -> None:
    assert attributable(-120) and attributable(7200) and attributable(0)
    assert not attributable(-121) and not attributable(7201)
