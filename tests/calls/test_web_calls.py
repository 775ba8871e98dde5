"""Browser calls over their WebSocket (without a browser: tests/browser drives the
playground in Chromium), call records, maintain_context, capacity and crash recovery."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import websockets

from callwright.api.app import create_app
from callwright.domain.calls.repository import consume_stream_nonce, new_call
from callwright.engine.session_providers import SessionProviders
from callwright.providers.fakes import speech
from callwright.runtime.registry import ProviderChoice, ProviderFactory
from callwright.settings import Settings
from callwright.store.models import Call
from tests.calls.harness import API_TIMEOUT, FakeProviders, PhoneLab, phone_lab
from tests.conftest import Tenant, make_tenant
from tests.webhooks.receiver import Receiver


@dataclass
class Page:
    """A browser tab's side of the socket: 20 ms frames in real time, playback echoed."""

    websocket: Any
    messages: list[dict[str, Any]] = field(default_factory=list)
    audio_bytes: int = 0
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    async def listen(self) -> None:
        try:
            async for raw in self.websocket:
                if isinstance(raw, bytes):
                    self.audio_bytes += len(raw)
                    continue
                message = json.loads(raw)
                self.messages.append(message)
                if message["type"] == "mark":  # played at once: echo it
                    await self.websocket.send(json.dumps({"type": "mark", "name": message["name"]}))
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed.set()

    def transcripts(self, role: str) -> list[str]:
        return [
            m["text"]
            for m in self.messages
            if m["type"] == "transcript" and m["role"] == role and m["final"]
        ]

    async def send_audio(self, pcm16: bytes) -> None:
        start = time.monotonic()
        for index, offset in enumerate(range(0, len(pcm16), 640)):
            if self.closed.is_set():
                return
            await self.websocket.send(pcm16[offset : offset + 640])
            delay = start + (index + 1) * 0.02 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    async def wait_for(self, done: Any, limit_s: float = 15) -> None:
        deadline = time.monotonic() + limit_s
        while not done():
            assert time.monotonic() < deadline, self.messages
            await self.send_audio(bytes(3200))  # 100 ms of silence


@asynccontextmanager
async def open_page(ws_url: str) -> AsyncIterator[Page]:
    async with websockets.connect(ws_url) as websocket:
        page = Page(websocket)
        async with asyncio.TaskGroup() as group:
            listening = group.create_task(page.listen())
            try:
                yield page
            finally:
                await websocket.close()
                await asyncio.wait({listening}, timeout=5)


