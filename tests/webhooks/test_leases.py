"""The outbox leases' queries: a claim of several due events takes them all in one
statement, in due order, each with its attempt count, and leaves each call's later
events blocked; an attempt is recorded under its lease only."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.domain.webhooks.leases import Attempt, OutboxLeases
from callwright.domain.webhooks.outbox import DELIVERED, PENDING
from callwright.store.base import utcnow
from callwright.store.models import WebhookDelivery, WebhookEvent
from tests.conftest import Tenant
from tests.webhooks.conftest import add_call, enqueue_events

URL = "http://127.0.0.1:9/hooks"


@contextmanager
def updates(app: FastAPI) -> Iterator[list[str]]:
    """The UPDATE statements on ``webhook_events`` run on the app's engine in the block
    (the app's other background work, such as the campaign sweep, may run UPDATEs of its
    own on the same engine meanwhile)."""
    engine = app.state.callwright.engine.sync_engine
    seen: list[str] = []

    def statement(_conn: Any, _cursor: Any, sql: str, *_rest: Any) -> None:
        if sql.lstrip().upper().startswith("UPDATE WEBHOOK_EVENTS"):
            seen.append(sql)

    event.listen(engine, "before_cursor_execute", statement)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", statement)


async def test_a_claim_takes_every_due_call_head_in_one_statement(
    app: FastAPI, sessions: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    org = tenant.organization_id
    calls = [await add_call(sessions, org) for _ in range(3)]
    heads = []
    for call in calls:
        heads += (await enqueue_events(sessions, org, URL, 2, call_id=call))[:1]
    leases = OutboxLeases(sessions, timedelta(seconds=60))

    with updates(app) as statements:
        claims = await leases.claim(10)
    # Each call's oldest event only (the second waits for it), all in one UPDATE.
    assert [claim.event_id for claim in claims] == heads
    assert len(statements) == 1
    assert {claim.attempts for claim in claims} == {0}
    # Leased: no other claim takes them, and the calls' next events stay blocked.
    assert await leases.claim(10) == []


async def test_a_claim_gets_the_attempt_count_and_a_record_needs_the_lease(
    sessions: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    org = tenant.organization_id
    [event_id] = await enqueue_events(sessions, org, URL, 1, call_id=await add_call(sessions, org))
    leases = OutboxLeases(sessions, timedelta(seconds=60))
    [first] = await leases.claim(5)
    failed = Attempt(500, "HTTP 500", 3.0)
    retry_at = utcnow() - timedelta(seconds=1)  # due again at once
    assert await leases.record(first, failed, status=PENDING, retry_at=retry_at, at=utcnow())

    [second] = await leases.claim(5)
    assert (second.event_id, second.attempts) == (event_id, 1)
    # A record under the first, spent lease changes nothing.
    delivered = Attempt(200, None, 2.0)
    assert not await leases.record(first, delivered, status=DELIVERED, retry_at=None, at=utcnow())
    assert await leases.record(second, delivered, status=DELIVERED, retry_at=None, at=utcnow())

    async with sessions() as session:
        row = (
            await session.execute(select(WebhookEvent).where(WebhookEvent.event_id == event_id))
        ).scalar_one()
        attempts = (
            await session.execute(
                select(WebhookDelivery.attempt, WebhookDelivery.error)
                .where(WebhookDelivery.webhook_event_id == row.id)
                .order_by(WebhookDelivery.id)
            )
        ).all()
    assert (row.status, row.attempts, row.last_error, row.locked_until) == (
        DELIVERED,
        2,
        None,
        None,
    )
    assert row.delivered_at is not None
    # The retry time stays what the failed attempt set.
    assert abs((row.next_attempt_at - retry_at).total_seconds()) < 1e-3
    # Every attempt is logged, the one recorded after its lease was lost too.
    assert [tuple(a) for a in attempts] == [(1, "HTTP 500"), (1, None), (2, None)]
