"""A live call's webhook events (transcript lines, tool calls) on their way to the
outbox, off the audio path: the session's sink puts them on a bounded queue without
waiting, and one writer task drains it into the database, a batch per transaction."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.domain.calls.queries import load_call
from callwright.store.models import Call

__all__ = ["CallWebhooks", "WebhookWriter"]

logger = logging.getLogger(__name__)

_QUEUE_SIZE = 256

_Event = tuple[str, dict[str, Any]]


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
    ) -> None:
        self._call_id = call_id
        self._webhooks = webhooks
        self._url = url
        self._session_factory = session_factory
        self._queue: asyncio.Queue[_Event | None] = asyncio.Queue(_QUEUE_SIZE)

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
        transaction: a burst costs one commit."""
        while True:
            batch, ended = await self._next_batch()
            if batch:
                await self._write(batch)
            if ended:
                return

    async def _next_batch(self) -> tuple[list[_Event], bool]:
        """The events queued so far, oldest first (waiting for the first), and whether
        the end came after them."""
        batch: list[_Event] = []
        item = await self._queue.get()
        while item is not None:
            batch.append(item)
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                return batch, False
        return batch, True

    async def _write(self, batch: Sequence[_Event]) -> None:
        """Queue ``batch`` in order, in one session and one commit. An event that cannot
        be made is skipped and the rest still go; a failed commit loses the batch and is
        logged, since a webhook must never take the call down."""
        try:
            async with self._session_factory() as db:
                call = await load_call(db, self._call_id)
                if call is None:
                    return
                for kind, data in batch:
                    try:
                        await self._webhooks.send(db, call, self._url, kind, data)
                    except Exception:
                        logger.exception(
                            "call %s: could not queue the %s webhook", self._call_id, kind
                        )
                await db.commit()
        except Exception:
            kinds = ", ".join(kind for kind, _ in batch)
            logger.exception("call %s: could not queue the webhooks %s", self._call_id, kinds)
