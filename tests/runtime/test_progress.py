"""The record so far, saved after each turn: a failed write (the database restarting)
is made good by the next turn's, which carries everything before it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.domain.calls.repository import new_call
from callwright.engine.events import UserMessage
from callwright.runtime.progress import ProgressWriter
from callwright.runtime.recorder import CallRecorder
from callwright.store.call_status import CallStatus
from callwright.store.models import Call
from tests.conftest import Tenant


class FlakySessions:
    """A session factory whose first ``failures`` transactions fail to connect."""

    def __init__(self, real: async_sessionmaker[AsyncSession], failures: int) -> None:
        self._real = real
        self._failures = failures
        self.attempts: asyncio.Queue[bool] = asyncio.Queue()

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:
        if self._failures:
            self._failures -= 1
            self.attempts.put_nowait(False)
            raise OperationalError("UPDATE calls", {}, ConnectionRefusedError("restarting"))
        async with self._real.begin() as session:
            yield session
        self.attempts.put_nowait(True)


async def test_a_failed_save_is_made_good_by_the_next_turn(app: FastAPI, tenant: Tenant) -> None:
    factory = app.state.callwright.session_factory
    async with factory.begin() as db:
        call = new_call(
            organization_id=tenant.organization_id,
            user_id=tenant.user_id,
            assistant_id=None,  # type: ignore[arg-type]
            type="webCall",
            status=CallStatus.IN_PROGRESS,
            node_id=app.state.callwright.node.id,
        )
        db.add(call)
    recorder = CallRecorder(started_at=0.0)
    sessions = FlakySessions(factory, failures=1)
    writer = ProgressWriter(call.id, recorder, sessions)  # type: ignore[arg-type]
    async with asyncio.TaskGroup() as group:
        running = group.create_task(writer.run())
        recorder(UserMessage("First turn.", 1.0))
        writer.turn_ended()
        assert await sessions.attempts.get() is False  # the database was down
        recorder(UserMessage("Second turn.", 2.0))
        writer.turn_ended()
        assert await sessions.attempts.get() is True
        running.cancel()
    async with factory() as db:
        saved = await db.get(Call, call.id)
    assert saved is not None
    assert [m["text"] for m in saved.messages] == ["First turn.", "Second turn."]
    assert writer.writes == 1
