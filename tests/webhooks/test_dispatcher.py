"""The outbox dispatcher against a real HTTP receiver on a loopback port: a receiver
that is down gets every event once it is back, exactly once per event id, signed; a
restart resumes; two dispatchers never deliver an event twice; back-off and giving up."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.api.app import create_app
from callwright.domain.webhooks.dispatcher import retry_delay
from callwright.domain.webhooks.outbox import enqueue
from callwright.settings import Settings
from callwright.store.base import utcnow
from callwright.store.database import create_engine, create_session_factory
from callwright.store.models import WebhookEvent
from tests.conftest import Tenant
from tests.webhooks.conftest import (
    CountingTransport,
    add_call,
    all_delivered,
    current_secret,
    deliveries,
    dispatching,
    enqueue_events,
    events,
    eventually,
)
from tests.webhooks.receiver import Receiver


@asynccontextmanager
async def another_process(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A session factory on its own engine, as a second server process would have."""
    engine = create_engine(settings.resolved_database_url)
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()


async def test_a_receiver_that_was_down_gets_every_event_exactly_once(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    secret = await current_secret(sessions, settings, tenant.organization_id)
    receiver = Receiver(lambda: {"organization": secret})
    call_id = await add_call(sessions, tenant.organization_id)
    in_order = await enqueue_events(
        sessions, tenant.organization_id, receiver.url, 3, call_id=call_id
    )
    loose = await enqueue_events(sessions, tenant.organization_id, receiver.url, 5)
    first = in_order[0]

    async def failures_of_first(at_least: int) -> bool:
        return len(await deliveries(sessions, first)) >= at_least

    async def first_got_503() -> bool:
        return any(r.event_id == first and r.status == 503 for r in receiver.requests)

    async with dispatching(sessions, settings):
        # Down: nothing listens on the port.
        await eventually(lambda: failures_of_first(2))
        async with receiver.serving():
            receiver.mode = "unavailable"  # up, but answering 503
            await eventually(first_got_503)
            receiver.mode = "ok"
            await eventually(all_delivered(sessions))
            # A few poll intervals more: nothing may arrive twice.
            await asyncio.sleep(0.3)

    accepted = receiver.accepted()
    assert set(accepted) == set(in_order + loose)
    assert set(accepted.values()) == {1}
    assert all(r.signed_by == "organization" for r in receiver.requests)
    assert all(r.headers["content-type"] == "application/json" for r in receiver.requests)
    assert all(r.event_type == "status-update" for r in receiver.requests)
    # One call's events arrive in order, and wait for the one before them.
    arrivals = [r.event_id for r in receiver.requests if r.status == 200 and r.event_id in in_order]
    assert arrivals == in_order
    assert [len(await deliveries(sessions, later)) for later in in_order[1:]] == [1, 1]

    log = await deliveries(sessions, first)
    assert [d.attempt for d in log] == list(range(1, len(log) + 1))
    assert any(d.status_code is None and "ConnectError" in (d.error or "") for d in log)
    assert any(d.status_code == 503 and (d.error or "").startswith("HTTP 503") for d in log)
    assert log[-1].status_code == 200
    assert log[-1].error is None
    assert all(d.duration_ms >= 0 for d in log)
    row = next(e for e in await events(sessions) if e.event_id == first)
    assert (row.status, row.attempts, row.last_error) == ("delivered", len(log), None)
    assert row.delivered_at is not None
    assert row.locked_until is None
    delivered_request = next(
        r for r in receiver.requests if r.event_id == first and r.status == 200
    )
    assert delivered_request.attempt == len(log)


async def test_a_restart_resumes_pending_events(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    secret = await current_secret(sessions, settings, tenant.organization_id)
    receiver = Receiver(lambda: {"organization": secret})
    call_id = await add_call(sessions, tenant.organization_id)
    ids = await enqueue_events(sessions, tenant.organization_id, receiver.url, 3, call_id=call_id)
    ids += await enqueue_events(sessions, tenant.organization_id, receiver.url, 3)

    async with receiver.serving():
        receiver.mode = "hold"
        async with dispatching(sessions, settings):
            async with asyncio.timeout(30):
                await receiver.holding.wait()
        # The server stopped with requests in flight: their leases were handed back,
        # and no attempt was recorded for them.
        rows = await events(sessions)
        assert {row.status for row in rows} == {"pending"}
        assert all(row.locked_until is None and row.attempts == 0 for row in rows)
        receiver.release()  # the held requests answer 503 to a client that is gone
        receiver.mode = "ok"
        # A new process: its own engine, its own dispatcher. Were the leases not
        # handed back, it would wait 35 s for them and the hang detector would fire.
        async with another_process(settings) as restarted, dispatching(restarted, settings):
            await eventually(all_delivered(sessions), timeout_s=20)

    accepted = receiver.accepted()
    assert set(accepted) == set(ids)
    assert set(accepted.values()) == {1}
    for event_id in ids:
        assert [(d.attempt, d.status_code) for d in await deliveries(sessions, event_id)] == [
            (1, 200)
        ]


async def test_a_lease_of_a_dead_process_expires(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    receiver = Receiver()
    (event_id,) = await enqueue_events(sessions, tenant.organization_id, receiver.url, 1)
    # A process that claimed the event and died: its lease runs for another second.
    lease = utcnow() + timedelta(seconds=1)
    async with sessions() as session:
        await session.execute(
            update(WebhookEvent).where(WebhookEvent.event_id == event_id).values(locked_until=lease)
        )
        await session.commit()

    async with receiver.serving(), dispatching(sessions, settings):
        await eventually(all_delivered(sessions))

    (attempt,) = await deliveries(sessions, event_id)
    assert attempt.created_at >= lease
    assert receiver.accepted() == {event_id: 1}


@pytest.mark.parametrize("concurrency", [1, 4])
async def test_two_dispatchers_never_deliver_an_event_twice(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], tenant: Tenant, concurrency: int
) -> None:
    settings = settings.model_copy(update={"webhook_max_concurrent_deliveries": concurrency})
    receiver = Receiver()
    receiver.delay_s = 0.02
    org = tenant.organization_id
    calls = [await add_call(sessions, org) for _ in range(2)]
    in_order = {
        call: await enqueue_events(sessions, org, receiver.url, 5, call_id=call) for call in calls
    }
    ids = [event_id for sequence in in_order.values() for event_id in sequence]
    ids += await enqueue_events(sessions, org, receiver.url, 30)
    first, second = CountingTransport(), CountingTransport()

    async with (
        receiver.serving(),
        another_process(settings) as one,
        another_process(settings) as other,
        dispatching(one, settings, transport=first),
        dispatching(other, settings, transport=second),
    ):
        await eventually(all_delivered(sessions))

    assert len(receiver.requests) == len(ids)  # not even a duplicate attempt
    assert receiver.accepted() == dict.fromkeys(ids, 1)
    assert first.sent > 0
    assert second.sent > 0
    assert first.sent + second.sent == len(ids)
    for sequence in in_order.values():
        arrivals = [r.event_id for r in receiver.requests if r.event_id in sequence]
        assert arrivals == sequence
    for event_id in ids:
        assert len(await deliveries(sessions, event_id)) == 1


async def test_back_off_grows_and_gives_up_after_the_last_attempt(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    settings = settings.model_copy(
        update={
            "webhook_max_attempts": 4,
            "webhook_retry_base_delay_seconds": 0.1,
            "webhook_retry_max_delay_seconds": 0.3,
        }
    )
    receiver = Receiver()
    receiver.mode = "error"
    (event_id,) = await enqueue_events(sessions, tenant.organization_id, receiver.url, 1)

    async def failed() -> bool:
        return (await events(sessions))[0].status == "failed"

    # rng=1.0: every delay is its ceiling, so the gaps have exact lower bounds.
    async with receiver.serving(), dispatching(sessions, settings, rng=lambda: 1.0):
        await eventually(failed)
        await asyncio.sleep(0.5)  # given up: nothing more is sent

    log = await deliveries(sessions, event_id)
    assert [(d.attempt, d.status_code) for d in log] == [(1, 500), (2, 500), (3, 500), (4, 500)]
    assert all(d.error == "HTTP 500: down for maintenance" for d in log)
    gaps = [
        (later.created_at - earlier.created_at).total_seconds()
        for earlier, later in itertools.pairwise(log)
    ]
    # base·2^(n−1) capped at max: 0.1, 0.2, then 0.3 (not 0.4).
    for gap, delay in zip(gaps, [0.1, 0.2, 0.3], strict=True):
        assert gap >= delay - 0.001
    assert [r.attempt for r in receiver.requests] == [1, 2, 3, 4]
    (row,) = await events(sessions)
    assert (row.status, row.attempts, row.delivered_at) == ("failed", 4, None)
    assert row.last_error == "HTTP 500: down for maintenance"


def test_retry_delay_doubles_with_jitter_and_is_capped() -> None:
    def window(attempts: int) -> tuple[float, float]:
        low = retry_delay(attempts, base_s=10, max_s=3600, rng=lambda: 0.0)
        high = retry_delay(attempts, base_s=10, max_s=3600, rng=lambda: 1.0)
        return low, high

    assert [window(n) for n in (1, 2, 3, 4)] == [(5, 10), (10, 20), (20, 40), (40, 80)]
    assert window(20) == (1800, 3600)
    assert window(10_000) == (1800, 3600)  # no overflow, still capped
    for attempts in range(1, 30):
        assert 5 <= retry_delay(attempts, base_s=10, max_s=3600) <= 3600


async def test_a_slow_receiver_is_bounded_by_the_timeout(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    settings = settings.model_copy(
        update={"webhook_delivery_timeout_seconds": 0.3, "webhook_max_attempts": 2}
    )
    receiver = Receiver()
    receiver.delay_s = 1.0
    (event_id,) = await enqueue_events(sessions, tenant.organization_id, receiver.url, 1)

    async def failed() -> bool:
        return (await events(sessions))[0].status == "failed"

    async with receiver.serving(), dispatching(sessions, settings):
        await eventually(failed)
        receiver.delay_s = 0.0

    log = await deliveries(sessions, event_id)
    assert [d.error for d in log] == ["timed out after 0.3 s"] * 2
    assert all(d.status_code is None and d.duration_ms < 950 for d in log)


async def test_enqueue_belongs_to_the_callers_transaction(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    receiver = Receiver()
    async with sessions() as session:
        await enqueue(
            session,
            organization_id=tenant.organization_id,
            url=receiver.url,
            event_type="status-update",
            payload={"message": {"type": "status-update"}},
        )
        await session.rollback()
    assert await events(sessions) == []

    async with sessions() as session:
        for url, payload, problem in [
            ("ftp://example.com/x", {}, "http:// or https://"),
            ("not a url", {}, "http:// or https://"),
            ("https://example.com/x", {"value": float("nan")}, "not JSON"),
            ("https://example.com/x", {"value": object()}, "not JSON"),
        ]:
            with pytest.raises(ValueError, match=problem):
                await enqueue(
                    session,
                    organization_id=tenant.organization_id,
                    url=url,
                    event_type="status-update",
                    payload=payload,
                )


async def test_the_server_delivers_what_is_committed_at_once(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    """The app runs a dispatcher; a commit wakes it long before its next poll."""
    serving = settings.model_copy(
        update={"webhook_delivery_enabled": True, "webhook_poll_interval_seconds": 120}
    )
    application: FastAPI = create_app(serving)
    receiver = Receiver()
    async with receiver.serving(), application.router.lifespan_context(application):
        await asyncio.sleep(0.2)  # the dispatcher's first look finds nothing
        ids = await enqueue_events(sessions, tenant.organization_id, receiver.url, 2)
        await eventually(all_delivered(sessions), timeout_s=20)
    assert receiver.accepted() == dict.fromkeys(ids, 1)
