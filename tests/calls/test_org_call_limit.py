"""The organization's concurrent-call limit: set through the organization resource,
held where calls are issued (web, outbound, inbound), by every process and node on one
database at once; calls of dead nodes and expired issues hold no place."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from callwright.api.app import create_app
from callwright.domain.calls.repository import new_call
from callwright.settings import Settings
from callwright.store.base import utcnow
from callwright.store.call_status import CallStatus
from callwright.store.models import Call, Node
from tests.calls.harness import ACCOUNT_SID, AUTH_TOKEN, FakeProviders, phone_lab, twilio_post
from tests.conftest import Tenant, make_tenant

QUIET = {"webhook_delivery_enabled": False, "campaign_scheduler_enabled": False}


@asynccontextmanager
async def api_of(app: FastAPI, tenant: Tenant) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://t", headers=tenant.headers
    ) as api:
        yield api


@asynccontextmanager
async def node(settings: Settings) -> AsyncIterator[FastAPI]:
    """One server process: its own engine, call runtime and node."""
    app = create_app(settings.model_copy(update=QUIET))
    async with app.router.lifespan_context(app):
        yield app


async def _limit(api: httpx.AsyncClient, limit: int | None) -> None:
    patched = await api.patch("/api/v1/organization", json={"max_concurrent_calls": limit})
    assert patched.status_code == 200, patched.text
    assert patched.json()["max_concurrent_calls"] == limit


async def _assistant(api: httpx.AsyncClient) -> int:
    created = await api.post("/api/v1/assistants", json={"name": "Limited"})
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


async def _open_calls(app: FastAPI, organization_id: int) -> int:
    async with app.state.callwright.session_factory() as db:
        query = select(func.count()).where(
            Call.organization_id == organization_id, Call.status != CallStatus.ENDED
        )
        return int((await db.execute(query)).scalar_one())


async def test_the_organization_resource_reads_and_sets_the_limit(app: FastAPI) -> None:
    tenant = await make_tenant(app)
    member = await make_tenant(app, "Acme", scope="user", organization_id=tenant.organization_id)
    async with api_of(app, tenant) as api, api_of(app, member) as member_api:
        shown = await api.get("/api/v1/organization")
        assert shown.status_code == 200, shown.text
        assert shown.json()["id"] == tenant.organization_id
        assert (shown.json()["max_concurrent_calls"], shown.json()["live_calls"]) == (None, 0)
        await _limit(api, 3)
        assert (await member_api.get("/api/v1/organization")).json()["max_concurrent_calls"] == 3
        # A user-scoped key reads it but cannot change it.
        refused = await member_api.patch("/api/v1/organization", json={"max_concurrent_calls": 9})
        assert refused.status_code == 403, refused.text
        for bad in ({"max_concurrent_calls": 0}, {"max_concurrent_calls": "x"}, {"calls": 2}):
            answer = await api.patch("/api/v1/organization", json=bad)
            assert answer.status_code == 422, (bad, answer.text)
        assert (await api.get("/api/v1/organization")).json()["max_concurrent_calls"] == 3
        # A field left out is left as it is; null lifts the limit.
        renamed = await api.patch("/api/v1/organization", json={"name": "Acme Ltd"})
        assert renamed.json()["max_concurrent_calls"] == 3
        assert renamed.json()["name"] == "Acme Ltd"
        await _limit(api, None)


async def test_web_calls_past_the_limit_are_refused_with_429(app: FastAPI) -> None:
    tenant = await make_tenant(app)
    other = await make_tenant(app, "Other")
    async with api_of(app, tenant) as api, api_of(app, other) as other_api:
        await _limit(api, 2)
        assistant = await _assistant(api)
        calls = []
        for _ in range(2):
            started = await api.post("/api/v1/calls/web", json={"assistant_id": assistant})
            assert started.status_code == 201, started.text
            calls.append(started.json()["call_id"])
        refused = await api.post("/api/v1/calls/web", json={"assistant_id": assistant})
        assert refused.status_code == 429, refused.text
        assert refused.json()["code"] == "organization_call_limit"
        assert "limit of 2 concurrent calls" in refused.json()["error"]
        assert (await api.get("/api/v1/organization")).json()["live_calls"] == 2
        # Another organization's calls are its own affair.
        theirs = await other_api.post(
            "/api/v1/calls/web", json={"assistant_id": await _assistant(other_api)}
        )
        assert theirs.status_code == 201, theirs.text
        # A call that ends gives its place back.
        ended = await api.post(f"/api/v1/calls/{calls[0]}/end")
        assert ended.status_code == 200, ended.text
        again = await api.post("/api/v1/calls/web", json={"assistant_id": assistant})
        assert again.status_code == 201, again.text


async def test_calls_of_dead_nodes_and_expired_issues_hold_no_place(app: FastAPI) -> None:
    tenant = await make_tenant(app)
    settings: Settings = app.state.callwright.settings
    now = utcnow()
    async with app.state.callwright.session_factory.begin() as db:
        db.add(
            Node(
                id="gone",
                hostname="h",
                pid=1,
                started_at=now,
                heartbeat_at=now - timedelta(seconds=settings.node_expiry_s + 1),
            )
        )
        db.add(
            Node(
                id="stopped", hostname="h", pid=2, started_at=now, heartbeat_at=now, stopped_at=now
            )
        )
        rows = [
            ("gone", CallStatus.IN_PROGRESS, now),
            ("stopped", CallStatus.IN_PROGRESS, now),
            # Issued here so long ago that its stream token has expired.
            (
                app.state.callwright.node.id,
                CallStatus.QUEUED,
                now - timedelta(seconds=settings.stream_token_ttl_s + 1),
            ),
        ]
        for node_id, status, created_at in rows:
            call = new_call(
                organization_id=tenant.organization_id,
                user_id=tenant.user_id,
                assistant_id=None,  # type: ignore[arg-type]
                type="webCall",
                status=status,
                node_id=node_id,
            )
            call.created_at = created_at
            db.add(call)
    async with api_of(app, tenant) as api:
        await _limit(api, 1)
        assert (await api.get("/api/v1/organization")).json()["live_calls"] == 0
        assistant = await _assistant(api)
        first = await api.post("/api/v1/calls/web", json={"assistant_id": assistant})
        assert first.status_code == 201, first.text
        # An issued call of this live node holds its place until it connects or expires.
        second = await api.post("/api/v1/calls/web", json={"assistant_id": assistant})
        assert second.status_code == 429, second.text


async def test_two_nodes_never_exceed_the_limit_under_concurrent_issue(
    settings: Settings,
) -> None:
    """Two processes on one database (each its own engine, runtime and node) issue a
    burst of calls for one organization at once: exactly the limit get through."""
    limit, burst = 3, 16
    async with node(settings) as first, node(settings) as second:
        assert first.state.callwright.node.id != second.state.callwright.node.id
        tenant = await make_tenant(first)
        async with api_of(first, tenant) as api_a, api_of(second, tenant) as api_b:
            await _limit(api_a, limit)
            assistant = await _assistant(api_a)

            async def issue(api: httpx.AsyncClient) -> int:
                answer = await api.post("/api/v1/calls/web", json={"assistant_id": assistant})
                return answer.status_code

            for round_ in range(2):
                codes = await asyncio.gather(
                    *(issue(api_a if i % 2 else api_b) for i in range(burst))
                )
                assert Counter(codes) == {201: limit, 429: burst - limit}, (round_, codes)
                assert await _open_calls(first, tenant.organization_id) == limit
                # Both nodes end theirs: the next burst has the whole limit again.
                async with first.state.callwright.session_factory.begin() as db:
                    open_ = (
                        await db.execute(select(Call).where(Call.status != CallStatus.ENDED))
                    ).scalars()
                    for call in open_:
                        call.status = CallStatus.ENDED
                        call.ended_at = utcnow()


async def test_outbound_and_inbound_phone_calls_hold_the_limit(settings: Settings) -> None:
    async with phone_lab(settings, FakeProviders(), **QUIET) as lab:
        tenant = await make_tenant(lab.app)
        async with httpx.AsyncClient(base_url=lab.base_url, headers=tenant.headers) as api:
            await _limit(api, 1)
            assistant = await api.post(
                "/api/v1/assistants",
                json={
                    "name": "Phone",
                    "twilio_config": {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN},
                },
            )
            assert assistant.status_code == 201, assistant.text
            ours = "+14155550123"
            lab.twilio.own(ours)
            number = await api.post(
                "/api/v1/phone-numbers",
                json={"number": ours, "assistant_id": assistant.json()["id"]},
            )
            assert number.status_code == 201, number.text
            body = {
                "assistant_id": assistant.json()["id"],
                "phone_number_id": number.json()["id"],
                "customer_number": "+447700900123",
            }
            placed = await api.post("/api/v1/calls", json=body)
            assert placed.status_code == 201, placed.text
            dials = len([r for r in lab.twilio.requests if r[1].endswith("/Calls.json")])
            refused = await api.post("/api/v1/calls", json=body)
            assert refused.status_code == 429, refused.text
            assert refused.json()["code"] == "organization_call_limit"
            # Refused before Twilio was asked to dial.
            assert len([r for r in lab.twilio.requests if r[1].endswith("/Calls.json")]) == dials
            # An incoming call meanwhile hears busy, and nothing is recorded for it.
            answer = await twilio_post(
                lab.base_url,
                "/telephony/twilio/voice",
                {
                    "AccountSid": ACCOUNT_SID,
                    "CallSid": "CA" + "cd" * 16,
                    "From": "+447700900999",
                    "To": ours,
                    "CallStatus": "ringing",
                    "Direction": "inbound",
                    "ApiVersion": "2010-04-01",
                },
            )
            assert answer.status_code == 200, answer.text
            assert '<Reject reason="busy"/>' in answer.text
            assert len((await api.get("/api/v1/calls")).json()) == 1
            # Once the outbound call ends, the incoming one is answered.
            ended = await api.post(f"/api/v1/calls/{placed.json()['id']}/end")
            assert ended.status_code == 200, ended.text
            answer = await twilio_post(
                lab.base_url,
                "/telephony/twilio/voice",
                {
                    "AccountSid": ACCOUNT_SID,
                    "CallSid": "CA" + "ef" * 16,
                    "From": "+447700900999",
                    "To": ours,
                    "CallStatus": "ringing",
                    "Direction": "inbound",
                    "ApiVersion": "2010-04-01",
                },
            )
            assert "<Stream" in answer.text, answer.text
