"""The LLM client's circuit breaker: a state machine over consecutive failed diagnoses.

Closed while diagnoses succeed; open after ``failure_threshold`` consecutive failures, when
``kubetriage.llm.client.LLMClient`` answers ``circuit_open`` at once instead of calling the
server; half-open after ``reset_after_seconds``, when a single trial decides between closed
and open again. A cancelled trial lets the next call be the trial. Pure: the clock is passed in.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal


@dataclass
class CircuitBreaker:
    """Closed -> open after ``failure_threshold`` consecutive failures -> half-open after
    ``reset_after_seconds``, where a single trial decides between closed and open again."""

    failure_threshold: int
    reset_after_seconds: float
    clock: Callable[[], float] = time.monotonic
    _failures: int = 0
    _opened_at: float | None = None
    _trial_in_flight: bool = False

    @property
    def state(self) -> Literal["closed", "open", "half-open"]:
        if self._opened_at is None:
            return "closed"
        if self.clock() - self._opened_at < self.reset_after_seconds:
            return "open"
        return "half-open"

    def retry_in_seconds(self) -> float:
        if self._opened_at is None:
            return 0.0
        return max(0.0, self.reset_after_seconds - (self.clock() - self._opened_at))

    def allow(self) -> bool:
        state = self.state
        if state == "closed":
            return True
        if state == "open" or self._trial_in_flight:
            return False
        self._trial_in_flight = True
        return True

    def record(self, *, failed: bool) -> None:
        self._trial_in_flight = False
        if not failed:
            self._failures = 0
            self._opened_at = None
            return
        self._failures += 1
        if self._opened_at is not None or self._failures >= self.failure_threshold:
            self._opened_at = self.clock()

    def abandon(self) -> None:
        """The call was cancelled: let the next one be the trial."""
        self._trial_in_flight = False
