"""Waking this process's workers when a transaction that gave them work commits.

A queue of durable jobs (webhook events, analysis jobs, test runs) is polled by its
workers; a worker of the same process need not wait for its next poll: it waits on
``subscribe()``, and whoever writes a job calls ``after_commit(session)``, which sets
every subscriber's event once that transaction commits (never before: a worker must
not look for a row it cannot see yet). Workers of other processes find the row on
their next poll.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

__all__ = ["CommitWakeups"]


class CommitWakeups:
    """One queue's wake-ups: its workers' events, each with the loop that waits on it."""

    def __init__(self, name: str) -> None:
        self._flag = f"callwright.{name}.wake_after_commit"
        self._subscribers: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._lock = threading.Lock()

    @contextmanager
    def subscribe(self) -> Iterator[asyncio.Event]:
        """An event that ``wake()`` sets, for the duration of the block (workers)."""
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._subscribers.add(entry)
        try:
            yield entry[1]
        finally:
            with self._lock:
                self._subscribers.discard(entry)

    def wake(self) -> None:
        """Wake every subscriber of this process (safe from any thread or loop)."""
        with self._lock:
            subscribers = list(self._subscribers)
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for loop, wake in subscribers:
            if loop is running:
                wake.set()
            elif not loop.is_closed():
                loop.call_soon_threadsafe(wake.set)

    def after_commit(self, session: AsyncSession) -> None:
        """``wake()`` once ``session``'s transaction commits (once per transaction)."""
        sync_session = session.sync_session
        if not sync_session.info.get(self._flag):
            sync_session.info[self._flag] = True
            event.listen(sync_session, "after_commit", self._committed, once=True)

    def _committed(self, session: Session) -> None:
        session.info.pop(self._flag, None)
        self.wake()
