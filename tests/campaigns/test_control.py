"""The scheduler's rules on a dialler that only writes the call row (the carrier is
tested with the fake Twilio in test_scheduler): a dial cut off is never repeated,
pause stops new calls but not outcomes, cancel stops everything not yet called."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.domain.calls.repository import new_call
from callwright.domain.campaigns.claims import CampaignClaims, Claim
from callwright.domain.campaigns.outcomes import CALL_LEASE, INTERRUPTED, UNREPORTED
from callwright.domain.campaigns.scheduler import CampaignScheduler
from callwright.store.call_status import CallStatus
from callwright.store.models import Call, CampaignRecipient, WebhookEvent
from tests.campaigns.helpers import NoSleep, add_assistant, add_number
from tests.conftest import Tenant

ACCOUNT = "AC" + "0123456789abcdef" * 2
# A Wednesday noon UTC: London's 09:00-17:00 window is open.
WEDNESDAY_NOON = datetime(2026, 12, 9, 12, 0, tzinfo=UTC)


class RowDialer:
    """Writes the call row as the call service would, and remembers every dial;
    ``hang`` makes the next dial wait until cancelled (a process dying mid-dial)."""

    def __init__(self, node_id: str) -> None:
        self.node_id = node_id  # the node holding the calls (the app's own)
        self.dialled: list[str] = []
        self.hang = False
        self.hanging = asyncio.Event()

    async def dial(self, session: AsyncSession, claim: Claim) -> int:
        self.dialled.append(claim.number)
        if self.hang:
            self.hanging.set()
            await asyncio.Event().wait()
        assert claim.assistant_id is not None
        call = new_call(
            organization_id=claim.organization_id,
            user_id=claim.user_id,
            assistant_id=claim.assistant_id,
            type="outboundPhoneCall",
            status=CallStatus.QUEUED,
            node_id=self.node_id,
            to_number=claim.number,
            phone_number_id=claim.phone_number_id,
        )
        session.add(call)
        await session.flush()
        return call.id


def _dialled_by_pass(dialer: RowDialer, *passes: list[str]) -> None:
    """The dials are these numbers, pass by pass; within a pass in any order (its
    dials run side by side)."""
    at = 0
    for numbers in passes:
        assert sorted(dialer.dialled[at : at + len(numbers)]) == sorted(numbers), dialer.dialled
        at += len(numbers)
    assert len(dialer.dialled) == at, dialer.dialled


class Wall:
    def __init__(self) -> None:
        self.now = WEDNESDAY_NOON

    def __call__(self) -> datetime:
        return self.now


async def _campaign(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, numbers: list[str], **body: object
) -> int:
    client.headers.update(tenant.headers)
    assistant_id = await add_assistant(client)
    number_id = await add_number(app, tenant, "+14155550100", ACCOUNT)
    created = await client.post(
        "/api/v1/campaigns",
        json={
            "name": "Survey",
            "assistant_id": assistant_id,
            "phone_number_ids": [number_id],
            "max_concurrency": 2,
            **body,
        },
    )
    assert created.status_code == 201, created.text
    campaign_id = int(created.json()["id"])
    uploaded = await client.post(
        f"/api/v1/campaigns/{campaign_id}/recipients",
        json=[{"number": number} for number in numbers],
    )
    assert uploaded.json()["accepted"] == len(numbers), uploaded.text
    return campaign_id


async def _end_calls(
    sessions: async_sessionmaker[AsyncSession], reason: str = "customer-ended-call"
) -> None:
    async with sessions() as session:
        await session.execute(
            update(Call).where(Call.status != "ended").values(status="ended", end_reason=reason)
        )
        await session.commit()


async def _rows(sessions: async_sessionmaker[AsyncSession]) -> dict[str, CampaignRecipient]:
    async with sessions() as session:
        rows = (await session.execute(select(CampaignRecipient))).scalars().all()
        return {row.number: row for row in rows}


def _scheduler(app: FastAPI, dialer: RowDialer, wall: Wall) -> CampaignScheduler:
    return CampaignScheduler(
        app.state.callwright.session_factory,
        dialer,
        clock=NoSleep(),
        wall=wall,
        dial_lease=timedelta(minutes=2),
    )


async def test_a_dial_cut_off_is_settled_and_never_repeated(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    campaign_id = await _campaign(app, client, tenant, ["+447700900001"])
    assert (await client.post(f"/api/v1/campaigns/{campaign_id}/start")).status_code == 200
    dialer, wall = RowDialer(app.state.callwright.node.id), Wall()
    dialer.hang = True
    dying = asyncio.create_task(_scheduler(app, dialer, wall).tick())
    await dialer.hanging.wait()
    dying.cancel()
    await asyncio.gather(dying, return_exceptions=True)

    dialer.hang = False
    successor = _scheduler(app, dialer, wall)
    sessions = app.state.callwright.session_factory
    # Within the lease the row is still held: nothing is dialled.
    wall.now += timedelta(minutes=1)
    await successor.tick()
    assert dialer.dialled == ["+447700900001"]
    assert (await _rows(sessions))["+447700900001"].status == "in-progress"
    # Past it, the row is settled as interrupted, not dialled again.
    wall.now += timedelta(minutes=2)
    await successor.tick()
    row = (await _rows(sessions))["+447700900001"]
    assert (row.status, row.outcome, row.detail, row.attempts) == (
        "failed",
        "failed",
        INTERRUPTED,
        1,
    )
    assert dialer.dialled == ["+447700900001"]
    campaign = (await client.get(f"/api/v1/campaigns/{campaign_id}")).json()
    assert campaign["status"] == "completed"


async def test_rows_claimed_by_a_dead_scheduler_but_never_dialled_are_handed_back(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    """A scheduler dies after its claim: the row whose dial it had begun (marked
    dialling) is interrupted; the row still waiting behind it was never dialled, so it
    goes back to the queue, not counted as an attempt, and is dialled once."""
    numbers = ["+447700900001", "+447700900002"]
    campaign_id = await _campaign(app, client, tenant, numbers)
    assert (await client.post(f"/api/v1/campaigns/{campaign_id}/start")).status_code == 200
    sessions = app.state.callwright.session_factory
    wall = Wall()
    dead = CampaignClaims(sessions, timedelta(minutes=2))
    claims = {claim.number: claim for claim in await dead.claim(campaign_id, wall.now)}
    assert set(claims) == set(numbers)
    assert await dead.start_dial(claims[numbers[0]], wall.now)  # then it died

    dialer = RowDialer(app.state.callwright.node.id)
    successor = _scheduler(app, dialer, wall)
    await successor.tick()  # within the leases: both rows are still held
    assert dialer.dialled == []
    wall.now += timedelta(minutes=3)
    await successor.tick()
    rows = await _rows(sessions)
    assert (rows[numbers[0]].status, rows[numbers[0]].detail) == ("failed", INTERRUPTED)
    assert dialer.dialled == [numbers[1]]
    assert (rows[numbers[1]].status, rows[numbers[1]].attempts) == ("in-progress", 1)
    await _end_calls(sessions)
    await successor.tick()
    assert (await _rows(sessions))[numbers[1]].status == "completed"
    assert dialer.dialled == [numbers[1]]


async def test_pause_stops_new_calls_but_records_outcomes_and_cancel_ends_the_rest(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    numbers = [f"+44770090000{i}" for i in range(6)]
    campaign_id = await _campaign(
        app,
        client,
        tenant,
        numbers,
        retry_policy={"busy": {"max_retries": 3, "retry_after_seconds": 60}},
    )
    url = f"/api/v1/campaigns/{campaign_id}"
    sessions = app.state.callwright.session_factory
    dialer, wall = RowDialer(app.state.callwright.node.id), Wall()
    scheduler = _scheduler(app, dialer, wall)

    await scheduler.tick()
    assert dialer.dialled == []  # a draft is not called
    assert (await client.post(f"{url}/start")).status_code == 200
    assert (await client.post(f"{url}/start")).status_code == 409

    await scheduler.tick()
    _dialled_by_pass(dialer, numbers[:2])  # the cap
    await scheduler.tick()
    _dialled_by_pass(dialer, numbers[:2])  # still up: no room

    assert (await client.post(f"{url}/pause")).json()["status"] == "paused"
    await _end_calls(sessions, "customer-busy")
    wall.now += timedelta(minutes=5)
    await scheduler.tick()
    _dialled_by_pass(dialer, numbers[:2])  # paused: nothing new
    rows = await _rows(sessions)
    assert [(rows[n].status, rows[n].outcome) for n in numbers[:2]] == [("retrying", "busy")] * 2
    progress = (await client.get(url)).json()["progress"]
    assert (progress["pending"], progress["retrying"], progress["in_progress"]) == (4, 2, 0)

    assert (await client.post(f"{url}/resume")).json()["status"] == "running"
    await scheduler.tick()
    _dialled_by_pass(dialer, numbers[:2], numbers[2:4])  # retries not due yet: new rows
    await _end_calls(sessions)
    wall.now += timedelta(minutes=2)
    await scheduler.tick()
    # Due retries go before rows not called yet.
    _dialled_by_pass(dialer, numbers[:2], numbers[2:4], numbers[:2])

    canceled = await client.post(f"{url}/cancel")
    assert canceled.json()["status"] == "canceled"
    assert canceled.json()["progress"]["canceled"] == 2
    await _end_calls(sessions, "customer-busy")
    wall.now += timedelta(minutes=5)
    await scheduler.tick()
    rows = await _rows(sessions)
    # Calls up when it was canceled are recorded, and not retried.
    assert {rows[n].status for n in numbers[:2]} == {"canceled"}
    assert {rows[n].outcome for n in numbers[:2]} == {"busy"}
    assert [(rows[n].status, rows[n].outcome) for n in numbers[2:4]] == [
        ("completed", "completed")
    ] * 2
    assert {rows[n].status for n in numbers[4:]} == {"canceled"}
    _dialled_by_pass(dialer, numbers[:2], numbers[2:4], numbers[:2])
    assert (await client.post(f"{url}/resume")).status_code == 409


async def test_the_do_not_call_list_holds_for_every_campaign(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    numbers = ["+447700900001", "+447700900002", "+447700900003"]
    campaign_id = await _campaign(app, client, tenant, numbers, max_concurrency=1)
    added = await client.post(
        "/api/v1/do-not-call", json={"number": numbers[1], "reason": "asked us not to"}
    )
    assert added.status_code == 201, added.text
    assert (
        await client.post("/api/v1/do-not-call", json={"number": numbers[1]})
    ).status_code == 409
    refused = await client.post("/api/v1/do-not-call", json={"number": "0044770090"})
    assert refused.status_code == 422
    assert refused.json()["details"][0]["field"] == "number"
    # Another organization's list is its own.
    client.headers.update(other_tenant.headers)
    assert (await client.get("/api/v1/do-not-call")).json() == []
    client.headers.update(tenant.headers)
    assert [e["number"] for e in (await client.get("/api/v1/do-not-call")).json()] == [numbers[1]]

    assert (await client.post(f"/api/v1/campaigns/{campaign_id}/start")).status_code == 200
    sessions = app.state.callwright.session_factory
    dialer, wall = RowDialer(app.state.callwright.node.id), Wall()
    scheduler = _scheduler(app, dialer, wall)
    await scheduler.tick()
    # Added while the campaign runs: checked before each dial.
    added = await client.post("/api/v1/do-not-call", json={"number": numbers[2]})
    assert added.status_code == 201
    for _ in range(3):
        await _end_calls(sessions)
        await scheduler.tick()
    assert dialer.dialled == numbers[:1]
    rows = await _rows(sessions)
    assert [rows[n].status for n in numbers] == ["completed", "do-not-call", "do-not-call"]
    assert (await client.get(f"/api/v1/campaigns/{campaign_id}")).json()["status"] == "completed"
    removed = await client.delete(f"/api/v1/do-not-call/{numbers[1].replace('+', '%2B')}")
    assert removed.status_code == 204
    assert (
        await client.delete(f"/api/v1/do-not-call/{numbers[1].replace('+', '%2B')}")
    ).status_code == 404


async def test_state_changes_are_webhooks_in_the_outbox(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    campaign_id = await _campaign(app, client, tenant, ["+447700900001"])
    campaign = (await client.get(f"/api/v1/campaigns/{campaign_id}")).json()
    hook = "http://127.0.0.1:9/campaign-hook"
    patched = await client.patch(
        f"/api/v1/assistants/{campaign['assistant_id']}", json={"webhook_url": hook}
    )
    assert patched.status_code == 200, patched.text
    url = f"/api/v1/campaigns/{campaign_id}"
    for action in ("start", "pause", "resume"):
        assert (await client.post(f"{url}/{action}")).status_code == 200
    sessions = app.state.callwright.session_factory
    dialer, wall = RowDialer(app.state.callwright.node.id), Wall()
    scheduler = _scheduler(app, dialer, wall)
    await scheduler.tick()
    await _end_calls(sessions)
    await scheduler.tick()
    async with sessions() as session:
        events = (
            (
                await session.execute(
                    select(WebhookEvent)
                    .where(WebhookEvent.event_type == "campaign-status-update")
                    .order_by(WebhookEvent.id)
                )
            )
            .scalars()
            .all()
        )
    assert {event.url for event in events} == {hook}
    sent = [event.payload["message"]["campaign"] for event in events]
    assert [c["status"] for c in sent] == ["running", "paused", "running", "completed"]
    assert sent[-1]["progress"] == {"total": 1, "completed": 1}
    assert {c["id"] for c in sent} == {campaign_id}


async def test_a_call_whose_end_is_never_reported_frees_its_slot(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    numbers = ["+447700900001", "+447700900002"]
    all_day = {"days": ["wed"], "start": "00:00", "end": "23:59"}
    campaign_id = await _campaign(
        app, client, tenant, numbers, max_concurrency=1, calling_window=all_day
    )
    assert (await client.post(f"/api/v1/campaigns/{campaign_id}/start")).status_code == 200
    sessions = app.state.callwright.session_factory
    dialer, wall = RowDialer(app.state.callwright.node.id), Wall()
    scheduler = _scheduler(app, dialer, wall)
    await scheduler.tick()
    # The carrier never reports the first call's end: it holds the only slot...
    wall.now += CALL_LEASE - timedelta(minutes=1)
    await scheduler.tick()
    assert dialer.dialled == numbers[:1]
    # ...until its lease runs out; then it is failed, not dialled again.
    wall.now += timedelta(minutes=2)
    await scheduler.tick()
    assert dialer.dialled == numbers
    row = (await _rows(sessions))[numbers[0]]
    assert (row.status, row.outcome, row.detail, row.attempts) == (
        "failed",
        "failed",
        UNREPORTED,
        1,
    )
