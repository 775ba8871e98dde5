"""A call's transcript lines and tool calls become webhook events in batches: what piled
up while the writer was busy goes in one transaction, in order; the end of the call
stops the writer after what came before it; one bad event does not cost the others."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.runtime.calls import CallRuntime
from callwright.runtime.preparation import PreparedCall
from callwright.runtime.webhook_writer import WebhookWriter
from callwright.runtime.webhooks import OutboxCallWebhooks
from callwright.settings import Settings
from callwright.store.call_status import CallStatus
from callwright.store.models import WebhookEvent
from tests.conftest import Tenant
from tests.webhooks.conftest import add_call, all_delivered, dispatching, eventually
from tests.webhooks.receiver import Receiver

Item = tuple[str, dict[str, Any]]
HANG_S = 10.0  # a hang detector, never a performance assertion


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The app's own dispatcher off (a test runs its own once the events are written)."""
    return settings.model_copy(
        update={"webhook_delivery_enabled": False, "webhook_poll_interval_seconds": 0.05}
    )


@pytest.fixture
def sessions(app: FastAPI) -> async_sessionmaker[AsyncSession]:
    factory: async_sessionmaker[AsyncSession] = app.state.callwright.session_factory
    return factory


@contextmanager
def outbox_transactions(app: FastAPI) -> Iterator[list[int]]:
    """Counts the committed transactions that wrote webhook events (one element each)."""
    engine = app.state.callwright.engine.sync_engine
    writing: set[Any] = set()
    committed: list[int] = []

    def statement(conn: Any, _cursor: Any, sql: str, *_rest: Any) -> None:
        if sql.lstrip().upper().startswith("INSERT INTO WEBHOOK_EVENTS"):
            writing.add(conn)

    def commit(conn: Any) -> None:
        if conn in writing:
            writing.discard(conn)
            committed.append(1)

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    try:
        yield committed
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)


async def prepared_call(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    tenant: Tenant,
    runtime: CallRuntime,
    webhook_url: str,
) -> PreparedCall:
    """A call prepared as a real one is (it queues its in-progress status-update)."""
    assistant = await client.post(
        "/api/v1/assistants",
        headers=tenant.headers,
        json={"name": "Front desk", "webhook_url": webhook_url},
    )
    assert assistant.status_code == 201, assistant.text
    call_id = await add_call(
        sessions,
        tenant.organization_id,
        status=CallStatus.RINGING,
        assistant_id=assistant.json()["id"],
    )
    return await runtime.prepare(call_id)


def writer_for(
    prepared: PreparedCall, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> WebhookWriter:
    assert prepared.webhook_url is not None
    webhooks = OutboxCallWebhooks(settings)
    return WebhookWriter(prepared.call.id, webhooks, prepared.webhook_url, sessions)


def line(index: int) -> Item:
    return ("transcript", {"role": "user" if index % 2 else "assistant", "text": f"line {index}"})


async def queued(sessions: async_sessionmaker[AsyncSession], call_id: int) -> list[str]:
    """The call's outbox, in the order the dispatcher delivers it (by id)."""
    async with sessions() as session:
        rows = await session.execute(
            select(WebhookEvent.payload)
            .where(WebhookEvent.call_id == call_id)
            .order_by(WebhookEvent.id)
        )
        return [describe(payload) for payload in rows.scalars()]


def describe(payload: dict[str, Any]) -> str:
    message = payload["message"]
    if message["type"] == "transcript":
        return str(message["transcript"])
    if message["type"] == "tool-calls":
        return "tool " + ",".join(c["function"]["name"] for c in message["toolCallList"])
    return str(message["type"])


async def test_a_burst_goes_in_one_transaction_and_arrives_in_order(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    tenant: Tenant,
) -> None:
    runtime: CallRuntime = app.state.callwright.calls
    receiver = Receiver()
    prepared = await prepared_call(client, sessions, tenant, runtime, receiver.url)
    call_id = prepared.call.id
    writer = writer_for(prepared, settings, sessions)
    tool_call = {"id": "call_1", "name": "lookup", "arguments": '{"city": "Paris"}'}

    with outbox_transactions(app) as transactions:
        async with asyncio.timeout(HANG_S), asyncio.TaskGroup() as group:
            writing = group.create_task(writer.run())
            writer.notify(*line(0))

            async def first_written() -> bool:
                return bool(transactions)

            await eventually(first_written)  # the first line goes on its own
            # A burst while the writer is idle again (or still finishing): one batch.
            for index in range(1, 21):
                writer.notify(*line(index))
            writer.notify("tool-call", tool_call)
            writer.notify(*line(21))
            writer.close()
            await writing

    assert len(transactions) == 2
    expected = ["line 0", *(f"line {i}" for i in range(1, 21)), "tool lookup", "line 21"]
    assert await queued(sessions, call_id) == ["status-update", *expected]

    async with receiver.serving(), dispatching(sessions, settings):
        await eventually(all_delivered(sessions))
    assert [describe(r.payload) for r in receiver.requests] == ["status-update", *expected]


async def test_the_end_stops_the_writer_and_a_bad_event_costs_only_itself(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    tenant: Tenant,
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime: CallRuntime = app.state.callwright.calls
    prepared = await prepared_call(client, sessions, tenant, runtime, "http://127.0.0.1:9/hooks")
    writer = writer_for(prepared, settings, sessions)
    writer.notify(*line(0))
    writer.notify("tool-call", {"id": "call_1"})  # no name: its message cannot be made
    writer.notify(*line(1))
    writer.close()
    writer.notify(*line(2))

    with (
        caplog.at_level(logging.ERROR, logger="callwright.runtime.webhook_writer"),
        outbox_transactions(app) as transactions,
    ):
        async with asyncio.timeout(HANG_S):
            await writer.run()

    assert len(transactions) == 1
    # Nothing after the end is written.
    assert await queued(sessions, prepared.call.id) == ["status-update", "line 0", "line 1"]
    assert "could not queue the tool-call webhook" in caplog.text
