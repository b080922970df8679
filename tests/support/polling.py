"""Polling with a deadline: the one way tests wait for something asynchronous."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(check: Callable[[], T | None], *, timeout: float = 30.0, what: str = "") -> T:
    """Call ``check`` until it returns something truthy and return it; fail after
    ``timeout`` seconds naming ``what`` and the last value seen."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or check}: {last!r}")
