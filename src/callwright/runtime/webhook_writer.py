"""A live call's webhook events (transcript lines, tool calls) on their way to the
outbox, off the audio path: the session's sink puts them on a bounded queue without
waiting, and one writer task drains it into the database, a batch per transaction.

The database being unreachable loses nothing that fits: a batch whose commit failed is
kept and tried again after a back-off (doubling, at most ``_MAX_RETRY_S``), together
with what was queued meanwhile, up to ``_QUEUE_SIZE`` events held plus as many queued
(beyond that an event is dropped and logged). Whatever is still unwritten when the
call ends is handed to the final record (``leftover``), which writes it in the same
transaction as the end-of-call report and retries until the database is back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.clock import Clock, MonotonicClock
from callwright.domain.calls.queries import load_call_for_messages
from callwright.store.models import Call

__all__ = ["CallWebhooks", "WebhookEvent", "WebhookWriter"]

logger = logging.getLogger(__name__)

_QUEUE_SIZE = 256
_FIRST_RETRY_S = 0.5
_MAX_RETRY_S = 15.0

WebhookEvent = tuple[str, dict[str, Any]]
_Event = WebhookEvent


class CallWebhooks(Protocol):
    """Queues a call's webhook events (in the outbox, delivered elsewhere; the outbox
    wakes this process's dispatcher when the transaction commits)."""

    async def send(
        self, session: AsyncSession, call: Call, url: str, kind: str, data: Mapping[str, Any]
    ) -> None: ...

    def register_tools(self, call_id: int, tools: Mapping[str, Mapping[str, Any]]) -> None:
        """The call's custom tools (name → definition) for its tool-call messages."""
        ...

    def forget(self, call_id: int) -> None: ...


class WebhookWriter:
    """One call's webhook events to ``url``: ``notify`` from the session's sink,
    ``run`` in the call's task group until ``close``."""

    def __init__(
        self,
        call_id: int,
        webhooks: CallWebhooks,
        url: str,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        clock: Clock | None = None,
    ) -> None:
        self._call_id = call_id
        self._webhooks = webhooks
        self._url = url
        self._session_factory = session_factory
        self._clock = clock or MonotonicClock()
        self._queue: asyncio.Queue[_Event | None] = asyncio.Queue(_QUEUE_SIZE)
        # Taken from the queue, not yet committed (held across failed commits).
        self._pending: list[_Event] = []
        self._ended = False
        self.failures = 0

    def notify(self, kind: str, data: dict[str, Any]) -> None:
        """Queue an event; never waits (an event that finds the queue full is dropped
        and logged: the audio path must not stall on the database)."""
        try:
            self._queue.put_nowait((kind, data))
        except asyncio.QueueFull:
            logger.warning("call %s: webhook queue full, %s event dropped", self._call_id, kind)

    def close(self) -> None:
        """No more events: ``run`` returns once those queued so far are written."""
        try:
            self._queue.put_nowait(None)
        except asyncio.QueueFull:
            # Nothing marks the end: the owner cancels ``run`` after its grace period.
            logger.warning("call %s: webhook queue full at the end of the call", self._call_id)

    async def run(self) -> None:
        """Turn the queued events into outbox rows until ``close`` (nothing after it is
        written). Whatever piled up while the last batch was written goes in one
        transaction: a burst costs one commit. A failed commit is tried again after a
        back-off; the owner cancels ``run`` when it will wait no longer (``leftover``)."""
        retry_s = _FIRST_RETRY_S
        while True:
            await self._take()
            if self._pending:
                if await self._write(self._pending):
                    retry_s = _FIRST_RETRY_S
                else:
                    await self._clock.sleep(retry_s)
                    retry_s = min(retry_s * 2, _MAX_RETRY_S)
            if self._ended and not self._pending:
                return

    def leftover(self) -> list[_Event]:
        """The events not written yet, oldest first (for the final record to write)."""
        events, self._pending = self._pending, []
        while True:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                return events
            if item is not None:
                events.append(item)

    async def _take(self) -> None:
        """Move queued events to ``_pending`` (waiting for one when none is pending),
        at most ``_QUEUE_SIZE`` held, noting the end when it comes."""
        if not self._pending and not self._ended:
            item = await self._queue.get()
            if item is None:
                self._ended = True
                return
            self._pending.append(item)
        while not self._ended and len(self._pending) < _QUEUE_SIZE:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            if item is None:
                self._ended = True
            else:
                self._pending.append(item)

    async def _write(self, batch: Sequence[_Event]) -> bool:
        """Queue ``batch`` in order, in one session and one commit; True when it is
        done with (written, or its call is gone). An event that cannot be made is
        skipped and the rest still go; a failed commit keeps the batch (False). The
        call is read as it is now (its status, ``updatedAt``), but only the columns
        a transcript line's or tool call's message shows: not its record so far."""
        try:
            async with self._session_factory() as db:
                call = await load_call_for_messages(db, self._call_id)
                if call is not None:
                    for kind, data in batch:
                        try:
                            await self._webhooks.send(db, call, self._url, kind, data)
                        except Exception:
                            logger.exception(
                                "call %s: could not queue the %s webhook", self._call_id, kind
                            )
                    await db.commit()
                self._pending = []
        except (SQLAlchemyError, OSError) as exc:
            self.failures += 1
            logger.warning(
                "call %s: %d webhook event(s) not queued yet (%s); retrying",
                self._call_id,
                len(batch),
                exc,
            )
            return False
        except Exception:
            # Not the database: trying again would fail the same way. A webhook must
            # never take the call down.
            kinds = ", ".join(kind for kind, _ in batch)
            logger.exception("call %s: could not queue the webhooks %s", self._call_id, kinds)
            self._pending = []
        return True
