"""Fixtures for the webhook tests: quick retry settings, a loopback receiver, running
dispatchers, and rows made straight through the database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.domain.signing_secrets import signing_secret_for
from callwright.domain.webhooks.dispatcher import WebhookDispatcher
from callwright.domain.webhooks.outbox import enqueue
from callwright.settings import Settings
from callwright.store.base import utcnow
from callwright.store.call_status import CallStatus
from callwright.store.models import Call, WebhookDelivery, WebhookEvent
from tests.webhooks.receiver import Receiver

HANG_S = 30.0  # a hang detector, never a performance assertion


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Retries in tens of milliseconds; the app's own dispatcher off (tests run theirs)."""
    return settings.model_copy(
        update={
            "webhook_delivery_enabled": False,
            "webhook_retry_base_delay_seconds": 0.05,
            "webhook_retry_max_delay_seconds": 0.2,
            "webhook_max_attempts": 50,
            "webhook_poll_interval_seconds": 0.05,
            "webhook_delivery_timeout_seconds": 5.0,
            "webhook_max_concurrent_deliveries": 4,
        }
    )


@pytest.fixture
def sessions(app: FastAPI) -> async_sessionmaker[AsyncSession]:
    factory: async_sessionmaker[AsyncSession] = app.state.callwright.session_factory
    return factory


@pytest.fixture
async def receiver() -> Receiver:
    return Receiver()


async def current_secret(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, org: int
) -> str:
    async with sessions() as session:
        return await signing_secret_for(session, settings, org)


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = HANG_S) -> None:
    """Wait until ``check()`` holds (the database is polled: it has no change feed)."""
    async with asyncio.timeout(timeout_s):
        while True:
            if await check():
                return
            await asyncio.sleep(0.02)


@asynccontextmanager
async def dispatching(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, **options: Any
) -> AsyncIterator[asyncio.Task[None]]:
    """A dispatcher running for the block, cancelled at its end (as at shutdown)."""
    dispatcher = WebhookDispatcher(sessions, settings, **options)
    async with asyncio.TaskGroup() as group:
        task = group.create_task(dispatcher.run())
        try:
            yield task
        finally:
            task.cancel()


async def add_call(
    sessions: async_sessionmaker[AsyncSession],
    organization_id: int,
    *,
    status: CallStatus = CallStatus.IN_PROGRESS,
    **fields: Any,
) -> int:
    now = utcnow()
    row = Call(
        organization_id=organization_id,
        type="inboundPhoneCall",
        status=status,
        from_number="+14155550100",
        to_number="+14155550199",
        variables={},
        overrides={},
        messages=[],
        tool_calls=[],
        turns=[],
        usage={},
        providers=[],
        created_at=now,
        updated_at=now,
        **fields,
    )
    async with sessions() as session:
        session.add(row)
        await session.commit()
    return row.id


async def enqueue_events(
    sessions: async_sessionmaker[AsyncSession],
    organization_id: int,
    url: str,
    count: int,
    *,
    call_id: int | None = None,
    event_type: str = "status-update",
) -> list[str]:
    async with sessions() as session:
        ids = [
            await enqueue(
                session,
                organization_id=organization_id,
                url=url,
                event_type=event_type,
                payload={"message": {"type": event_type, "sequence": index}},
                call_id=call_id,
            )
            for index in range(count)
        ]
        await session.commit()
    return ids


async def events(sessions: async_sessionmaker[AsyncSession]) -> Sequence[WebhookEvent]:
    async with sessions() as session:
        query = select(WebhookEvent).order_by(WebhookEvent.id)
        return (await session.execute(query)).scalars().all()


async def deliveries(
    sessions: async_sessionmaker[AsyncSession], event_id: str
) -> Sequence[WebhookDelivery]:
    async with sessions() as session:
        query = (
            select(WebhookDelivery)
            .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.webhook_event_id)
            .where(WebhookEvent.event_id == event_id)
            .order_by(WebhookDelivery.id)
        )
        return (await session.execute(query)).scalars().all()


def all_delivered(sessions: async_sessionmaker[AsyncSession]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return all(event.status == "delivered" for event in await events(sessions))

    return check


class CountingTransport(httpx.AsyncBaseTransport):
    """A real transport that counts the requests it sends."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.sent = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
