"""The bounded queue between the webhook handler and the Incident writers.

``kubetriage.receiver.server`` offers each accepted notification; its workers take work one
alert group at a time. Two properties matter:

- **bounded**: ``offer`` refuses when ``capacity`` notifications are waiting or being
  written, and the handler answers 503 with ``Retry-After``, so a storm is pushed back to
  Alertmanager (which retries) instead of growing memory or being dropped;
- **ordered per group**: a group is handed to one worker at a time, with every notification
  queued for it so far, oldest first. The worker folds them into one write (coalescing), so
  a storm on one group costs one read-modify-write per round, not one per notification.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class GroupQueue(Generic[T]):
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._pending: dict[str, list[T]] = {}
        self._ready: deque[str] = deque()
        self._active: dict[str, int] = {}
        self._size = 0
        # Set on every change; waiters re-check their predicate (offer/done are sync).
        self._changed = asyncio.Event()

    def __len__(self) -> int:
        """Notifications waiting or being written."""
        return self._size

    def offer(self, key: str, item: T) -> bool:
        """Queue ``item`` for group ``key``; False when full (nothing is queued then)."""
        if self._size >= self.capacity:
            return False
        self._size += 1
        waiting = self._pending.setdefault(key, [])
        waiting.append(item)
        if len(waiting) == 1 and key not in self._active:
            self._ready.append(key)
        self._notify()
        return True

    async def take(self) -> tuple[str, list[T]]:
        """The next group that no worker holds, with everything queued for it."""
        while not self._ready:
            self._changed.clear()
            await self._changed.wait()
        key = self._ready.popleft()
        batch = self._pending.pop(key)
        self._active[key] = len(batch)
        return key, batch

    def done(self, key: str) -> None:
        """The worker finished (or gave up on) the batch it took for ``key``."""
        self._size -= self._active.pop(key)
        if key in self._pending:
            self._ready.append(key)
        self._notify()

    async def join(self) -> None:
        """Wait until every accepted notification has been handled."""
        while self._size:
            self._changed.clear()
            await self._changed.wait()

    def _notify(self) -> None:
        self._changed.set()
