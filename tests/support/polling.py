"""The one way tests wait for something: poll a condition until a deadline, then fail with
what was awaited and the last value seen (never a bare sleep standing in for "it is done")."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar, overload

T = TypeVar("T")

INTERVAL = 0.1


def _holds(value: object) -> bool:
    return bool(value)


def _timed_out(what: str, within: float, last: object) -> str:
    return f"timed out after {within:g}s waiting for {what}; last: {last}"


@overload
def wait_for(
    probe: Callable[[], T | None],
    *,
    what: str,
    within: float = 60.0,
    interval: float = INTERVAL,
    show: Callable[[T | None], object] = repr,
) -> T: ...


@overload
def wait_for(
    probe: Callable[[], T],
    *,
    what: str,
    until: Callable[[T], object],
    within: float = 60.0,
    interval: float = INTERVAL,
    show: Callable[[T], object] = repr,
) -> T: ...


def wait_for(
    probe: Callable[[], T],
    *,
    what: str,
    until: Callable[[T], object] = _holds,
    within: float = 60.0,
    interval: float = INTERVAL,
    show: Callable[[T], object] = repr,
) -> T:
    """Call ``probe`` until ``until(value)`` is true (by default: the value is truthy) and
    return that value; past ``within`` seconds raise AssertionError naming ``what`` and the
    last value (as ``show`` renders it). Without ``until`` the value returned is truthy, so
    a probe of ``X | None`` returns an ``X``."""
    deadline = time.monotonic() + within
    while True:
        value = probe()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(_timed_out(what, within, show(value)))
        time.sleep(interval)


async def wait_for_async(
    probe: Callable[[], Awaitable[T]],
    *,
    what: str,
    until: Callable[[T], object] = _holds,
    within: float = 60.0,
    interval: float = INTERVAL,
    show: Callable[[T], object] = repr,
) -> T:
    """``wait_for`` for a coroutine probe, polling without blocking the event loop."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(_timed_out(what, within, show(value)))
        await asyncio.sleep(interval)
