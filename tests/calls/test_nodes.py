"""Several processes on one database: each is a node with a heartbeat, every call names
the node holding it, and only the calls of a node that is gone are ever swept."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from callwright.api.app import create_app
from callwright.domain.calls.repository import CallProgress, new_call, save_progress
from callwright.settings import Settings
from callwright.store.base import utcnow
from callwright.store.call_status import CallStatus
from callwright.store.models import Call, Node, WebhookEvent
from tests.conftest import Tenant, make_tenant
from tests.server import CALLWRIGHT, environment

EXPIRY = timedelta(hours=1)


@dataclass
class WallTime:
    """A wall clock that moves only when the test says so."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


@asynccontextmanager
async def node_app(settings: Settings, wall: WallTime) -> AsyncIterator[FastAPI]:
    # Heartbeats and sweeps happen when the test says (``Node.beat``, ``Node.sweep``):
    # the periodic ones would not run within a test, however slow the machine.
    quiet = settings.model_copy(
        update={
            "node_heartbeat_interval_s": EXPIRY.total_seconds() / 2,
            "node_expiry_s": EXPIRY.total_seconds(),
        }
    )
    app = create_app(quiet, wall_clock=wall)
    async with app.router.lifespan_context(app):
        yield app


async def _web_call(app: FastAPI, tenant: Tenant, **settings: object) -> int:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://t", headers=tenant.headers
    ) as api:
        created = await api.post("/api/v1/assistants", json={"name": "Node", **settings})
        assert created.status_code == 201, created.text
        started = await api.post("/api/v1/calls/web", json={"assistant_id": created.json()["id"]})
        assert started.status_code == 201, started.text
        return int(started.json()["call_id"])


async def _running_call(app: FastAPI, tenant: Tenant, node_id: str | None) -> int:
    async with app.state.callwright.session_factory.begin() as db:
        call = new_call(
            organization_id=tenant.organization_id,
            user_id=tenant.user_id,
            assistant_id=None,  # type: ignore[arg-type]
            type="webCall",
            status=CallStatus.IN_PROGRESS,
            node_id=node_id,  # type: ignore[arg-type]
        )
        db.add(call)
        await db.flush()
        return call.id


async def _calls(app: FastAPI, *ids: int) -> dict[int, Call]:
    async with app.state.callwright.session_factory() as db:
        rows = (await db.execute(select(Call).where(Call.id.in_(ids)))).scalars().all()
    return {row.id: row for row in rows}


async def test_a_starting_process_leaves_a_live_nodes_calls_alone(settings: Settings) -> None:
    a_time = WallTime(utcnow())
    async with node_app(settings, a_time) as a:
        tenant = await make_tenant(a)
        a_node = a.state.callwright.node.id
        issued = await _web_call(a, tenant)
        running = await _running_call(a, tenant, a_node)
        # A call from before calls had nodes: no live node holds it.
        legacy = await _running_call(a, tenant, None)
        assert (await _calls(a, issued))[issued].node_id == a_node

        b_time = WallTime(a_time.now + EXPIRY - timedelta(seconds=1))
        async with node_app(settings, b_time) as b:
            assert b.state.callwright.node.id != a_node
            assert await b.state.callwright.node.sweep() == 0  # the start-up one ran already
            calls = await _calls(b, issued, running, legacy)
        assert calls[issued].status == CallStatus.QUEUED
        assert calls[issued].stream_nonce is not None  # its token still opens the stream
        assert calls[running].status == CallStatus.IN_PROGRESS
        assert (calls[legacy].status, calls[legacy].end_reason) == ("ended", "server-restarted")
        assert calls[legacy].ended_at == b_time.now


async def test_a_dead_nodes_calls_are_ended_at_its_last_heartbeat(settings: Settings) -> None:
    a_time = WallTime(utcnow())
    async with node_app(settings, a_time) as a:
        tenant = await make_tenant(a)
        a_node = a.state.callwright.node
        # Its webhooks go nowhere (a closed port): they wait in the outbox.
        issued = await _web_call(a, tenant, webhook_url="http://127.0.0.1:9/hook")
        running = await _running_call(a, tenant, a_node.id)
        said = [{"role": "assistant", "text": "Hello."}, {"role": "user", "text": "Hi."}]
        async with a.state.callwright.session_factory.begin() as db:
            assert await save_progress(db, running, CallProgress(said, [], [], [{"turn": 1}]))
        a_time.now = utcnow() + timedelta(seconds=1)
        await a_node.beat()
        last_beat = a_time.now

        b_time = WallTime(last_beat + EXPIRY / 2)
        async with node_app(settings, b_time) as b:
            b_node = b.state.callwright.node
            assert await b_node.sweep() == 0
            # A falls silent (hung, or killed): past the expiry B's sweep ends its calls.
            b_time.now = last_beat + EXPIRY + timedelta(seconds=1)
            assert await b_node.sweep() == 2
            calls = await _calls(b, issued, running)
            for call in calls.values():
                assert (call.status, call.end_reason) == ("ended", "server-restarted")
                assert call.ended_at == last_beat
                assert call.stream_nonce is None  # the issued call can no longer connect
            # What the running call saved as it went is its record.
            assert (calls[running].messages, calls[running].turns) == (said, [{"turn": 1}])
            # The call with a webhook URL gets its closing webhooks, queued by the sweep.
            async with b.state.callwright.session_factory() as db:
                sent = (
                    await db.execute(
                        select(WebhookEvent.event_type).where(WebhookEvent.call_id == issued)
                    )
                ).scalars()
                assert sorted(sent) == ["end-of-call-report", "status-update"]
            # A holds nothing now, so its row is gone; A, alive after all, joins again.
            async with b.state.callwright.session_factory() as db:
                assert await db.get(Node, a_node.id) is None
            await a_node.beat()
            async with b.state.callwright.session_factory() as db:
                assert await db.get(Node, a_node.id) is not None
            assert await b_node.sweep() == 0


