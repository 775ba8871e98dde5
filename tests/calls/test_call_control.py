"""Control reaches a call on whichever node holds it (Redis pub/sub), and the answer
says what happened: 200 done, 409 not live, 503 when the node holding it is gone."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from callwright.domain.calls.repository import new_call
from callwright.settings import Settings
from callwright.store.base import utcnow
from callwright.store.call_status import CallStatus
from callwright.store.models import Call, Node
from tests.calls.harness import API_TIMEOUT, FakeProviders, PhoneLab, phone_lab
from tests.calls.test_nodes import WallTime, node_app
from tests.calls.test_web_calls import _assistant, _ended, _start, open_page
from tests.conftest import LOOPBACK_FAKES, TEST_SECRET_KEY, Tenant, _truncate, make_tenant
from tests.support.optional import unavailable

REDIS_URL = os.environ.get("CALLWRIGHT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
async def fleet_settings(postgres_url: str, tmp_path: Path) -> Settings:
    """Two processes' settings: one PostgreSQL database and one Redis."""
    client = Redis.from_url(REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    try:
        await client.ping()
    except RedisError as exc:
        unavailable(f"Redis at {REDIS_URL} is not reachable: {exc}")
    finally:
        await client.aclose()
    await _truncate(postgres_url)
    return Settings(
        database_url=postgres_url,
        data_dir=tmp_path / "data",
        secret_key=TEST_SECRET_KEY,
        redis_url=REDIS_URL,
        redis_namespace=f"test-{uuid.uuid4().hex[:12]}",
        rate_limit_per_key_per_minute=10_000,
        rate_limit_per_ip_per_minute=10_000,
        outbound_allowed_hosts=LOOPBACK_FAKES,
    )


async def _post(lab: PhoneLab, tenant: Tenant, path: str, body: object = None) -> httpx.Response:
    async with httpx.AsyncClient(
        timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
    ) as api:
        return await api.post(path, json=body)


async def _held_by(lab: PhoneLab, tenant: Tenant, node_id: str) -> int:
    """A call in progress on ``node_id``: alive by its heartbeat (no sweep ends its
    calls), yet nobody listens on its control channel (its Redis connection lost)."""
    async with lab.app.state.callwright.session_factory.begin() as db:
        later = utcnow() + timedelta(hours=1)
        db.add(Node(id=node_id, hostname="h", pid=1, started_at=later, heartbeat_at=later))
        call = new_call(
            organization_id=tenant.organization_id,
            user_id=tenant.user_id,
            assistant_id=None,  # type: ignore[arg-type]
            type="webCall",
            status=CallStatus.IN_PROGRESS,
            node_id=node_id,
        )
        db.add(call)
        await db.flush()
        return call.id


@pytest.mark.postgres
@pytest.mark.redis
async def test_a_call_on_one_node_is_said_to_and_ended_through_another(
    fleet_settings: Settings,
) -> None:
    providers = FakeProviders()
    async with phone_lab(fleet_settings, providers) as a, phone_lab(fleet_settings, providers) as b:
        for lab in (a, b):
            relay = lab.app.state.callwright.relay
            assert relay is not None
            await asyncio.wait_for(relay.listening.wait(), 10)
        tenant = await make_tenant(a.app)
        assistant_id = await _assistant(a, tenant)
        # Issued through B, connected to A (the load balancer's choice): A holds it.
        started = (await _start(b, tenant, {"assistant_id": assistant_id})).json()
        call_id = started["call_id"]
        async with open_page(started["ws_url"].replace(b.ws_base, a.ws_base)) as page:
            await page.wait_for(lambda: len(page.transcripts("assistant")) == 1)
            async with a.app.state.callwright.session_factory() as db:
                call = await db.get(Call, call_id)
                assert call is not None
                assert call.node_id == a.app.state.callwright.node.id

            said = await _post(b, tenant, f"/api/v1/calls/{call_id}/say", {"message": "From B."})
            assert said.status_code == 200, said.text
            await page.wait_for(lambda: "From B." in page.transcripts("assistant"))
            ended = await _post(b, tenant, f"/api/v1/calls/{call_id}/end")
            assert ended.status_code == 200, ended.text
            await asyncio.wait_for(page.closed.wait(), 10)
        assert page.messages[-1] == {"type": "call-ended", "reason": "manually-canceled"}
        record = await _ended(b, tenant, call_id)
        assert record["end_reason"] == "manually-canceled"

        again = await _post(b, tenant, f"/api/v1/calls/{call_id}/end")
        assert (again.status_code, again.json()["code"]) == (409, "conflict")
        late = await _post(a, tenant, f"/api/v1/calls/{call_id}/say", {"message": "Hello?"})
        assert late.status_code == 409

        # Held by a node that does not answer: nothing can be done, and B says so.
        orphan = await _held_by(b, tenant, "deaf-node")
        for path, body in (("end", None), ("say", {"message": "Anyone?"})):
            answer = await _post(b, tenant, f"/api/v1/calls/{orphan}/{path}", body)
            assert answer.status_code == 503, answer.text
            assert answer.json()["code"] == "call_owner_unreachable"
            assert "deaf-node" in answer.json()["error"]


async def test_without_redis_another_nodes_call_is_unreachable(settings: Settings) -> None:
    wall = WallTime(utcnow())
    async with node_app(settings, wall) as a, node_app(settings, wall) as b:
        tenant = await make_tenant(a)
        async with a.state.callwright.session_factory.begin() as db:
            call = new_call(
                organization_id=tenant.organization_id,
                user_id=tenant.user_id,
                assistant_id=None,  # type: ignore[arg-type]
                type="webCall",
                status=CallStatus.IN_PROGRESS,
                node_id=a.state.callwright.node.id,
            )
            db.add(call)
        for app, status, code in ((b, 503, "call_owner_unreachable"), (a, 409, "conflict")):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://t", headers=tenant.headers
            ) as api:
                answer = await api.post(f"/api/v1/calls/{call.id}/end")
            assert (answer.status_code, answer.json()["code"]) == (status, code), answer.text
            if status == 503:
                assert "without REDIS_URL" in answer.json()["error"]
        # Nothing was done: the call is as it was.
        async with a.state.callwright.session_factory() as db:
            row = await db.get(Call, call.id)
            assert row is not None
            assert row.status == CallStatus.IN_PROGRESS
