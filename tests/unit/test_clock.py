"""The virtual clock: deterministic order, cancellation, and time that moves only on
``advance``."""

from __future__ import annotations

import asyncio
import threading

import pytest

from callwright.clock import MonotonicClock, VirtualClock

HANG_S = 10.0  # a hang detector, never a performance assertion


async def test_sleepers_wake_in_deadline_order_at_their_deadlines() -> None:
    clock = VirtualClock()
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.now()))

    async with asyncio.TaskGroup() as group:
        group.create_task(sleeper("late", 3.0))
        group.create_task(sleeper("early", 1.0))
        group.create_task(sleeper("tie-first", 2.0))
        group.create_task(sleeper("tie-second", 2.0))
        await clock.advance(1.5)
        assert woke == [("early", 1.0)]
        await clock.advance(10)
    assert woke == [("early", 1.0), ("tie-first", 2.0), ("tie-second", 2.0), ("late", 3.0)]
    assert clock.now() == 11.5


async def test_a_woken_task_runs_its_follow_up_work_before_time_moves_on() -> None:
    clock = VirtualClock()
    queue: asyncio.Queue[float] = asyncio.Queue(maxsize=4)
    received: list[tuple[float, float]] = []

    async def producer() -> None:
        for _ in range(3):
            await clock.sleep(0.02)
            await queue.put(clock.now())

    async def consumer() -> None:
        for _ in range(3):
            sent = await queue.get()
            received.append((sent, clock.now()))

    async with asyncio.TaskGroup() as group:
        group.create_task(producer())
        group.create_task(consumer())
        await clock.advance(1)
    assert received == [(pytest.approx(t), pytest.approx(t)) for t in (0.02, 0.04, 0.06)]


async def test_cancelled_sleepers_are_skipped() -> None:
    clock = VirtualClock()
    task = asyncio.create_task(clock.sleep(5))
    await clock.settle()
    task.cancel()
    await clock.advance(10)
    assert task.cancelled()
    assert clock.pending_sleepers == 0


async def test_until_sleeping_waits_for_a_sleeper_back_from_a_thread() -> None:
    clock = VirtualClock()
    release = threading.Event()

    async def ticker() -> None:
        while True:
            await clock.sleep(1)
            await asyncio.to_thread(release.wait)

    task = asyncio.create_task(ticker())
    try:
        await clock.until_sleeping()
        await clock.advance(1)
        assert clock.pending_sleepers == 0  # in the thread, however long advance settled
        waiting = asyncio.create_task(clock.until_sleeping())
        await clock.settle()
        assert not waiting.done()
        release.set()
        async with asyncio.timeout(HANG_S):
            await waiting
        assert clock.pending_sleepers == 1
    finally:
        release.set()
        task.cancel()


async def test_time_never_moves_backwards() -> None:
    clock = VirtualClock(start=100.0)
    with pytest.raises(ValueError, match="forward"):
        await clock.advance(-1)
    await clock.sleep(0)
    assert clock.now() == 100.0


async def test_monotonic_clock_follows_the_loop() -> None:
    clock = MonotonicClock()
    before = clock.now()
    await clock.sleep(0.01)
    assert clock.now() - before >= 0.009
