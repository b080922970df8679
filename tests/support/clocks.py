"""A monotonic clock the test drives by hand (``clock.now += 2.0``), for code that takes a
``clock: Callable[[], float]`` (seconds): nothing sleeps and nothing depends on wall time."""

from __future__ import annotations


class HandClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
