"""The poll loop of a durable-job worker (analysis jobs, test runs): run the due jobs,
then wait for a commit of this process to wake it, or for the poll interval to pass
(jobs written by other processes, leases that expired)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager

__all__ = ["poll_jobs"]


async def poll_jobs(
    run_due: Callable[[], Awaitable[object]],
    subscribe: Callable[[], AbstractContextManager[asyncio.Event]],
    interval_s: float,
    what: str,
    logger: logging.Logger,
) -> None:
    """Call ``run_due`` until cancelled, each time it is woken through ``subscribe`` or
    ``interval_s`` has passed; a failure to claim (``what``, e.g. "analysis jobs") is
    logged on ``logger`` and the loop goes on."""
    with subscribe() as wake:
        while True:
            wake.clear()
            try:
                await run_due()
            except Exception:
                # The database went away for a moment: the jobs wait in it.
                logger.exception("%s could not be claimed", what)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval_s):
                    await wake.wait()
