"""A live call's record persisted as the call goes, so that a crash loses at most the
turn in flight: after each turn the transcript, tool calls, knowledge used and per-turn
timings so far are written to the call row, off the audio path.

The session's sink only calls ``turn_ended`` (it sets a flag: nothing waits, nothing is
queued per event). One writer task in the call's task group takes a snapshot of the
recorder and writes it; turns that end while a write is under way are folded into the
next write, so the pending work is bounded at one snapshot whatever the database's
speed. A failed write (the database restarting) is logged and retried with the next
turn's snapshot, which contains everything before it; the end of the call writes the
whole record anyway (``CallRuntime._finish``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.domain.calls.repository import CallProgress, save_progress
from callwright.runtime.recorder import CallRecorder

__all__ = ["ProgressWriter"]

logger = logging.getLogger(__name__)


def _copies(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # The recorder keeps mutating its rows (a tool call's result arrives later).
    return [dict(row) for row in rows]


class ProgressWriter:
    """Writes ``recorder``'s record so far to call ``call_id`` after each turn."""

    def __init__(
        self,
        call_id: int,
        recorder: CallRecorder,
        session_factory: async_sessionmaker[AsyncSession],
    ) -> None:
        self._call_id = call_id
        self._recorder = recorder
        self._session_factory = session_factory
        self._due = asyncio.Event()
        self.writes = 0

    def turn_ended(self) -> None:
        """A turn ended: the record so far is due to be written (never waits)."""
        self._due.set()

    def snapshot(self) -> CallProgress:
        recorder = self._recorder
        return CallProgress(
            messages=_copies(recorder.messages),
            tool_calls=_copies(recorder.tool_calls),
            knowledge=_copies(recorder.knowledge),
            turns=_copies(recorder.turns),
        )

    async def run(self) -> None:
        """Write the record after each turn until cancelled (at the call's end)."""
        while True:
            await self._due.wait()
            self._due.clear()
            progress = self.snapshot()
            try:
                async with self._session_factory.begin() as session:
                    await save_progress(session, self._call_id, progress)
                self.writes += 1
            except (SQLAlchemyError, OSError):
                logger.exception(
                    "call %s: the record so far could not be saved; the next turn retries",
                    self._call_id,
                )
