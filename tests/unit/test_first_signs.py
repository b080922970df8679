"""Checks that a change is no suspect for a symptom whose first sign came before it: a
failing series' first burst (not its latest step), a failing log line, a kill the kubelet
recorded, or the alert's start, each more than the clock-skew tolerance before the change
began; and the near misses that keep the change a suspect (a series flat until after the
change, a sign within the tolerance, a callee's failures, a line that reports no failure,
a change whose start is unknown, a rollout that began before the symptom and completed
after it).

Real: Evidence models from ``tests.support.evidence`` and the real analyzers.
"""

from __future__ import annotations

from kubetriage.analyzers.onset import first_sign_before
from kubetriage.evidence.series import summarize_series
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import ChangeEvidence, MetricSummary
from tests.support import evidence as make
from tests.support.evidence import ago, analyze

WORKLOAD = ObjectRef(kind="Deployment", namespace="shop", name="checkout")


def _rollout(minutes_ago: float | None) -> ChangeEvidence:
    return ChangeEvidence(
        at=None if minutes_ago is None else ago(minutes_ago),
        kind="rollout",
        object=WORKLOAD,
        aspects=["image"],
        details=["revision 4 -> 5", "app image app:1.0 -> app:1.1"],
        from_revision=4,
        to_revision=5,
    )


def _errors(*, rose_minutes_ago: float | None) -> MetricSummary:
    """The 5xx ratio, stepping up 20 minutes ago, which first rose ``rose_minutes_ago``
    (None: no rise dated)."""
    rose = {} if rose_minutes_ago is None else {"rose_at": ago(rose_minutes_ago)}
    ratio = make.error_ratio(first=0.001, last=0.1, changed_minutes_ago=20, trend="rising")
    return ratio.model_copy(update=rose)


def _serving(change: ChangeEvidence, **fields: object) -> Evidence:
    """The checkout Deployment at revision 5 (rolled out by ``change``), its pod running
    app:1.1, the errors stepping up 20 minutes ago."""
    defaults: dict[str, object] = {
        "workload": make.deployment(revision=5),
        "pods": [
            make.pod("checkout-new-a", make.container("app", "app:1.1"), replica_set="checkout-new")
        ],
        "revisions": make.rollout_revisions(
            5,
            {"app": "app:1.1"},
            {"app": "app:1.0"},
            minutes_ago=30,
            ready=2,
            names=("checkout-new", "checkout-old"),
        ),
        "metrics": [_errors(rose_minutes_ago=None)],
        "changes": [change],
    }
    defaults.update(fields)
    return make.evidence(**defaults)


def _blamed(ev: Evidence) -> bool:
    return "change-correlation" in analyze(ev).fired


def test_errors_stepping_after_the_rollout_blame_it() -> None:
    # The baseline: the latest step 10 minutes after a rollout 30 minutes ago, no earlier sign.
    assert _blamed(_serving(_rollout(30)))


def test_errors_that_first_rose_before_the_rollout_do_not_blame_it() -> None:
    # The ratio stepped 20 minutes ago, but its first burst came 45 minutes ago.
    ev = _serving(_rollout(30), metrics=[_errors(rose_minutes_ago=45)])
    assert not _blamed(ev)
    sign = first_sign_before(ev, ago(30))
    assert sign is not None
    assert sign[0] == ago(45)


def test_errors_flat_until_after_the_rollout_still_blame_it() -> None:
    # Near miss: the same series, flat before and rising 25 minutes ago, after the rollout.
    assert _blamed(_serving(_rollout(30), metrics=[_errors(rose_minutes_ago=25)]))


def test_a_first_sign_within_the_clock_skew_tolerance_still_blames_it() -> None:
    assert _blamed(_serving(_rollout(30), metrics=[_errors(rose_minutes_ago=31)]))


def test_a_callees_failures_rising_before_the_rollout_are_no_sign_of_its_symptom() -> None:
    # Near miss: the errors of a called workload's pods (a callee template's series).
    callee = _errors(rose_minutes_ago=45).model_copy(update={"name": "callee_http_5xx"})
    ev = _serving(_rollout(30), metrics=[_errors(rose_minutes_ago=None), callee])
    assert _blamed(ev)


def _old_pod(reason: str, exit_code: int, finished_minutes_ago: float) -> object:
    """A pod of the previous revision whose container last ended so, that long ago."""
    ended = make.terminated(reason, exit_code).model_copy(
        update={"finished_at": ago(finished_minutes_ago)}
    )
    container = make.container("app", "app:1.0", restarts=3, last_state=ended)
    return make.pod("checkout-old-a", container, replica_set="checkout-old")


