"""The evidence reads shared by concurrent diagnoses: identical API reads in flight are made
once (single flight), and an answer is reused for ``ttl`` seconds after its request was sent.

In an alert storm many Incidents are about the same namespace and workload at once; without
this each diagnosis lists the same pods, events and Services again (about 28 requests per
Incident on a real apiserver). ``KubeReader`` asks the cache with the request's identity (the
client method, its arguments: kind, namespace, name, selectors, limits), so two Incidents
share an answer only when they would have sent the very same request; which namespaces an
Incident may read is decided before any request (``tenancy``), not here.

Staleness is bounded: an answer is served to requests made at most ``ttl`` seconds after it
was asked for (the operator's ``KUBETRIAGE_EVIDENCE_CACHE_SECONDS``; 0 = no cache, every
read goes to the API server). Answers are raw response bytes, immutable: each reader parses
its own copy. A failed read is shared with the callers already waiting for it and kept only
when the reader says it is an answer (a 404 for a kind the cluster does not serve), never
when it is worth retrying. Built once per operator (``app.build_components``) and used from
its event loop only.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass


@dataclass
class _Entry:
    asked_at: float
    answer: asyncio.Future[bytes]


class ReadCache:
    """Single-flight reads with a short time to live; ``ttl`` 0 turns both off."""

    def __init__(self, ttl: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if ttl < 0:
            raise ValueError("ttl must be >= 0")
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[Hashable, _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    async def read(
        self,
        key: Hashable,
        call: Callable[[], Awaitable[bytes]],
        *,
        keep_error: Callable[[BaseException], bool] = lambda _error: False,
    ) -> bytes:
        """``call()``'s answer, or the answer of an identical request sent at most ``ttl``
        seconds ago (or still in flight). A failure is kept like an answer only when
        ``keep_error`` says so."""
        if self.ttl <= 0:
            return await call()
        now = self._clock()
        entry = self._entries.get(key)
        if entry is None or not self._usable(entry, now):
            self._drop_expired(now)
            entry = _Entry(now, asyncio.ensure_future(call()))
            entry.answer.add_done_callback(lambda done: self._settled(key, entry, done, keep_error))
            self._entries[key] = entry
        # Shielded: a caller that gives up (its diagnosis timed out) does not cancel the
        # read the others are waiting for.
        return await asyncio.shield(entry.answer)

    def _usable(self, entry: _Entry, now: float) -> bool:
        if now - entry.asked_at > self.ttl:
            return False
        if not entry.answer.done():
            # In flight on this loop (a finished answer can be read from any loop).
            return entry.answer.get_loop() is asyncio.get_running_loop()
        return True

    def _settled(
        self,
        key: Hashable,
        entry: _Entry,
        done: asyncio.Future[bytes],
        keep_error: Callable[[BaseException], bool],
    ) -> None:
        """Forget a read that failed in a way not worth keeping (the callers waiting for it
        have it already); the next request asks again."""
        if self._entries.get(key) is not entry:
            return  # already replaced by a newer read
        if done.cancelled() or ((error := done.exception()) is not None and not keep_error(error)):
            del self._entries[key]

    def _drop_expired(self, now: float) -> None:
        expired = [
            key
            for key, entry in self._entries.items()
            if entry.answer.done() and now - entry.asked_at > self.ttl
        ]
        for key in expired:
            del self._entries[key]
