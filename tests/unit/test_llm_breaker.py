"""The client's circuit breaker as a state machine on a fake clock: opening after N
consecutive failures, the half-open single trial, and a cancelled trial. Real: the class."""

from __future__ import annotations

from kubetriage.llm.breaker import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def state(cb: CircuitBreaker) -> str:
    # A plain str, so mypy does not narrow the Literal across state changes.
    return cb.state


def breaker(clock: Clock, threshold: int = 3) -> CircuitBreaker:
    return CircuitBreaker(failure_threshold=threshold, reset_after_seconds=30.0, clock=clock)


def test_opens_only_after_consecutive_failures() -> None:
    clock = Clock()
    cb = breaker(clock)
    for _ in range(2):
        assert cb.allow()
        cb.record(failed=True)
    assert cb.allow()
    cb.record(failed=False)  # a success resets the count
    for _ in range(2):
        cb.record(failed=True)
    assert state(cb) == "closed"
    cb.record(failed=True)
    assert state(cb) == "open"
    assert not cb.allow()
    assert cb.retry_in_seconds() == 30.0


def test_half_open_lets_exactly_one_trial_through() -> None:
    clock = Clock()
    cb = breaker(clock, threshold=1)
    cb.record(failed=True)
    clock.now = 29.9
    assert not cb.allow()
    clock.now = 30.0
    assert state(cb) == "half-open"
    assert cb.allow()
    assert not cb.allow()  # a second caller waits for the trial
    cb.record(failed=False)
    assert state(cb) == "closed"
    assert cb.allow()


def test_failed_trial_reopens_for_a_full_period() -> None:
    clock = Clock()
    cb = breaker(clock, threshold=2)
    cb.record(failed=True)
    cb.record(failed=True)
    clock.now = 31.0
    assert cb.allow()
    cb.record(failed=True)
    assert state(cb) == "open"
    assert cb.retry_in_seconds() == 30.0


def test_abandoned_trial_frees_the_slot() -> None:
    clock = Clock()
    cb = breaker(clock, threshold=1)
    cb.record(failed=True)
    clock.now = 30.0
    assert cb.allow()
    cb.abandon()
    assert cb.allow()
