"""Checks when the trouble began and which changes can explain it: the earliest of the first
symptom and the alert's start, and the window from a change to that onset (clock skew
before, two hours after) that every change-correlation rule shares.

Real: Evidence models from ``tests.support.evidence`` and ``kubetriage.analyzers.onset``.
"""

from __future__ import annotations

from kubetriage.analyzers.onset import attributable, earliest_onset, follows_within
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.object_evidence import ProbeSpec
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
    assert attributable(-120)
    assert attributable(0)
    assert attributable(7200)
    assert not attributable(-121)
    assert not attributable(7201)


def _blip_evidence(
    *,
    last_minutes_ago: float,
    count: int = 1,
    ready: bool = True,
    probes: list[ProbeSpec] | None = None,
) -> Evidence:
    probe = make.event(
        "Unhealthy",
        "Readiness probe failed: timeout: failed to connect service within 1s",
        name="ranker-5d8f-x2k4q",
        count=count,
    ).model_copy(update={"first_seen": ago(last_minutes_ago), "last_seen": ago(last_minutes_ago)})
    return make.evidence(
        pods=[
            make.pod(
                "ranker-5d8f-x2k4q", make.container("ranker", ready=ready, probes=probes or [])
            )
        ],
        events=[probe],
        alerts=[make.alert(alertname="GrpcDeadlineExceededHigh")],
    )


def test_a_readiness_blip_long_before_the_alert_is_not_the_onset() -> None:
    # One failed readiness probe 40 minutes before the alert, the pod ready since and never
    # restarted: a blip that ended, so the alert's start (6 minutes ago) dates the trouble.
    assert earliest_onset(_blip_evidence(last_minutes_ago=46)) == ago(6)


def test_a_readiness_blip_next_to_the_alert_still_dates_the_onset() -> None:
    # Near miss: the same blip minutes before the alert is part of what the alert reports.
    assert earliest_onset(_blip_evidence(last_minutes_ago=10)) == ago(10)


def test_repeated_failures_or_an_unready_pod_are_no_blip() -> None:
    # Near misses: failures that add up, or a pod still out of rotation, are the symptom.
    many = _blip_evidence(last_minutes_ago=46, count=12)
    unready = _blip_evidence(last_minutes_ago=46, ready=False)
    assert earliest_onset(many) == ago(46)
    assert earliest_onset(unready) == ago(46)


def test_a_readiness_failure_under_the_probes_threshold_never_dates_the_onset() -> None:
    # One failed readiness probe 10 minutes before the alert, on a pod whose readiness probe
    # needs three failures in a row to mark it unready: it never left its endpoints.
    probes = [make.http_probe("readiness", "/ready", 8080, failure_threshold=3)]
    assert earliest_onset(_blip_evidence(last_minutes_ago=10, probes=probes)) == ago(6)


def test_readiness_failures_reaching_the_threshold_still_date_the_onset() -> None:
    # Near misses: as many failures as the threshold took the pod out of rotation; a probe
    # allowing one failure (failureThreshold 1) did too; a liveness probe's threshold is not
    # the readiness probe's.
    three = [make.http_probe("readiness", "/ready", 8080, failure_threshold=3)]
    one = [make.http_probe("readiness", "/ready", 8080, failure_threshold=1)]
    liveness_only = [make.http_probe("liveness", "/live", 8080, failure_threshold=3)]
    assert earliest_onset(_blip_evidence(last_minutes_ago=10, count=3, probes=three)) == ago(10)
    assert earliest_onset(_blip_evidence(last_minutes_ago=10, probes=one)) == ago(10)
    assert earliest_onset(_blip_evidence(last_minutes_ago=10, probes=liveness_only)) == ago(10)
