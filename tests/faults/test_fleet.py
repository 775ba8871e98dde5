"""Several server processes on one PostgreSQL and one Redis, and the faults a fleet
meets: a call controlled through another node, a node restarted beside live calls, a
node killed mid-call (SIGKILL: its call is swept by another with its transcript,
partial recording, end-of-call report and end_call_url POST), PostgreSQL and Redis
unreachable mid-call (a TCP proxy cut, never the real services), and a webhook
receiver down for a while."""

from __future__ import annotations

import asyncio
import wave
from io import BytesIO

import pytest

from callwright.providers.fakes import speech
from tests.faults.conftest import REDIS_URL, Fleet
from tests.faults.fleet import (
    api,
    ended_record,
    eventually,
    make_assistant,
    make_tenant,
    open_page,
    record_of,
    start_web_call,
)
from tests.support.faultproxy import fault_proxy
from tests.webhooks.receiver import Receiver

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

GREETING = "Hello there."


async def test_a_call_lives_on_its_node_whatever_the_other_does(fleet: Fleet) -> None:
    a, b = fleet.node("a"), fleet.node("b")
    await a.start()
    await b.start()
    tenant = await make_tenant(fleet.database_url)
    assistant_id = await make_assistant(a, tenant)
    started = await start_web_call(a, tenant, assistant_id)
    call_id = started["call_id"]
    async with open_page(started["ws_url"]) as page:
        await page.until(lambda: page.said("assistant") == [GREETING], "the greeting")
        # B restarted (the caller's line carrying silence meanwhile, as a phone's
        # does): its start-up sweep leaves A's live call alone.
        restarted = asyncio.Event()

        async def restart_b() -> None:
            await b.stop()
            await b.start()
            restarted.set()

        async with asyncio.TaskGroup() as group:
            group.create_task(restart_b())
            await page.until(restarted.is_set, "B to restart")
        record = await record_of(b, tenant, call_id)
        assert record["status"] == "in-progress", record
        await page.send_audio(speech(1.0))
        await page.until(lambda: len(page.said("assistant")) == 2, "an answer after B's restart")
        assert page.said("assistant")[1] == "Yes, every day."
        # Ended through B: the command reaches A, which holds the call.
        async with api(b, tenant) as client:
            response = await client.post(f"/api/v1/calls/{call_id}/end")
        assert response.status_code == 200, response.text
        await page.until_found(lambda: _closed(page.closed.is_set()), "the socket to close")
    record = await ended_record(b, tenant, call_id)
    assert record["end_reason"] == "manually-canceled"
    assert [m["text"] for m in record["messages"]][:3] == [
        GREETING,
        "Do you deliver?",
        "Yes, every day.",
    ]


async def _closed(flag: bool) -> bool | None:
    return True if flag else None


async def test_a_killed_nodes_call_is_swept_with_its_record(
    fleet: Fleet, receiver: Receiver
) -> None:
    a, b = fleet.node("a"), fleet.node("b")
    await a.start()
    await b.start()
    tenant = await make_tenant(fleet.database_url)
    assistant_id = await make_assistant(
        a, tenant, webhook_url=receiver.url, end_call_url=receiver.url + "/ended"
    )
    started = await start_web_call(a, tenant, assistant_id)
    call_id = started["call_id"]

    async def turn_saved() -> bool | None:
        record = await record_of(b, tenant, call_id)
        return True if len(record["messages"]) == 3 and record["turns"] else None

    async with open_page(started["ws_url"]) as page:
        await page.until(lambda: page.said("assistant") == [GREETING], "the greeting")
        await page.send_audio(speech(1.0))
        await page.until(lambda: len(page.said("assistant")) == 2, "the answer")
        await page.until_found(turn_saved, "the turn to be saved")
        a.kill()
    record = await ended_record(b, tenant, call_id)
    assert record["end_reason"] == "server-restarted"
    assert [m["text"] for m in record["messages"]] == [
        GREETING,
        "Do you deliver?",
        "Yes, every day.",
    ]
    assert record["turns"][-1]["turn"] == 1
    assert record["duration_seconds"] > 0
    assert record["recording_url"] is not None
    async with api(b, tenant) as client:
        recording = await client.get(record["recording_url"])
    assert recording.status_code == 200
    with wave.open(BytesIO(recording.content)) as wav:
        assert wav.getnchannels() == 2
        assert wav.getnframes() > 16000  # the greeting and the caller's second of speech

    async def closing_hooks() -> dict[str, dict[str, object]] | None:
        delivered = {r.event_type: r.payload for r in receiver.requests if r.status == 200}
        if {"end-of-call-report", "call-ended"} <= delivered.keys():
            return delivered
        return None

    delivered = await eventually(closing_hooks, "the end-of-call report and end_call_url POST")
    report = delivered["end-of-call-report"]["message"]
    assert isinstance(report, dict)
    assert "Do you deliver?" in report["transcript"]
    assert report["endedReason"] == "server-restarted"
    assert delivered["call-ended"]["endedReason"] == "server-restarted"
    assert delivered["call-ended"]["call"] == {
        "id": str(call_id),
        "type": "webCall",
        "assistantId": assistant_id,
    }