async def test_a_stopped_nodes_calls_are_swept_by_the_next_start(settings: Settings) -> None:
    a_time = WallTime(utcnow())
    async with node_app(settings, a_time) as a:
        tenant = await make_tenant(a)
        # A call the process did not get to finish (its record not written).
        left_open = await _running_call(a, tenant, a.state.callwright.node.id)
        a_time.now = utcnow() + timedelta(seconds=1)
    stopped_at = a_time.now
    # A stopped cleanly: its node is gone at once, whatever its heartbeat says.
    async with node_app(settings, WallTime(stopped_at + timedelta(seconds=2))) as b:
        call = (await _calls(b, left_open))[left_open]
    assert (call.status, call.end_reason, call.ended_at) == (
        "ended",
        "server-restarted",
        stopped_at,
    )


async def test_two_sweeps_at_once_end_each_call_once(settings: Settings) -> None:
    a_time = WallTime(utcnow())
    async with node_app(settings, a_time) as a:
        tenant = await make_tenant(a)
        ids = [await _running_call(a, tenant, a.state.callwright.node.id) for _ in range(30)]
        a_time.now = utcnow() + timedelta(seconds=1)
        await a.state.callwright.node.beat()
        later = WallTime(a_time.now + EXPIRY / 2)
        async with node_app(settings, later) as b, node_app(settings, later) as c:
            later.now = a_time.now + EXPIRY + timedelta(seconds=1)
            ended = await asyncio.gather(
                b.state.callwright.node.sweep(), c.state.callwright.node.sweep()
            )
            assert sum(ended) == len(ids)
            calls = await _calls(b, *ids)
        assert {(c.status, c.ended_at) for c in calls.values()} == {("ended", a_time.now)}


async def _admin_nodes(settings: Settings, *options: str) -> str:
    """``callwright admin nodes``, the real command on the test's database."""
    env = environment(settings.resolved_database_url, settings.data_dir)
    process = await asyncio.create_subprocess_exec(
        CALLWRIGHT,
        "admin",
        "nodes",
        *options,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


async def _nodes_listed(settings: Settings) -> dict[str, dict[str, object]]:
    rows = [json.loads(line) for line in (await _admin_nodes(settings, "--json")).splitlines()]
    return {str(row["id"]): row for row in rows}


async def test_a_draining_node_leaves_the_fleets_capacity_its_calls_still_count(
    settings: Settings,
) -> None:
    """A node that drains is recorded as such (and stays so across its heartbeats): the
    fleet lists it out of its capacity, while the call it holds is live — never swept,
    and still counted against its organization's limit until it ends."""
    a_time = WallTime(utcnow())
    async with node_app(settings, a_time) as a, node_app(settings, a_time) as b:
        tenant = await make_tenant(a)
        a_node, b_node = a.state.callwright.node, b.state.callwright.node
        transport = httpx.ASGITransport(app=b)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://t", headers=tenant.headers
        ) as api:
            limited = await api.patch("/api/v1/organization", json={"max_concurrent_calls": 1})
            assert limited.status_code == 200, limited.text
            assistant = await api.post("/api/v1/assistants", json={"name": "Fleet"})
            held = await _running_call(a, tenant, a_node.id)

            drained_at = a_time.now
            await a_node.drain()
            a_time.now += timedelta(seconds=5)
            await a_node.beat()
            await a_node.drain()  # once begun, the drain keeps its start
            assert await b_node.sweep() == 0
            refused = await api.post(
                "/api/v1/calls/web", json={"assistant_id": assistant.json()["id"]}
            )
            listed = await _nodes_listed(settings)
            summary = (await _admin_nodes(settings)).splitlines()[-1]
            calls = await _calls(b, held)

    draining = listed[a_node.id]
    assert a_node.draining_since == drained_at
    assert (draining["state"], draining["calls"]) == ("draining", 1)
    assert datetime.fromisoformat(str(draining["draining_since"])) == drained_at
    assert (listed[b_node.id]["state"], listed[b_node.id]["draining_since"]) == (
        "taking-calls",
        None,
    )
    assert summary == "1 node(s) taking calls; 1 draining with 1 call(s) still up"
    assert refused.status_code == 429, refused.text  # the draining node's call holds it
    assert refused.json()["code"] == "organization_call_limit"
    assert calls[held].status == CallStatus.IN_PROGRESS  # live, not swept
