"""The shared evidence reads (``kubetriage.evidence.readcache.ReadCache``): identical reads in
flight are made once, an answer is reused only within its time to live after it was asked
for, 0 turns sharing off, failures worth retrying are never kept, kept failures (404) are,
and a caller that gives up does not cancel the read others wait for. Real asyncio; the
reads are counted coroutines released by the test (the test waits for them to start
with the shared polling helper), the clock is hand-driven."""

from __future__ import annotations

import asyncio

import pytest

from kubetriage.evidence.readcache import ReadCache
from tests.support.clocks import HandClock
from tests.support.polling import wait_for_async


class Reads:
    """A read that counts its calls and answers when the test releases it."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self.fail_with: BaseException | None = None

    async def __call__(self) -> bytes:
        self.calls += 1
        number = self.calls
        await self.release.wait()
        if self.fail_with is not None:
            raise self.fail_with
        return f"answer {number}".encode()

    async def started(self, count: int) -> None:
        """Wait until ``count`` reads have begun (and every task scheduled before them has
        reached the cache)."""

        async def calls() -> int:
            return self.calls

        await wait_for_async(calls, what=f"{count} read(s) started", until=lambda n: n >= count)


class NotFound(Exception):
    pass


def _not_found(error: BaseException) -> bool:
    return isinstance(error, NotFound)


async def test_identical_reads_in_flight_are_made_once() -> None:
    cache, reads = ReadCache(2.0, clock=HandClock()), Reads()
    waiting = [asyncio.ensure_future(cache.read(("pods", "shop"), reads)) for _ in range(5)]
    await reads.started(1)
    reads.release.set()
    assert await asyncio.gather(*waiting) == [b"answer 1"] * 5
    assert reads.calls == 1


async def test_different_requests_are_not_shared() -> None:
    cache, reads = ReadCache(2.0, clock=HandClock()), Reads()
    reads.release.set()
    assert await cache.read(("pods", "shop"), reads) == b"answer 1"
    assert await cache.read(("pods", "billing"), reads) == b"answer 2"
    assert reads.calls == 2


async def test_an_answer_is_reused_within_its_time_to_live_only() -> None:
    clock = HandClock()
    cache, reads = ReadCache(2.0, clock=clock), Reads()
    reads.release.set()
    assert await cache.read("events", reads) == b"answer 1"
    clock.now += 2.0
    assert await cache.read("events", reads) == b"answer 1"
    clock.now += 0.5  # 2.5 s after the first request was sent
    assert await cache.read("events", reads) == b"answer 2"
    assert reads.calls == 2
    clock.now += 10.0
    assert await cache.read("other", reads) == b"answer 3"
    assert len(cache) == 1  # the expired answer was dropped, not kept forever


async def test_zero_seconds_turns_sharing_off() -> None:
    cache, reads = ReadCache(0.0, clock=HandClock()), Reads()
    waiting = [asyncio.ensure_future(cache.read("pods", reads)) for _ in range(3)]
    await reads.started(3)
    reads.release.set()
    assert sorted(await asyncio.gather(*waiting)) == [b"answer 1", b"answer 2", b"answer 3"]
    assert reads.calls == 3
    assert len(cache) == 0


async def test_a_failure_worth_retrying_is_shared_in_flight_but_never_kept() -> None:
    cache, reads = ReadCache(2.0, clock=HandClock()), Reads()
    reads.fail_with = ConnectionError("reset")
    waiting = [asyncio.ensure_future(cache.read("pods", reads)) for _ in range(2)]
    await reads.started(1)
    reads.release.set()
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    assert [type(o) for o in outcomes] == [ConnectionError, ConnectionError]
    reads.fail_with = None
    assert await cache.read("pods", reads) == b"answer 2"
    assert reads.calls == 2


async def test_a_failure_that_is_an_answer_is_kept() -> None:
    cache, reads = ReadCache(2.0, clock=HandClock()), Reads()
    reads.fail_with = NotFound("no such resource type")
    reads.release.set()
    for _ in range(2):
        with pytest.raises(NotFound):
            await cache.read("certificates", reads, keep_error=_not_found)
    assert reads.calls == 1


async def test_a_caller_that_gives_up_does_not_cancel_the_shared_read() -> None:
    cache, reads = ReadCache(2.0, clock=HandClock()), Reads()
    impatient = asyncio.ensure_future(cache.read("pods", reads))
    patient = asyncio.ensure_future(cache.read("pods", reads))
    await reads.started(1)
    impatient.cancel()
    reads.release.set()
    assert await patient == b"answer 1"
    assert impatient.cancelled()
    assert reads.calls == 1


def test_a_negative_time_to_live_is_refused() -> None:
    with pytest.raises(ValueError, match="ttl"):
        ReadCache(-1.0)
