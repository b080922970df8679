"""The LLM budget's bookkeeping (``kubetriage.llm.budget``): the calls-per-minute token
bucket, the hour and day token windows with reservations settled by real usage, the share
kept for critical Incidents, what a refusal says (which limit, when it resets), and a
restart from saved state within and after a window. Pure code with a hand-driven clock:
nothing sleeps and nothing depends on wall time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kubetriage.llm.budget import (
    BudgetLimits,
    BudgetState,
    Denial,
    Grant,
    Limit,
    LLMBudget,
)
from kubetriage.models.vocabulary import Severity
from kubetriage.settings import Settings

START = datetime(2026, 3, 4, 10, 15, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _grants(budget: LLMBudget, count: int, severity: Severity = Severity.WARNING) -> list[bool]:
    return [isinstance(budget.acquire(severity), Grant) for _ in range(count)]


def test_calls_per_minute_is_a_bucket_of_n_refilled_n_per_minute() -> None:
    clock = Clock()
    budget = LLMBudget(BudgetLimits(calls_per_minute=20), clock)
    assert _grants(budget, 25) == [True] * 20 + [False] * 5
    clock.advance(2.9)  # under one call's worth (3 s at 20/min)
    assert _grants(budget, 1) == [False]
    clock.advance(0.1)
    assert _grants(budget, 2) == [True, False]
    clock.advance(600)  # a long quiet spell refills to the bucket's size, not beyond
    assert _grants(budget, 21).count(True) == 20


def test_a_refusal_names_the_limit_and_when_it_resets() -> None:
    clock = Clock()
    budget = LLMBudget(BudgetLimits(calls_per_minute=6), clock)
    _grants(budget, 6)
    denial = budget.acquire(Severity.CRITICAL)
    assert isinstance(denial, Denial)
    assert denial.limit is Limit.CALLS_PER_MINUTE
    assert denial.limit.reason == "CallsPerMinute"
    assert denial.resets_at == START + timedelta(seconds=10)  # one call per 10 s at 6/min
    assert "calls-per-minute limit of 6" in denial.message
    assert "2026-03-04T10:15:10+00:00 (in 10s)" in denial.message


def test_critical_incidents_keep_their_reserved_share_of_calls() -> None:
    clock = Clock()
    budget = LLMBudget(BudgetLimits(calls_per_minute=20, critical_reserve=0.25), clock)
    # Warnings arrive first and stop at 15: the last 5 calls are kept.
    assert _grants(budget, 20, Severity.WARNING).count(True) == 15
    refused = budget.acquire(Severity.INFO)
    assert isinstance(refused, Denial)
    assert "kept for critical incidents" in refused.message
    assert _grants(budget, 6, Severity.CRITICAL) == [True] * 5 + [False]


def test_critical_incidents_keep_their_reserved_share_of_tokens() -> None:
    clock = Clock()
    limits = BudgetLimits(tokens_per_day=10_000, critical_reserve=0.5, call_estimate_tokens=2_000)
    budget = LLMBudget(limits, clock)
    assert _grants(budget, 3, Severity.WARNING) == [True, True, False]
    refused = budget.acquire(Severity.WARNING)
    assert isinstance(refused, Denial)
    assert "the last 50% is kept for critical incidents" in refused.message
    assert _grants(budget, 4, Severity.CRITICAL) == [True, True, True, False]


def test_token_windows_reserve_then_settle_real_usage() -> None:
    clock = Clock()
    limits = BudgetLimits(tokens_per_hour=10_000, call_estimate_tokens=3_000)
    budget = LLMBudget(limits, clock)
    grants = [budget.acquire(Severity.WARNING) for _ in range(4)]
    # Three reservations of 3000 fit in 10000; a fourth would not.
    assert [isinstance(g, Grant) for g in grants] == [True, True, True, False]
    for grant in grants[:3]:
        assert isinstance(grant, Grant)
        budget.settle(grant, 1_000)  # each call really used 1000
    assert budget.remaining() == {Limit.TOKENS_PER_HOUR: 7_000.0}
    assert _grants(budget, 3) == [True, True, False]


def test_the_hour_window_resets_at_the_top_of_the_hour_and_the_day_does_not() -> None:
    clock = Clock()
    limits = BudgetLimits(tokens_per_hour=1_000, tokens_per_day=1_500, call_estimate_tokens=500)
    budget = LLMBudget(limits, clock)
    assert _grants(budget, 3) == [True, True, False]
    denial = budget.acquire(Severity.WARNING)
    assert isinstance(denial, Denial)
    assert denial.limit is Limit.TOKENS_PER_HOUR
    assert denial.resets_at == datetime(2026, 3, 4, 11, 0, tzinfo=UTC)
    assert denial.message == (
        "tokens-per-hour limit of 1000 reached for warning incidents (1000 tokens used, a "
        "call reserves 500); resets at 2026-03-04T11:00:00+00:00 (in 2700s)"
    )
    clock.now = datetime(2026, 3, 4, 11, 0, tzinfo=UTC)
    assert _grants(budget, 2) == [True, False]
    denial = budget.acquire(Severity.WARNING)
    assert isinstance(denial, Denial)
    assert denial.limit is Limit.TOKENS_PER_DAY
    assert denial.resets_at == datetime(2026, 3, 5, 0, 0, tzinfo=UTC)


def test_usage_settled_after_its_window_ended_is_not_charged_to_the_next() -> None:
    clock = Clock(datetime(2026, 3, 4, 10, 59, 50, tzinfo=UTC))
    budget = LLMBudget(BudgetLimits(tokens_per_hour=5_000, call_estimate_tokens=1_000), clock)
    grant = budget.acquire(Severity.WARNING)
    assert isinstance(grant, Grant)
    clock.advance(20)  # the call ends in the next hour
    budget.settle(grant, 4_000)
    assert budget.remaining() == {Limit.TOKENS_PER_HOUR: 5_000.0}


def test_a_restart_within_the_window_keeps_the_usage() -> None:
    clock = Clock()
    limits = BudgetLimits(calls_per_minute=10, tokens_per_hour=20_000, call_estimate_tokens=1_000)
    first = LLMBudget(limits, clock)
    assert _grants(first, 10).count(True) == 10
    saved = BudgetState.model_validate_json(first.state().model_dump_json())

    clock.advance(12)  # the new process starts 12 s later: 2 calls refilled, not 10
    second = LLMBudget(limits, clock)
    second.restore(saved)
    assert _grants(second, 3) == [True, True, False]
    assert second.remaining()[Limit.TOKENS_PER_HOUR] == 20_000 - 12 * 1_000

    clock.now = datetime(2026, 3, 4, 11, 0, 1, tzinfo=UTC)  # a new hour: a fresh window
    third = LLMBudget(limits, clock)
    third.restore(second.state())
    assert third.remaining()[Limit.TOKENS_PER_HOUR] == 20_000


def test_limits_from_settings_reject_a_window_no_call_fits_in() -> None:
    settings = Settings(llm_calls_per_minute=20, llm_tokens_per_hour=100_000)
    limits = BudgetLimits.from_settings(settings)
    assert limits.call_estimate_tokens == (
        settings.llm_prompt_max_chars // 4 + settings.llm_max_output_tokens
    )
    assert limits.enabled
    assert not BudgetLimits.from_settings(Settings()).enabled
    with pytest.raises(ValueError, match="llm_tokens_per_day=100 is below one call's estimate"):
        BudgetLimits.from_settings(Settings(llm_tokens_per_day=100))


def test_the_reserve_keeps_whole_calls_so_a_small_bucket_still_serves_everyone() -> None:
    clock = Clock()
    budget = LLMBudget(BudgetLimits(calls_per_minute=1, critical_reserve=0.25), clock)
    assert _grants(budget, 2, Severity.INFO) == [True, False]


def test_a_reserve_that_leaves_no_call_for_the_others_is_refused_at_startup() -> None:
    with pytest.raises(ValueError, match="only critical incidents could ever use the model"):
        BudgetLimits(tokens_per_hour=8_000, critical_reserve=0.25, call_estimate_tokens=6_800)
