"""A call's transcript lines and tool calls become webhook events in batches: what piled
up while the writer was busy goes in one transaction, in order; the end of the call
stops the writer after what came before it; one bad event does not cost the others."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.domain.calls.queries import load_call, load_call_for_messages
from callwright.domain.calls.repository import CallProgress, save_progress
from callwright.domain.webhooks import messages
from callwright.runtime.calls import CallRuntime
from callwright.runtime.preparation import PreparedCall
from callwright.runtime.webhook_writer import WebhookWriter
from callwright.runtime.webhooks import OutboxCallWebhooks
from callwright.settings import Settings
from callwright.store.base import utcnow
from callwright.store.call_status import CallStatus
from callwright.store.models import Call, WebhookEvent
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


@contextmanager
def call_reads(app: FastAPI, call_id: int) -> Iterator[list[set[str]]]:
    """The columns each statement reading call ``call_id`` from the ``calls`` table
    selects, in the block (the app's background loops may read other calls meanwhile)."""
    engine = app.state.callwright.engine.sync_engine
    reads: list[set[str]] = []

    def statement(_conn: Any, _cursor: Any, sql: str, parameters: Any, *_rest: Any) -> None:
        selected, *tables = re.split(r"\sFROM\s", sql, maxsplit=1)
        values = parameters.values() if isinstance(parameters, dict) else parameters or ()
        if (
            selected.lstrip().upper().startswith("SELECT")
            and re.match(r"calls\b", "".join(tables))
            and call_id in values
        ):
            reads.append(set(re.findall(r"\bcalls\.(\w+)", selected)))

    event.listen(engine, "before_cursor_execute", statement)
    try:
        yield reads
    finally:
        event.remove(engine, "before_cursor_execute", statement)


def without_timestamp(payload: dict[str, Any]) -> dict[str, Any]:
    return {"message": {k: v for k, v in payload["message"].items() if k != "timestamp"}}


async def test_a_batch_reads_the_call_but_not_its_record_and_sends_the_same_messages(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    tenant: Tenant,
) -> None:
    runtime: CallRuntime = app.state.callwright.calls
    prepared = await prepared_call(client, sessions, tenant, runtime, "http://127.0.0.1:9/hooks")
    call_id = prepared.call.id
    # A record so far, as the progress writer saves it after each turn.
    said = [{"role": "user", "text": "Hello there", "seconds_from_start": 1.5}]
    async with sessions() as db:
        progress = CallProgress(messages=said, tool_calls=[], knowledge=[], turns=[{"turn": 0}])
        assert await save_progress(db, call_id, progress)
        await db.commit()
    tool_call = {"id": "call_1", "name": "lookup", "arguments": '{"city": "Paris"}'}
    writer = writer_for(prepared, settings, sessions)
    writer.notify(*line(0))
    writer.notify("tool-call", tool_call)
    writer.close()

    with call_reads(app, call_id) as reads:
        async with asyncio.timeout(HANG_S):
            await writer.run()

    # One read of the call for the batch, of the columns its messages show only.
    assert reads == [set(messages.CALL_OBJECT_FIELDS)]
    async with sessions() as db:
        call = await load_call(db, call_id)
        assert call is not None
        rows = await db.execute(
            select(WebhookEvent.payload)
            .where(WebhookEvent.call_id == call_id)
            .order_by(WebhookEvent.id)
        )
        payloads = [without_timestamp(payload) for payload in rows.scalars()][1:]
    role, text = line(0)[1]["role"], line(0)[1]["text"]
    assert payloads == [
        without_timestamp(messages.transcript(call, role=role, text=text)),
        without_timestamp(messages.tool_calls(call, [tool_call])),
    ]


async def test_every_message_but_the_report_renders_from_the_call_without_its_record(
    sessions: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    """``CALL_OBJECT_FIELDS`` is all they read: loaded with only those (anything else
    raises), an ended call with usage renders as the whole row does."""
    call_id = await add_call(
        sessions,
        tenant.organization_id,
        status=CallStatus.ENDED,
        end_reason="customer-ended-call",
        provider_call_id="CA0123",
        assistant_context={"name": "Desk", "metadata": {"a": 1}, "custom_settings": {}},
    )
    async with sessions() as db:
        await db.execute(
            update(Call)
            .where(Call.id == call_id)
            .values(
                variables={"name": "Ada"},
                usage={"llm": {"prompt_tokens": 12, "completion_tokens": 5}},
                ended_at=utcnow(),
            )
        )
        await db.commit()
    now = utcnow()
    tool_call = {"id": "call_1", "name": "lookup", "arguments": "{}"}
    async with sessions() as db:
        whole = await load_call(db, call_id)
    async with sessions() as db:
        slim = await load_call_for_messages(db, call_id)
    assert whole is not None
    assert slim is not None

    def rendered(call: Call) -> list[dict[str, Any]]:
        return [
            messages.status_update(call, now=now),
            messages.transcript(call, role="user", text="Hi", now=now),
            messages.tool_calls(call, [tool_call], now=now),
        ]

    assert rendered(slim) == rendered(whole)
    assert "costBreakdown" in messages.status_update(slim, now=now)["message"]["call"]
