"""A live call's record persisted as the call goes, so that a crash loses at most the
turn in flight: after each turn the transcript, tool calls, knowledge used and per-turn
timings so far are written to the call row, and the recording so far is appended to its
spool file (``recordings.RecordingSpool``), both off the audio path.

The session's sink only calls ``turn_ended`` (it sets a flag: nothing waits, nothing is
queued per event). One writer task in the call's task group takes a snapshot of the
recorder and writes it; turns that end while a write is under way are folded into the
next write, so the pending work is bounded at one snapshot whatever the database's
speed. A failed write (the database restarting or unreachable) is logged and tried
again after a back-off (doubling, at most ``_MAX_RETRY_S``) with the latest snapshot,
which contains everything before it; the end of the call writes the whole record anyway
(``records.RecordWriter``, which retries too).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.clock import Clock, MonotonicClock
from callwright.domain.calls.repository import CallProgress, save_progress
from callwright.runtime.recorder import CallRecorder, StereoRecording, stereo_frames
from callwright.runtime.recordings import RecordingSpool

__all__ = ["ProgressWriter", "SpooledRecording"]

logger = logging.getLogger(__name__)

_FIRST_RETRY_S = 0.5
_MAX_RETRY_S = 15.0


def _copies(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # The recorder keeps mutating its rows (a tool call's result arrives later).
    return [dict(row) for row in rows]


@dataclass(frozen=True, slots=True)
class SpooledRecording:
    """A call's recording and the spool its settled audio is appended to."""

    recording: StereoRecording
    spool: RecordingSpool
    organization_id: int


class ProgressWriter:
    """Writes ``recorder``'s record so far to call ``call_id`` after each turn (and
    appends the recording's settled audio to its spool, when given one)."""

    def __init__(
        self,
        call_id: int,
        recorder: CallRecorder,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        spooled: SpooledRecording | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._call_id = call_id
        self._recorder = recorder
        self._session_factory = session_factory
        self._spooled = spooled
        self._clock = clock or MonotonicClock()
        self._due = asyncio.Event()
        self._retry_s = _FIRST_RETRY_S
        self.writes = 0
        self.failures = 0

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
            await self._spool()
            if not await self._save():
                # Tried again after the back-off, with whatever the call said meanwhile.
                await self._clock.sleep(self._retry_s)
                self._retry_s = min(self._retry_s * 2, _MAX_RETRY_S)
                self._due.set()

    async def _save(self) -> bool:
        progress = self.snapshot()
        try:
            async with self._session_factory.begin() as session:
                await save_progress(session, self._call_id, progress)
        except (SQLAlchemyError, OSError) as exc:
            self.failures += 1
            logger.warning(
                "call %s: the record so far could not be saved (%s); retrying in %.1f s",
                self._call_id,
                exc,
                self._retry_s,
            )
            return False
        self.writes += 1
        self._retry_s = _FIRST_RETRY_S
        return True

    async def _spool(self) -> None:
        """Append the recording's settled audio to its spool, in a worker thread."""
        spooled = self._spooled
        if spooled is None:
            return
        caller, assistant = spooled.recording.take_settled()
        if not caller:
            return
        rate = spooled.recording.sample_rate

        def append() -> None:
            frames = stereo_frames(caller, assistant)
            spooled.spool.append(spooled.organization_id, self._call_id, rate, frames)

        try:
            await asyncio.to_thread(append)
        except OSError:
            logger.exception("call %s: the recording so far could not be spooled", self._call_id)
