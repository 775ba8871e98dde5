"""The delivery log API: listing with filters, one event with its attempts, redelivery,
and who may see what (another organization's events are 404, like missing ones)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.settings import Settings
from callwright.store.models import WebhookEvent
from tests.conftest import Tenant, make_tenant
from tests.webhooks.conftest import (
    add_call,
    all_delivered,
    dispatching,
    enqueue_events,
    eventually,
)
from tests.webhooks.receiver import Receiver

EVENTS = "/api/v1/webhook-events"
URL = "https://hooks.example.com/vapi"


async def _set(sessions: async_sessionmaker[AsyncSession], event_id: str, **values: Any) -> None:
    async with sessions() as session:
        await session.execute(
            update(WebhookEvent).where(WebhookEvent.event_id == event_id).values(**values)
        )
        await session.commit()


async def _ids(client: httpx.AsyncClient, tenant: Tenant, query: str = "") -> list[str]:
    response = await client.get(f"{EVENTS}{query}", headers=tenant.headers)
    assert response.status_code == 200, response.text
    return [event["id"] for event in response.json()]


async def test_list_filters_and_pages(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    org = tenant.organization_id
    call = await add_call(sessions, org, user_id=tenant.user_id)
    updates = await enqueue_events(sessions, org, URL, 2, call_id=call)
    (report,) = await enqueue_events(
        sessions, org, URL, 1, call_id=call, event_type="end-of-call-report"
    )
    (loose,) = await enqueue_events(sessions, org, URL, 1, event_type="transcript")
    await _set(sessions, report, status="failed", attempts=3, last_error="HTTP 500")

    assert await _ids(client, tenant) == [loose, report, updates[1], updates[0]]  # newest first
    assert await _ids(client, tenant, f"?call_id={call}") == [report, updates[1], updates[0]]
    assert await _ids(client, tenant, "?status=failed") == [report]
    assert await _ids(client, tenant, "?status=pending&event_type=status-update") == updates[::-1]
    assert await _ids(client, tenant, "?event_type=end-of-call-report") == [report]
    assert await _ids(client, tenant, "?skip=1&limit=2") == [report, updates[1]]

    listed = (await client.get(f"{EVENTS}?status=failed", headers=tenant.headers)).json()
    assert set(listed[0]) == {
        "id",
        "call_id",
        "event_type",
        "url",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
        "created_at",
        "delivered_at",
    }
    assert listed[0]["next_attempt_at"] is None  # only a pending event has one
    assert (listed[0]["attempts"], listed[0]["last_error"]) == (3, "HTTP 500")
    bad_queries = ["?status=lost", "?limit=0", "?skip=-1", "?call_id=0", "?event_type=a%00b"]
    for bad in bad_queries:
        response = await client.get(f"{EVENTS}{bad}", headers=tenant.headers)
        assert response.status_code == 422, bad
        assert response.json()["code"] == "validation_failed"


async def test_an_event_shows_its_payload_and_every_attempt_and_can_be_redelivered(
    client: httpx.AsyncClient,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    tenant: Tenant,
) -> None:
    receiver = Receiver()
    (event_id,) = await enqueue_events(sessions, tenant.organization_id, receiver.url, 1)

    async def attempts(count: int) -> bool:
        response = await client.get(f"{EVENTS}/{event_id}", headers=tenant.headers)
        return len(response.json()["deliveries"]) >= count

    async with receiver.serving(), dispatching(sessions, settings):
        receiver.mode = "unavailable"
        await eventually(lambda: attempts(2))
        receiver.mode = "ok"
        await eventually(all_delivered(sessions))

        shown = (await client.get(f"{EVENTS}/{event_id}", headers=tenant.headers)).json()
        assert shown["status"] == "delivered"
        assert shown["payload"] == {"message": {"type": "status-update", "sequence": 0}}
        log = shown["deliveries"]
        assert [d["attempt"] for d in log] == list(range(1, len(log) + 1))
        assert {d["status_code"] for d in log[:-1]} == {503}
        assert log[-1]["status_code"] == 200
        assert log[-1]["error"] is None
        assert set(log[0]) == {"attempt", "status_code", "error", "duration_ms", "created_at"}

        again = await client.post(f"{EVENTS}/{event_id}/redeliver", headers=tenant.headers)
        assert again.status_code == 200, again.text
        assert (again.json()["status"], again.json()["attempts"]) == ("pending", 0)
        assert again.json()["deliveries"] == log  # the history stays
        await eventually(all_delivered(sessions))

    assert receiver.accepted() == {event_id: 2}  # same id: the receiver can tell
    final = (await client.get(f"{EVENTS}/{event_id}", headers=tenant.headers)).json()
    assert final["status"] == "delivered"
    assert [d["status_code"] for d in final["deliveries"]][-2:] == [200, 200]


async def test_only_delivered_or_failed_events_can_be_redelivered(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    pending, failed = await enqueue_events(sessions, tenant.organization_id, URL, 2)
    await _set(sessions, failed, status="failed", attempts=20, last_error="timed out")

    conflict = await client.post(f"{EVENTS}/{pending}/redeliver", headers=tenant.headers)
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "conflict"
    requeued = await client.post(f"{EVENTS}/{failed}/redeliver", headers=tenant.headers)
    assert requeued.status_code == 200
    body = requeued.json()
    assert (body["status"], body["attempts"]) == ("pending", 0)
    assert body["next_attempt_at"] is not None


async def test_another_organizations_events_are_not_found(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    tenant: Tenant,
    other_tenant: Tenant,
) -> None:
    (theirs,) = await enqueue_events(sessions, other_tenant.organization_id, URL, 1)
    await _set(sessions, theirs, status="failed")
    missing = "evt_" + "0" * 32

    for request in [
        client.get(f"{EVENTS}/{theirs}", headers=tenant.headers),
        client.post(f"{EVENTS}/{theirs}/redeliver", headers=tenant.headers),
        client.get(f"{EVENTS}/{missing}", headers=tenant.headers),
    ]:
        response = await request
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert await _ids(client, tenant) == []
    assert await _ids(client, other_tenant) == [theirs]
    malformed = await client.get(f"{EVENTS}/42", headers=tenant.headers)
    assert malformed.status_code == 400
    assert malformed.json()["code"] == "malformed_id"
    assert (await client.get(EVENTS)).status_code == 401


async def test_a_user_scoped_key_sees_the_events_of_its_own_calls(
    app: FastAPI,
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    tenant: Tenant,
) -> None:
    org = tenant.organization_id
    member = await make_tenant(app, "Acme", scope="user", organization_id=org)
    own_call = await add_call(sessions, org, user_id=member.user_id)
    their_call = await add_call(sessions, org, user_id=tenant.user_id)
    (own,) = await enqueue_events(sessions, org, URL, 1, call_id=own_call)
    (theirs,) = await enqueue_events(sessions, org, URL, 1, call_id=their_call)
    (no_call,) = await enqueue_events(sessions, org, URL, 1)

    assert await _ids(client, member) == [own]
    assert await _ids(client, tenant) == [no_call, theirs, own]
    response = await client.get(f"{EVENTS}/{theirs}", headers=member.headers)
    assert response.status_code == 404
    assert (await client.get(f"{EVENTS}/{own}", headers=member.headers)).status_code == 200
