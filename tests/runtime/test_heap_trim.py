"""Freed memory given back (``runtime.heap``): glibc's ``malloc_trim`` found, called every
interval off the loop and never before the first one, and the app running it (or not,
at interval 0) for its whole life."""

from __future__ import annotations

import asyncio
import threading

from callwright.api.app import create_app
from callwright.clock import VirtualClock
from callwright.runtime.heap import glibc_malloc_trim, return_free_memory
from callwright.settings import Settings

HANG_S = 10.0  # a hang detector, never a performance assertion


def test_glibc_malloc_trim_is_found_and_answers() -> None:
    trim = glibc_malloc_trim()
    assert trim is not None  # the test machines run glibc
    assert trim() in (0, 1)


async def test_trims_every_interval_in_a_worker_thread() -> None:
    clock = VirtualClock()
    loop = asyncio.get_running_loop()
    threads: list[threading.Thread] = []
    trimmed = asyncio.Event()

    def trim() -> int:
        threads.append(threading.current_thread())
        loop.call_soon_threadsafe(trimmed.set)
        return 1

    task = asyncio.create_task(return_free_memory(30, trim, clock=clock))
    try:
        await clock.advance(29.9)
        assert clock.pending_sleepers == 1  # still waiting for its first interval
        assert threads == []
        await clock.advance(0.1)
        async with asyncio.timeout(HANG_S):
            for expected in (1, 2, 3):
                await trimmed.wait()
                trimmed.clear()
                assert len(threads) == expected
                # Back from the thread and asleep for the next interval, then it passes.
                await clock.until_sleeping()
                await clock.advance(30)
        assert threading.main_thread() not in threads
    finally:
        task.cancel()


async def _app_tasks(settings: Settings) -> set[str]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        return {task.get_name() for task in asyncio.all_tasks()}


async def test_the_app_trims_unless_the_interval_is_zero(settings: Settings) -> None:
    assert "heap-trim" in await _app_tasks(settings)
    off = settings.model_copy(update={"heap_trim_interval_s": 0})
    assert "heap-trim" not in await _app_tasks(off)