async def _assistant(lab: PhoneLab, tenant: Tenant, **settings: Any) -> int:
    async with httpx.AsyncClient(
        timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
    ) as api:
        response = await api.post(
            "/api/v1/assistants",
            json={
                "name": "Web",
                "llm_settings": {"welcome_message": "Hello {{name | default: 'there'}}."},
                "idle_timeout": None,
                **settings,
            },
        )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def _start(lab: PhoneLab, tenant: Tenant, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(
        timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
    ) as api:
        return await api.post("/api/v1/calls/web", json=body)


async def _ended(lab: PhoneLab, tenant: Tenant, call_id: int) -> dict[str, Any]:
    async with httpx.AsyncClient(
        timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
    ) as api:
        deadline = time.monotonic() + 10
        while True:
            record: dict[str, Any] = (await api.get(f"/api/v1/calls/{call_id}")).json()
            if record["status"] == "ended":
                return record
            assert time.monotonic() < deadline, record
            await asyncio.sleep(0.05)


async def test_web_call_transcript_and_record(settings: Settings) -> None:
    providers = FakeProviders(utterances=("Do you deliver?",), replies=["Yes, every day."])
    async with phone_lab(settings, providers) as lab:
        tenant = await make_tenant(lab.app)
        assistant_id = await _assistant(lab, tenant)
        started = await _start(
            lab, tenant, {"assistant_id": assistant_id, "variables": {"name": "Ada"}}
        )
        assert started.status_code == 201, started.text
        body = started.json()
        assert body["ws_url"].startswith(lab.ws_base + "/api/v1/calls/web/stream?token=")
        async with open_page(body["ws_url"]) as page:
            await page.wait_for(lambda: page.transcripts("assistant") == ["Hello Ada."])
            await page.send_audio(speech(1.0))
            await page.wait_for(lambda: len(page.transcripts("assistant")) == 2)
            await page.websocket.send(json.dumps({"type": "hangup"}))
            await asyncio.wait_for(page.closed.wait(), 5)
        assert page.messages[0] == {"type": "call-started", "call_id": body["call_id"]}
        assert page.transcripts("user") == ["Do you deliver?"]
        assert page.audio_bytes > 16000  # over half a second of the assistant's voice
        assert page.messages[-1] == {"type": "call-ended", "reason": "customer-ended-call"}
        record = await _ended(lab, tenant, body["call_id"])
        assert (record["type"], record["direction"]) == ("webCall", "web")
        assert [m["text"] for m in record["messages"]] == [
            "Hello Ada.",
            "Do you deliver?",
            "Yes, every day.",
        ]
        assert record["recording_url"] == f"/api/v1/calls/{body['call_id']}/recording"
        # The process metrics saw the call, its turns and the HTTP requests.
        async with httpx.AsyncClient(base_url=lab.base_url) as anonymous:
            exposition = (await anonymous.get("/metrics")).text
        assert 'callwright_calls_ended_total{end_reason="customer-ended-call",type="webCall"}' in (
            exposition
        )
        assert "callwright_turn_stage_seconds_bucket" in exposition
        assert 'route="/api/v1/calls/web"' in exposition
        # The token was single-use.
        with pytest.raises(websockets.InvalidStatus):
            async with websockets.connect(body["ws_url"]):
                pass


async def test_a_dropped_socket_still_finishes_the_record(settings: Settings) -> None:
    async with phone_lab(settings, FakeProviders()) as lab:
        tenant = await make_tenant(lab.app)
        body = (await _start(lab, tenant, {"assistant_id": await _assistant(lab, tenant)})).json()
        async with open_page(body["ws_url"]) as page:
            await page.wait_for(lambda: page.audio_bytes > 0)
            page.websocket.transport.abort()  # no close frame: the network just went away
        record = await _ended(lab, tenant, body["call_id"])
        assert record["end_reason"] == "transport-dropped"


async def test_the_socket_closes_before_the_record_is_written(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the database away the final record waits (retried until it is back); the
    browser caller whose call ended gets the call-ended notice and a closed socket
    without waiting for it."""
    async with phone_lab(settings, FakeProviders()) as lab:
        tenant = await make_tenant(lab.app)
        records = lab.app.state.callwright.calls._records
        written, release = asyncio.Event(), asyncio.Event()
        finish = records.finish

        async def held(*args: Any, **kwargs: Any) -> None:
            await release.wait()  # the database is away
            await finish(*args, **kwargs)
            written.set()

        monkeypatch.setattr(records, "finish", held)
        body = (await _start(lab, tenant, {"assistant_id": await _assistant(lab, tenant)})).json()
        async with open_page(body["ws_url"]) as page:
            await page.wait_for(lambda: page.transcripts("assistant") == ["Hello there."])
            await page.websocket.send(json.dumps({"type": "hangup"}))
            await asyncio.wait_for(page.closed.wait(), 30)  # a safety bound only
            assert not written.is_set()  # closed while the record still waits
        assert page.messages[-1] == {"type": "call-ended", "reason": "customer-ended-call"}
        release.set()
        await asyncio.wait_for(written.wait(), 30)
        record = await _ended(lab, tenant, body["call_id"])
        assert record["end_reason"] == "customer-ended-call"


async def test_maintain_context_carries_the_same_callers_last_call(settings: Settings) -> None:
    """With maintain_context, a phone caller's previous call with the assistant is in
    the model's context; without it, it is not."""
    providers = FakeProviders(utterances=("Hello again.",), replies=["Welcome back."])
    async with phone_lab(settings, providers) as lab:
        tenant = await make_tenant(lab.app)
        runtime = lab.app.state.callwright.calls
        for maintain, expect_history in ((True, True), (False, False)):
            assistant_id = await _assistant(lab, tenant, maintain_context=maintain)
            async with lab.app.state.callwright.session_factory() as db:
                earlier = new_call(
                    organization_id=tenant.organization_id,
                    user_id=tenant.user_id,
                    assistant_id=assistant_id,
                    type="inboundPhoneCall",
                    status="ended",
                    node_id=lab.app.state.callwright.node.id,
                    from_number="+14155550100",
                )
                earlier.messages = [
                    {"role": "assistant", "text": "Hello there."},
                    {"role": "user", "text": "My order number is 4417."},
                ]
                current = new_call(
                    organization_id=tenant.organization_id,
                    user_id=tenant.user_id,
                    assistant_id=assistant_id,
                    type="inboundPhoneCall",
                    status="ringing",
                    node_id=lab.app.state.callwright.node.id,
                    from_number="+14155550100",
                )
                stranger = new_call(
                    organization_id=tenant.organization_id,
                    user_id=tenant.user_id,
                    assistant_id=assistant_id,
                    type="inboundPhoneCall",
                    status="ringing",
                    node_id=lab.app.state.callwright.node.id,
                    from_number="+14155550111",
                )
                db.add_all([earlier, current, stranger])
                await db.commit()
            prepared = await runtime.prepare(current.id)
            texts = [m.content for m in prepared.previous]
            assert ("My order number is 4417." in texts) is expect_history
            assert (await runtime.prepare(stranger.id)).previous == ()


async def test_capacity_refuses_new_calls_cleanly(settings: Settings) -> None:
    async with phone_lab(settings, FakeProviders(), max_concurrent_calls=1) as lab:
        tenant = await make_tenant(lab.app)
        assistant_id = await _assistant(lab, tenant)
        first = (await _start(lab, tenant, {"assistant_id": assistant_id})).json()
        # Issued but not yet connected, the first call already holds the only place.
        burst = await _start(lab, tenant, {"assistant_id": assistant_id})
        assert burst.status_code == 503
        async with open_page(first["ws_url"]) as page:
            await page.wait_for(lambda: page.audio_bytes > 0)
            refused = await _start(lab, tenant, {"assistant_id": assistant_id})
            assert refused.status_code == 503
            assert refused.json()["code"] == "busy"
            assert page.audio_bytes > 0
            assert not page.closed.is_set()


async def test_a_place_is_given_back_when_the_stream_reaches_another_worker(
    settings: Settings,
) -> None:
    """With several workers on one port the stream of a call issued here may connect to
    a sibling: after the next heartbeat this process no longer holds a place for it."""
    async with phone_lab(settings, FakeProviders(), max_concurrent_calls=1) as lab:
        tenant = await make_tenant(lab.app)
        assistant_id = await _assistant(lab, tenant)
        first = (await _start(lab, tenant, {"assistant_id": assistant_id})).json()
        runtime = lab.app.state.callwright.calls
        assert await runtime.settle_places() == 0  # still waiting for its stream
        assert (await _start(lab, tenant, {"assistant_id": assistant_id})).status_code == 503
        async with lab.app.state.callwright.session_factory.begin() as db:
            nonce = (await db.get(Call, int(first["call_id"]))).stream_nonce  # type: ignore[union-attr]
            assert nonce is not None
            # What a sibling worker does when the stream reaches it.
            assert await consume_stream_nonce(db, int(first["call_id"]), nonce, "sibling-worker")
        assert await runtime.settle_places() == 1
        assert (await _start(lab, tenant, {"assistant_id": assistant_id})).status_code == 201


class _SlowToStart(FakeProviders):
    """Providers whose set-up waits for ``go``: a call connected but still starting."""

    def __init__(self) -> None:
        super().__init__()
        self.starting = asyncio.Event()
        self.go = asyncio.Event()

    def factory(self) -> ProviderFactory:
        build = super().factory()

        async def slow(
            settings: Any, organization_id: int, sample_rate: int
        ) -> tuple[SessionProviders, list[ProviderChoice]]:
            self.starting.set()
            await self.go.wait()
            return await build(settings, organization_id, sample_rate)

        return slow


async def test_a_call_still_starting_keeps_its_place(settings: Settings) -> None:
    providers = _SlowToStart()
    async with phone_lab(settings, providers, max_concurrent_calls=1) as lab:
        tenant = await make_tenant(lab.app)
        assistant_id = await _assistant(lab, tenant)
        first = (await _start(lab, tenant, {"assistant_id": assistant_id})).json()
        async with open_page(first["ws_url"]) as page:
            await asyncio.wait_for(providers.starting.wait(), 10)
            # Connected, its session not yet running: the place is still taken.
            refused = await _start(lab, tenant, {"assistant_id": assistant_id})
            assert refused.status_code == 503
            providers.go.set()
            await page.wait_for(lambda: page.audio_bytes > 0)
            assert (await _start(lab, tenant, {"assistant_id": assistant_id})).status_code == 503


async def test_call_records_are_filtered_and_isolated(settings: Settings) -> None:
    async with phone_lab(settings, FakeProviders()) as lab:
        tenant = await make_tenant(lab.app)
        other = await make_tenant(lab.app, "Globex")
        a = await _assistant(lab, tenant)
        b = await _assistant(lab, tenant)
        ids = [
            (await _start(lab, tenant, {"assistant_id": x})).json()["call_id"] for x in (a, b, a)
        ]
        async with httpx.AsyncClient(
            timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
        ) as api:
            listed = (await api.get("/api/v1/calls", params={"assistant_id": a})).json()
            assert [c["id"] for c in listed] == [ids[2], ids[0]]  # newest first
            assert len((await api.get("/api/v1/calls", params={"direction": "web"})).json()) == 3
            assert (await api.get("/api/v1/calls", params={"direction": "inbound"})).json() == []
            assert len((await api.get("/api/v1/calls", params={"status": "queued"})).json()) == 3
            page = (await api.get("/api/v1/calls", params={"skip": 1, "limit": 1})).json()
            assert [c["id"] for c in page] == [ids[1]]
            bad = await api.get("/api/v1/calls", params={"direction": "sideways"})
            assert bad.status_code == 422
            missing = await api.get(f"/api/v1/calls/{ids[0]}/recording")
            assert missing.status_code == 404
        async with httpx.AsyncClient(
            timeout=API_TIMEOUT, base_url=lab.base_url, headers=other.headers
        ) as api:
            assert (await api.get("/api/v1/calls")).json() == []
            assert (await api.get(f"/api/v1/calls/{ids[0]}")).status_code == 404
            assert (await api.post(f"/api/v1/calls/{ids[0]}/end")).status_code == 404
            refused = await api.post("/api/v1/calls/web", json={"assistant_id": a})
            assert refused.status_code == 422


async def test_an_llm_failure_is_a_sentence_and_the_record_says_so(settings: Settings) -> None:
    """Issue 13, finding 6, end to end: every LLM failing is error_message (marked in the
    record), the call goes on; the failure after max_error_messages ends the call with
    its own reason, after end_call_message."""
    from callwright.providers.errors import ProviderUnavailable

    sorry = "Sorry, a glitch. Say that again?"
    providers = FakeProviders(
        utterances=("Hello?", "Hello again?"),
        replies=[ProviderUnavailable("openai", "HTTP 503")] * 2,
    )
    async with phone_lab(settings, providers) as lab:
        tenant = await make_tenant(lab.app)
        assistant_id = await _assistant(
            lab, tenant, error_message=sorry, max_error_messages=1, end_call_message="Goodbye."
        )
        body = (await _start(lab, tenant, {"assistant_id": assistant_id})).json()
        async with open_page(body["ws_url"]) as page:
            await page.wait_for(lambda: page.audio_bytes > 0)
            await page.send_audio(speech(1.0))
            await page.wait_for(lambda: sorry in page.transcripts("assistant"))
            await page.send_audio(speech(1.0))
            await page.wait_for(lambda: page.closed.is_set())
        assert page.messages[-1] == {"type": "call-ended", "reason": "pipeline-error-llm-failed"}
        record = await _ended(lab, tenant, body["call_id"])
        assert record["end_reason"] == "pipeline-error-llm-failed"
        assert record["end_detail"] == "openai: HTTP 503"
        said = [(m["text"], m.get("apology_for")) for m in record["messages"]]
        assert said == [
            ("Hello there.", None),
            ("Hello?", None),
            (sorry, "openai: HTTP 503"),
            ("Hello again?", None),
            ("Goodbye.", None),
        ]
        failed = [row["llm_errors"] for row in record["turns"] if row["turn"]]
        assert failed == [[{"provider": "scripted-llm", "error": "HTTP 503"}]] * 2
        async with httpx.AsyncClient(base_url=lab.base_url) as anonymous:
            exposition = (await anonymous.get("/metrics")).text
        assert 'callwright_provider_errors_total{kind="llm",provider="scripted-llm"}' in exposition


async def test_server_shutdown_finishes_open_calls(settings: Settings) -> None:
    async with phone_lab(settings, FakeProviders()) as lab:
        tenant = await make_tenant(lab.app)
        body = (await _start(lab, tenant, {"assistant_id": await _assistant(lab, tenant)})).json()
        websocket = await websockets.connect(body["ws_url"])
        page = Page(websocket)
        listening = asyncio.create_task(page.listen())
        await page.wait_for(lambda: page.audio_bytes > 0)
    # The server has shut down with the call open.
    await asyncio.wait_for(listening, 5)
    await websocket.close()
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as api:
            record = (
                await api.get(f"/api/v1/calls/{body['call_id']}", headers=tenant.headers)
            ).json()
    assert (record["status"], record["end_reason"]) == ("ended", "server-shutdown")


async def test_a_live_calls_record_lists_the_knowledge_it_used(settings: Settings) -> None:
    """rag_settings act in live calls as in simulated ones: the caller's question
    retrieves the passage, the model's request carries it, the record lists it."""
    from tests.knowledge.conftest import (
        add_text,
        create_assistant,
        install_embedder,
        wait_processed,
    )

    providers = FakeProviders(
        utterances=("Where is the serial number on the Aurora machine?",),
        replies=["Under the drip tray."],
    )
    async with phone_lab(settings, providers) as lab:
        install_embedder(lab.app)
        tenant = await make_tenant(lab.app)
        async with httpx.AsyncClient(base_url=lab.base_url) as api:
            assistant = await create_assistant(api, tenant, similarity_threshold=0.2)
            document = await add_text(
                api,
                tenant,
                assistant["id"],
                "The serial number of the Aurora machine is on a sticker under the drip "
                "tray.\n\nOur shop opens at nine.",
            )
            assert (await wait_processed(api, tenant, assistant["id"], document["id"]))[
                "status"
            ] == "ready"
        body = (await _start(lab, tenant, {"assistant_id": assistant["id"]})).json()
        async with open_page(body["ws_url"]) as page:
            await page.send_audio(speech(1.0))
            await page.wait_for(lambda: bool(page.transcripts("assistant")))
            await page.websocket.send(json.dumps({"type": "hangup"}))
        record = await _ended(lab, tenant, body["call_id"])
        (used,) = record["knowledge"]
        assert used["query"] == "Where is the serial number on the Aurora machine?"
        assert "drip tray" in used["passages"][0]["text"]
        assert used["passages"][0]["document_id"] == document["id"]
        assert providers.llm is not None
        sent = "\n".join(m.content or "" for m in providers.llm.requests[0].messages)
        assert "drip tray" in sent


async def test_is_active_false_refuses_a_web_call(settings: Settings) -> None:
    async with phone_lab(settings, FakeProviders()) as lab:
        tenant = await make_tenant(lab.app)
        assistant_id = await _assistant(lab, tenant, is_active=False)
        refused = await _start(lab, tenant, {"assistant_id": assistant_id})
        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "conflict"
        assert f"assistant {assistant_id} is not active" in refused.json()["error"]
        async with httpx.AsyncClient(
            timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
        ) as api:
            assert (await api.get("/api/v1/calls")).json() == []
            await api.patch(f"/api/v1/assistants/{assistant_id}", json={"is_active": True})
        assert (await _start(lab, tenant, {"assistant_id": assistant_id})).status_code == 201


async def test_metadata_and_custom_settings_reach_templates_record_and_webhooks(
    settings: Settings,
) -> None:
    """The assistant's ``metadata`` and ``custom_settings`` fill ``{{…}}`` in the welcome
    message and the prompt, and the call record and every webhook carry them (on
    ``call.assistant``, where Vapi puts an assistant's metadata)."""
    providers = FakeProviders(utterances=("Which plan am I on?",), replies=["The gold one."])
    receiver = Receiver()
    async with receiver.serving(), phone_lab(settings, providers) as lab:
        tenant = await make_tenant(lab.app)
        assistant_id = await _assistant(
            lab,
            tenant,
            llm_settings={
                "welcome_message": "Welcome to the {{metadata.plan}} line.",
                "system_prompt": "Speak {{custom_settings.tone | default: 'plainly'}}.",
            },
            metadata={"plan": "gold", "crm": {"id": 7}},
            custom_settings={"tone": "warmly"},
            webhook_url=receiver.url,
        )
        body = (await _start(lab, tenant, {"assistant_id": assistant_id})).json()
        async with open_page(body["ws_url"]) as page:
            await page.wait_for(lambda: page.transcripts("assistant") != [])
            assert page.transcripts("assistant") == ["Welcome to the gold line."]
            await page.send_audio(speech(1.0))
            await page.wait_for(lambda: len(page.transcripts("assistant")) == 2)
            await page.websocket.send(json.dumps({"type": "hangup"}))
            await asyncio.wait_for(page.closed.wait(), 5)
        assert providers.llm is not None
        system = providers.llm.requests[0].messages[0]
        assert (system.role, system.content) == ("system", "Speak warmly.")
        record = await _ended(lab, tenant, body["call_id"])
        expected = {
            "name": "Web",
            "metadata": {"plan": "gold", "crm": {"id": 7}},
            "custom_settings": {"tone": "warmly"},
        }
        assert record["assistant"] == expected
        deadline = time.monotonic() + 10
        while not any(r.event_type == "end-of-call-report" for r in receiver.requests):
            assert time.monotonic() < deadline, receiver.requests
            await asyncio.sleep(0.05)
    kinds = {r.event_type for r in receiver.requests}
    assert {"status-update", "transcript", "end-of-call-report"} <= kinds
    for request in receiver.requests:
        assert request.payload["message"]["call"]["assistant"] == {
            "name": "Web",
            "metadata": {"plan": "gold", "crm": {"id": 7}},
            "customSettings": {"tone": "warmly"},
        }, request.event_type


async def test_the_record_is_saved_after_each_turn_while_the_call_goes_on(
    settings: Settings,
) -> None:
    providers = FakeProviders(utterances=("Do you deliver?",), replies=["Yes, every day."])
    async with phone_lab(settings, providers) as lab:
        tenant = await make_tenant(lab.app)
        assistant_id = await _assistant(lab, tenant)
        started = (await _start(lab, tenant, {"assistant_id": assistant_id})).json()
        async with open_page(started["ws_url"]) as page:
            await page.wait_for(lambda: len(page.transcripts("assistant")) == 1)
            await page.send_audio(speech(1.0))
            await page.wait_for(lambda: len(page.transcripts("assistant")) == 2)
            # Still talking (a crash now would lose nothing said so far): the row has
            # the transcript and the answered turn's timings.
            async with httpx.AsyncClient(
                timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
            ) as api:
                deadline = time.monotonic() + 10
                while True:
                    record = (await api.get(f"/api/v1/calls/{started['call_id']}")).json()
                    if len(record["messages"]) == 3 and record["turns"]:
                        break
                    assert time.monotonic() < deadline, record
                    await page.send_audio(bytes(3200))
            assert record["status"] == "in-progress"
            assert [m["text"] for m in record["messages"]] == [
                "Hello there.",
                "Do you deliver?",
                "Yes, every day.",
            ]
            assert record["turns"][-1]["turn"] == 1
