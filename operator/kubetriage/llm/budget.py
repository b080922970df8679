"""How much the model may be used: calls per minute and input+output tokens per hour and per
day, with a share of every limit kept for critical Incidents.

``LLMBudget`` is pure bookkeeping over a ``BudgetState``, with the time read from a clock
passed in (tests drive it by hand and never sleep). The operator builds one at startup and
shares it by every diagnosis (``llm.budget_store.PersistentBudget`` wraps it and keeps the
state in a ConfigMap, so a restart within a window does not reset it); the pipeline asks
``acquire(severity)`` before the model call and ``settle(grant, tokens)`` after it.

- **Calls per minute** is a token bucket: it holds up to N calls and refills N per minute
  (one every 60/N s), so a storm gets at most N calls at once and then one every 60/N s.
- **Tokens per hour / per day** count input+output tokens in the current UTC clock hour and
  UTC day. A call reserves ``call_estimate_tokens`` (the prompt limit / 4 + the output limit)
  when it starts, and its real usage replaces the reservation when it ends, so concurrent
  calls cannot overrun the window together.
- **Critical first**: an Incident that is not critical may not use the last
  ``critical_reserve`` share of any limit; a storm of warnings leaves that share to the
  critical Incidents that come after them.

A refused call is never queued: the diagnosis goes on without the model, and the ``Denial``
says which limit and when it resets.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from kubetriage.models.vocabulary import Severity
from kubetriage.settings import Settings

# Roughly four characters a token for English and JSON; the reservation is only an estimate,
# replaced by the server's count when the call ends.
CHARS_PER_TOKEN = 4
_EPSILON = 1e-9


class Limit(StrEnum):
    CALLS_PER_MINUTE = "calls-per-minute"
    TOKENS_PER_HOUR = "tokens-per-hour"
    TOKENS_PER_DAY = "tokens-per-day"
    # Not a limit: the saved usage could not be read, so no call is risked.
    STATE_UNAVAILABLE = "budget-state-unavailable"

    @property
    def reason(self) -> str:
        """The condition reason for this limit (``CallsPerMinute``)."""
        return "".join(part.capitalize() for part in self.value.split("-"))


@dataclass(frozen=True)
class BudgetLimits:
    calls_per_minute: int | None = None
    tokens_per_hour: int | None = None
    tokens_per_day: int | None = None
    critical_reserve: float = 0.0
    call_estimate_tokens: int = 1

    def __post_init__(self) -> None:
        if not 0.0 <= self.critical_reserve < 1.0:
            raise ValueError("critical_reserve must be in [0, 1)")
        for name in ("tokens_per_hour", "tokens_per_day"):
            value = getattr(self, name)
            if value is None:
                continue
            if value < self.call_estimate_tokens:
                raise ValueError(
                    f"llm_{name}={value} is below one call's estimate of "
                    f"{self.call_estimate_tokens} tokens (llm_prompt_max_chars / "
                    f"{CHARS_PER_TOKEN} + llm_max_output_tokens): no call could ever start"
                )
            if value * (1.0 - self.critical_reserve) < self.call_estimate_tokens:
                raise ValueError(
                    f"llm_{name}={value} less the critical reserve "
                    f"({self.critical_reserve:.0%}) is below one call's estimate of "
                    f"{self.call_estimate_tokens} tokens: only critical incidents could ever "
                    "use the model; raise the limit or lower llm_critical_reserve"
                )

    @classmethod
    def from_settings(cls, settings: Settings) -> BudgetLimits:
        return cls(
            calls_per_minute=settings.llm_calls_per_minute,
            tokens_per_hour=settings.llm_tokens_per_hour,
            tokens_per_day=settings.llm_tokens_per_day,
            critical_reserve=settings.llm_critical_reserve,
            call_estimate_tokens=settings.llm_prompt_max_chars // CHARS_PER_TOKEN
            + settings.llm_max_output_tokens,
        )

    @property
    def enabled(self) -> bool:
        return bool(self.configured())

    def configured(self) -> dict[Limit, int]:
        limits = {
            Limit.CALLS_PER_MINUTE: self.calls_per_minute,
            Limit.TOKENS_PER_HOUR: self.tokens_per_hour,
            Limit.TOKENS_PER_DAY: self.tokens_per_day,
        }
        return {limit: value for limit, value in limits.items() if value is not None}


class BudgetState(BaseModel):
    """What has been used; the part of the budget that must survive a restart."""

    model_config = ConfigDict(extra="ignore")

    calls_available: float | None = None
    calls_at: datetime | None = None
    hour_start: datetime | None = None
    hour_tokens: int = 0
    day_start: datetime | None = None
    day_tokens: int = 0


@dataclass(frozen=True)
class Grant:
    """Permission for one model call; ``settle`` it with the tokens the call used."""

    reserved_tokens: int
    hour_start: datetime
    day_start: datetime
    # Set when the usage could not be saved (the call is still allowed).
    warning: str | None = None


@dataclass(frozen=True)
class Denial:
    """No call now: which limit, and when a call of this severity may be made again."""

    limit: Limit
    message: str
    resets_at: datetime | None = None


Decision = Grant | Denial


def _hour_start(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0)


def _day_start(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def _when(resets_at: datetime, now: datetime) -> str:
    seconds = max(0, math.ceil((resets_at - now).total_seconds()))
    return f"{resets_at.isoformat(timespec='seconds')} (in {seconds}s)"


class LLMBudget:
    """The operator's one budget; safe to read from the metrics scrape thread."""

    def __init__(
        self,
        limits: BudgetLimits,
        clock: Callable[[], datetime],
        state: BudgetState | None = None,
    ) -> None:
        self.limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._state = (state or BudgetState()).model_copy()

    def now(self) -> datetime:
        """The budget's clock."""
        return self._clock()

    def restore(self, state: BudgetState) -> None:
        """Continue from saved usage (a restart): windows still current keep their usage,
        the call bucket refills for the time that passed."""
        with self._lock:
            self._state = state.model_copy()

    def state(self) -> BudgetState:
        with self._lock:
            return self._state.model_copy()

    def _roll(self, now: datetime) -> tuple[datetime, datetime]:
        """Refill the call bucket and start new windows; the current hour's and day's
        starts."""
        state = self._state
        per_minute = self.limits.calls_per_minute
        if per_minute is not None:
            if state.calls_available is None or state.calls_at is None:
                state.calls_available, state.calls_at = float(per_minute), now
            else:
                elapsed = (now - state.calls_at).total_seconds()
                if elapsed > 0:
                    refill = elapsed * per_minute / 60.0
                    state.calls_available = min(float(per_minute), state.calls_available + refill)
                    state.calls_at = now
                # A limit lowered since the state was saved applies at once.
                state.calls_available = min(float(per_minute), state.calls_available)
        hour = _hour_start(now)
        if state.hour_start is None or hour > state.hour_start:
            state.hour_start, state.hour_tokens = hour, 0
        day = _day_start(now)
        if state.day_start is None or day > state.day_start:
            state.day_start, state.day_tokens = day, 0
        return state.hour_start, state.day_start

    def acquire(self, severity: Severity) -> Decision:
        """A grant for one call, or the limit that refuses it. Never waits."""
        now = self._clock()
        limits = self.limits
        keep = 0.0 if severity is Severity.CRITICAL else limits.critical_reserve
        with self._lock:
            hour_start, day_start = self._roll(now)
            state = self._state
            denial = self._calls_denial(now, keep, severity)
            for limit, value, used, resets_at in (
                (
                    Limit.TOKENS_PER_HOUR,
                    limits.tokens_per_hour,
                    state.hour_tokens,
                    hour_start + timedelta(hours=1),
                ),
                (
                    Limit.TOKENS_PER_DAY,
                    limits.tokens_per_day,
                    state.day_tokens,
                    day_start + timedelta(days=1),
                ),
            ):
                if denial is not None or value is None:
                    continue
                usable = value * (1.0 - keep)
                if used + limits.call_estimate_tokens > usable + _EPSILON:
                    kept = (
                        f"; the last {keep:.0%} is kept for critical incidents"
                        if keep and used + limits.call_estimate_tokens <= value
                        else ""
                    )
                    denial = Denial(
                        limit=limit,
                        resets_at=resets_at,
                        message=(
                            f"{limit_text(limit, value)} reached for {severity.value} "
                            f"incidents ({used} tokens used, a call reserves "
                            f"{limits.call_estimate_tokens}{kept}); resets at "
                            f"{_when(resets_at, now)}"
                        ),
                    )
            if denial is not None:
                return denial
            if state.calls_available is not None:
                state.calls_available -= 1.0
            state.hour_tokens += limits.call_estimate_tokens
            state.day_tokens += limits.call_estimate_tokens
            return Grant(
                reserved_tokens=limits.call_estimate_tokens,
                hour_start=hour_start,
                day_start=day_start,
            )

    def _calls_denial(self, now: datetime, keep: float, severity: Severity) -> Denial | None:
        per_minute = self.limits.calls_per_minute
        available = self._state.calls_available
        if per_minute is None or available is None:
            return None
        # Whole calls are kept: with 1 call a minute a 25% reserve keeps none.
        kept_calls = math.floor(keep * per_minute + _EPSILON)
        needed = 1.0 + kept_calls
        if available + _EPSILON >= needed:
            return None
        resets_at = now + timedelta(seconds=(needed - available) * 60.0 / per_minute)
        kept = (
            f"; the last {kept_calls} are kept for critical incidents"
            if kept_calls and available + _EPSILON >= 1.0
            else ""
        )
        return Denial(
            limit=Limit.CALLS_PER_MINUTE,
            resets_at=resets_at,
            message=(
                f"{limit_text(Limit.CALLS_PER_MINUTE, per_minute)} reached for "
                f"{severity.value} incidents ({available:.1f} calls left{kept}); the next call "
                f"is possible at {_when(resets_at, now)}"
            ),
        )

    def settle(self, grant: Grant, tokens: int | None) -> None:
        """Replace the grant's reservation with what the call used (None: unknown, the
        reservation stays charged). Usage of a window that has ended is not moved."""
        if tokens is None:
            return
        delta = tokens - grant.reserved_tokens
        with self._lock:
            state = self._state
            if state.hour_start == grant.hour_start:
                state.hour_tokens = max(0, state.hour_tokens + delta)
            if state.day_start == grant.day_start:
                state.day_tokens = max(0, state.day_tokens + delta)

    def remaining(self) -> dict[Limit, float]:
        """What is left of every configured limit now (for all severities)."""
        now = self._clock()
        with self._lock:
            self._roll(now)
            state = self._state
            left: dict[Limit, float] = {}
            for limit, value in self.limits.configured().items():
                if limit is Limit.CALLS_PER_MINUTE:
                    left[limit] = max(0.0, state.calls_available or 0.0)
                elif limit is Limit.TOKENS_PER_HOUR:
                    left[limit] = float(max(0, value - state.hour_tokens))
                else:
                    left[limit] = float(max(0, value - state.day_tokens))
            return left


def limit_text(limit: Limit, value: int) -> str:
    """``calls-per-minute limit of 20``: how a limit is named in messages."""
    return f"{limit.value} limit of {value}"
