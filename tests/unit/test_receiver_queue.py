"""The receiver's bounded per-group queue: refuses when full, hands a group to one worker
at a time with everything queued for it in order, and join() waits for all of it. Real
asyncio, no I/O."""

from __future__ import annotations

import asyncio

import pytest

from kubetriage.receiver.queue import GroupQueue


async def test_bounded_and_coalesced_in_order() -> None:
    queue: GroupQueue[int] = GroupQueue(4)
    assert queue.offer("a", 1)
    assert queue.offer("b", 2)
    assert queue.offer("a", 3)
    assert queue.offer("a", 4)
    assert not queue.offer("c", 5)  # full: the caller answers 503
    assert len(queue) == 4
    key, batch = await queue.take()
    assert (key, batch) == ("a", [1, 3, 4])
    # "a" is held: new notifications for it wait, the next worker gets "b".
    queue.done("a")
    assert queue.offer("a", 6)
    assert await queue.take() == ("b", [2])
    assert await queue.take() == ("a", [6])


async def test_a_held_group_is_not_given_to_a_second_worker() -> None:
    queue: GroupQueue[int] = GroupQueue(10)
    queue.offer("a", 1)
    key, _ = await queue.take()
    queue.offer("a", 2)
    waiting = asyncio.create_task(queue.take())
    await asyncio.sleep(0)  # one turn of the loop: the task runs until it blocks
    assert not waiting.done()
    queue.done(key)
    assert await asyncio.wait_for(waiting, 1) == ("a", [2])


async def test_join_waits_until_everything_is_done() -> None:
    queue: GroupQueue[int] = GroupQueue(10)
    queue.offer("a", 1)
    joined = asyncio.create_task(queue.join())
    key, _ = await queue.take()
    await asyncio.sleep(0)  # one turn of the loop: the task runs until it blocks
    assert not joined.done()
    queue.done(key)
    await asyncio.wait_for(joined, 1)
    assert len(queue) == 0


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        GroupQueue(0)
