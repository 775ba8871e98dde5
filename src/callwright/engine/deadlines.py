"""Deadlines on the session's clock (virtual in tests), for work that may never finish:
a provider's first token or first audio.

``within`` races the work against ``clock.sleep``; whichever loses is cancelled and
waited for, so a generator being read by the work is free again (closing one that an
orphaned task is still reading fails with "already running").
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

from callwright.clock import Clock

__all__ = ["cancel_and_wait", "within"]

T = TypeVar("T")


async def cancel_and_wait(*futures: asyncio.Future[Any]) -> None:
    """Cancel what is still pending and wait until it has stopped."""
    pending = [future for future in futures if not future.done()]
    for future in pending:
        future.cancel()
    if pending:
        await asyncio.wait(pending)


async def within(clock: Clock, timeout_s: float, work: Awaitable[T]) -> T:
    """``work``'s result, or ``TimeoutError`` once ``timeout_s`` has passed on ``clock``
    (the work is then cancelled). The work's own exceptions propagate."""
    waiter = asyncio.ensure_future(work)
    timer = asyncio.ensure_future(clock.sleep(timeout_s))
    try:
        done, _ = await asyncio.wait({waiter, timer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await cancel_and_wait(timer, waiter)
    if waiter in done:
        return waiter.result()
    raise TimeoutError(f"not done within {timeout_s:g} s")
