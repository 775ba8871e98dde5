"""Clocks: the session is handed one, so tests can run a 30-second conversation on
virtual time in milliseconds, deterministically."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol

__all__ = ["Clock", "MonotonicClock", "VirtualClock"]


class Clock(Protocol):
    """Seconds on a monotonic scale, and sleeping on that scale."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class MonotonicClock:
    """Real time: ``time.monotonic()`` (the event loop's clock on asyncio; uvloop's loop
    clock has 1 ms steps that stand still within one loop iteration, too coarse for
    per-turn timings)."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class VirtualClock:
    """Time that moves only when ``advance`` is awaited.

    Sleepers wake in deadline order (ties in the order they slept); after each wake-up
    the loop is given a few turns so that the woken task, and whatever it unblocks
    through queues and events, runs before time moves on.
    """

    _SETTLE_TURNS = 25

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._slept = asyncio.Event()  # set whenever a task begins to sleep

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._order), future))
        self._slept.set()
        await future

    @property
    def pending_sleepers(self) -> int:
        return sum(1 for *_, future in self._sleepers if not future.done())

    async def until_sleeping(self, count: int = 1) -> None:
        """Wait until ``count`` tasks sleep on this clock: a task that is woken and then
        waits on something outside the loop (a worker thread, a socket) sleeps again
        only after it, however many turns ``settle`` gives it."""
        while self.pending_sleepers < count:
            self._slept.clear()
            await self._slept.wait()

    async def settle(self) -> None:
        """Let every runnable task run until it blocks again."""
        for _ in range(self._SETTLE_TURNS):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, waking sleepers as their deadlines pass."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        target = self._now + seconds
        await self.settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, future = heapq.heappop(self._sleepers)
            if future.done():  # the sleeper was cancelled
                continue
            self._now = max(self._now, deadline)
            future.set_result(None)
            await self.settle()
        self._now = target
        await self.settle()