def test_an_oom_kill_before_the_rollout_does_not_blame_it() -> None:
    new = make.pod("checkout-new-a", make.container("app", "app:1.1"), replica_set="checkout-new")
    assert not _blamed(_serving(_rollout(30), pods=[new, _old_pod("OOMKilled", 137, 50)]))
    # Near misses: a container that completed (a scale-in's, a rollout's own termination),
    # and a kill after the rollout began.
    assert _blamed(_serving(_rollout(30), pods=[new, _old_pod("Completed", 0, 50)]))
    assert _blamed(_serving(_rollout(30), pods=[new, _old_pod("OOMKilled", 137, 25)]))


def test_a_failing_log_line_before_the_rollout_does_not_blame_it() -> None:
    line = '{"ts": "2026-11-20T09:20:04Z", "level": "error", "msg": "upstream answered 503"}'
    ev = _serving(_rollout(30), logs=[make.log("checkout-new-a", "app", line)])
    assert not _blamed(ev)
    # Near misses: an info line at the same time; an error line after the rollout; an error
    # line of a pod that is not the workload's.
    info = line.replace('"error"', '"info"')
    later = line.replace("09:20:04", "09:40:04")
    other = make.log("payments-a", "app", line)
    assert _blamed(_serving(_rollout(30), logs=[make.log("checkout-new-a", "app", info)]))
    assert _blamed(_serving(_rollout(30), logs=[make.log("checkout-new-a", "app", later)]))
    assert _blamed(_serving(_rollout(30), logs=[other]))


def test_a_rollout_that_began_before_the_symptom_and_completed_after_it_stays_a_suspect() -> None:
    # The rollout began 30 minutes ago (its ReplicaSet's creation) and its last pod became
    # ready 5 minutes ago; the errors first rose 20 minutes ago, mid-rollout: after its start.
    assert first_sign_before(_serving(_rollout(30)), ago(30)) is None
    assert _blamed(_serving(_rollout(30), metrics=[_errors(rose_minutes_ago=20)]))


def test_a_change_whose_start_is_unknown_is_compared_with_nothing() -> None:
    ev = _serving(_rollout(None), metrics=[_errors(rose_minutes_ago=45)])
    assert first_sign_before(ev, None) is None
    assert not _blamed(ev)  # an undated change was never blamed: nothing dates it "right before"


def _summarised_ratio(rises_minutes_ago: int) -> MetricSummary:
    """The 5xx ratio as the collector summarises it: flat at 0.1% and at 10% from
    ``rises_minutes_ago``, one sample a minute for an hour."""
    values = [0.001 if minute > rises_minutes_ago else 0.1 for minute in range(60, -1, -1)]
    points = [(ago(60 - i), v) for i, v in enumerate(values)]
    query = (
        'sum(rate(http_requests_total{job="checkout",code=~"5.."}[5m])) '
        '/ sum(rate(http_requests_total{job="checkout"}[5m]))'
    )
    return summarize_series("http_5xx_ratio", query, {}, points)


def test_a_summarised_series_flat_then_rising_after_the_rollout_blames_it() -> None:
    # End to end from the samples: flat until 25 minutes ago, after a rollout 30 minutes ago.
    assert _blamed(_serving(_rollout(30), metrics=[_summarised_ratio(25)]))
    # Near miss: the same series rising 45 minutes ago, before the rollout.
    assert not _blamed(_serving(_rollout(30), metrics=[_summarised_ratio(45)]))


def test_single_bursts_before_the_rollout_date_the_symptom_not_its_latest_step() -> None:
    # One-minute bursts of 5xx every five minutes from 35 minutes ago, sustained for the last
    # ten: the step dates 10 minutes ago, after a rollout 25 minutes ago; the first burst,
    # before it, is the symptom's first sign.
    bursts = {35, 30, 25, 20, 15}
    values = [0.1 if m in bursts or m <= 10 else 0.001 for m in range(60, -1, -1)]
    points = [(ago(60 - i), v) for i, v in enumerate(values)]
    ratio = summarize_series("http_5xx_ratio", _summarised_ratio(0).query, {}, points)
    assert ratio.changed_at == ago(10)
    assert ratio.rose_at == ago(35)
    assert not _blamed(_serving(_rollout(25), metrics=[ratio]))
    # Near miss: without the earlier bursts the same rollout is blamed.
    calm = [0.1 if m <= 10 else 0.001 for m in range(60, -1, -1)]
    steady = summarize_series(
        "http_5xx_ratio",
        _summarised_ratio(0).query,
        {},
        [(ago(60 - i), v) for i, v in enumerate(calm)],
    )
    assert _blamed(_serving(_rollout(25), metrics=[steady]))