async def test_calls_go_on_while_postgres_and_redis_are_unreachable(
    fleet: Fleet, receiver: Receiver
) -> None:
    with (
        fault_proxy("127.0.0.1", 5432) as postgres,
        fault_proxy("127.0.0.1", int(REDIS_URL.rsplit(":", 1)[1].split("/")[0])) as redis,
    ):
        through = fleet.database_url.replace("127.0.0.1:5432", f"127.0.0.1:{postgres.port}")
        c = fleet.node("c", database_url=through, redis_url=f"redis://127.0.0.1:{redis.port}/0")
        await c.start()
        tenant = await make_tenant(fleet.database_url)
        assistant_id = await make_assistant(c, tenant, webhook_url=receiver.url)
        started = await start_web_call(c, tenant, assistant_id)
        call_id = started["call_id"]
        async with open_page(started["ws_url"]) as page:
            await page.until(lambda: page.said("assistant") == [GREETING], "the greeting")
            # Redis away: rate limits let requests through, and the call's own node
            # carries out a command without the relay.
            redis.cut()
            async with api(c, tenant) as client:
                response = await client.post(
                    f"/api/v1/calls/{call_id}/say", json={"message": "Still here."}
                )
            assert response.status_code == 200, response.text
            await page.until(lambda: "Still here." in page.said("assistant"), "the message")
            redis.restore()
            # PostgreSQL away: the call goes on, a whole turn heard and answered.
            postgres.cut()
            await page.send_audio(speech(1.0))
            await page.until(lambda: "Yes, every day." in page.said("assistant"), "an answer")
            await page.until(lambda: "could not be saved" in c.log(), "a failed save")
        # The caller hangs up with the database still away: the record waits for it.
        await eventually(
            lambda: _closed("its record could not be written" in c.log()), "a failed record"
        )
        postgres.restore()
        record = await ended_record(c, tenant, call_id)
        assert record["end_reason"] == "transport-dropped"  # the page closed its socket
        assert [m["text"] for m in record["messages"]] == [
            GREETING,
            "Still here.",
            "Do you deliver?",
            "Yes, every day.",
        ]
        assert record["turns"]
        assert record["recording_url"] is not None

        async def every_line_delivered() -> set[str] | None:
            lines = {
                r.payload["message"].get("transcript", "")
                for r in receiver.requests
                if r.event_type == "transcript" and r.status == 200
            }
            reports = [r for r in receiver.requests if r.event_type == "end-of-call-report"]
            wanted = {"Do you deliver?", "Yes, every day."}
            return lines if wanted <= lines and reports else None

        await eventually(every_line_delivered, "the webhooks written after the outage")
        await c.stop()


async def test_a_webhook_receiver_down_for_a_while_gets_every_event(
    fleet: Fleet, receiver: Receiver
) -> None:
    a = fleet.node("a")
    await a.start()
    tenant = await make_tenant(fleet.database_url)
    assistant_id = await make_assistant(a, tenant, webhook_url=receiver.url)
    receiver.mode = "unavailable"
    started = await start_web_call(a, tenant, assistant_id)
    async with open_page(started["ws_url"]) as page:
        await page.until(lambda: page.said("assistant") == [GREETING], "the greeting")
    await ended_record(a, tenant, started["call_id"])

    async def refused_twice() -> bool | None:
        return True if sum(r.status == 503 for r in receiver.requests) >= 2 else None

    await eventually(refused_twice, "the receiver to refuse (and be retried)")
    receiver.mode = "ok"

    async def delivered() -> bool | None:
        types = {r.event_type for r in receiver.requests if r.status == 200}
        return True if {"status-update", "end-of-call-report"} <= types else None

    await eventually(delivered, "the report delivered once the receiver is back")
    refused = {r.event_id for r in receiver.requests if r.status == 503}
    assert refused <= set(receiver.accepted())  # every refused event came again, and went
