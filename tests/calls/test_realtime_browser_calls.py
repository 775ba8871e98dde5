"""The realtime done-when on a browser call, for each vendor's fake (issue 15): the
page hears the welcome, asks, is answered, talks over the long answer (OpenAI receives
a truncate, Gemini reports its own interruption) and the record keeps only the heard
part, the end-call tool runs and ends the call; the record, the recording and the
end-of-call webhook agree, as they do on the Twilio calls of
``test_realtime_calls.py`` and ``test_realtime_gemini_calls.py``."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import time
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pytest
import websockets

from callwright.providers.fakes import speech
from callwright.settings import Settings
from tests.calls.harness import API_TIMEOUT, FakeProviders, phone_lab
from tests.calls.realtime_helpers import GOODBYE, LONG, WELCOME, assert_end_of_call_report
from tests.calls.realtime_helpers import ended as _ended
from tests.calls.test_twilio_inbound import Receiver, receiver  # noqa: F401 (fixture)
from tests.calls.test_web_calls import Page
from tests.conftest import make_tenant
from tests.vendor_fakes import Reply, ScriptedCall, serve
from tests.vendor_fakes.gemini_live import GeminiLiveFake
from tests.vendor_fakes.openai_realtime import OpenAIRealtimeFake

HEARD = ("What are your opening hours?", "Thanks, that's all.")
OPENAI_KEY = "sk-server-realtime-key"
GEMINI_KEY = "gemini-server-realtime-key"
GEMINI = {
    "provider": "gemini",
    "model": "gemini-2.5-flash-native-audio-preview-12-2025",
    "voice": "Kore",
}


@dataclass
class PlayingPage(Page):
    """A page that plays the assistant's audio in real time (16 kHz PCM16) and echoes
    each mark once the audio before it has played; ``clear`` drops what is queued."""

    played_until: float = 0.0
    pending: list[tuple[float, str]] = field(default_factory=list)

    async def listen(self) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                echoing = group.create_task(self._echo_marks())
                with contextlib.suppress(websockets.ConnectionClosed):
                    async for raw in self.websocket:
                        self._hear(raw)
                echoing.cancel()  # the server closed the call
        finally:
            self.closed.set()

    def _hear(self, raw: str | bytes) -> None:
        now = time.monotonic()
        if isinstance(raw, bytes):
            self.audio_bytes += len(raw)
            self.played_until = max(now, self.played_until) + len(raw) / 32_000
            return
        message = json.loads(raw)
        self.messages.append(message)
        if message["type"] == "mark":
            self.pending.append((max(now, self.played_until), message["name"]))
        elif message["type"] == "clear":
            self.played_until = now
            self.pending = [(now, name) for _, name in self.pending]

    async def _echo_marks(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            while True:
                now = time.monotonic()
                due = [name for at, name in self.pending if at <= now]
                self.pending = [(at, name) for at, name in self.pending if at > now]
                for name in due:
                    await self.websocket.send(json.dumps({"type": "mark", "name": name}))
                await asyncio.sleep(0.01)


@asynccontextmanager
async def open_page(ws_url: str) -> AsyncIterator[PlayingPage]:
    async with websockets.connect(ws_url) as websocket:
        page = PlayingPage(websocket)
        listening = asyncio.create_task(page.listen())
        try:
            yield page
        finally:
            await websocket.close()
            await asyncio.wait({listening}, timeout=5)
            listening.cancel()


@pytest.mark.parametrize("vendor", ["openai", "gemini"])
async def test_a_realtime_browser_call_from_welcome_to_end_call(
    settings: Settings,
    receiver: Receiver,  # noqa: F811
    vendor: str,
) -> None:
    fake: Any
    if vendor == "openai":
        fake = OpenAIRealtimeFake(api_key=OPENAI_KEY, heard=HEARD, chunk_delay_s=0.05)
    else:
        fake = GeminiLiveFake(api_key=GEMINI_KEY, heard=HEARD, chunk_delay_s=0.05)
    fake.script(Reply((LONG,)), Reply(calls=(ScriptedCall("end_call", {}, id="call_end"),)))
    async with serve(fake.app) as url:
        fake.url = url + "/v1" if vendor == "openai" else url
        keys = (
            {"openai_api_key": OPENAI_KEY, "openai_base_url": fake.url}
            if vendor == "openai"
            else {"gemini_api_key": GEMINI_KEY, "gemini_base_url": fake.url}
        )
        server = settings.model_copy(
            update={
                **keys,
                "webhook_retry_base_delay_seconds": 0.2,
                "webhook_poll_interval_seconds": 0.2,
            }
        )
        async with phone_lab(server, FakeProviders()) as lab:
            tenant = await make_tenant(lab.app)
            async with httpx.AsyncClient(
                timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
            ) as api:
                assistant = await api.post(
                    "/api/v1/assistants",
                    json={
                        "name": "Realtime web",
                        "mode": "realtime",
                        "realtime_settings": {} if vendor == "openai" else GEMINI,
                        "llm_settings": {"welcome_message": WELCOME},
                        "interruption_settings": {
                            "min_speaking_time": 0.3,
                            "interruption_cooldown": 0,
                        },
                        "tools_settings": {
                            "end_call": {"enabled": True, "custom_message": GOODBYE}
                        },
                        "webhook_url": receiver.url,
                        "idle_timeout": None,
                    },
                )
                assert assistant.status_code == 201, assistant.text
                started = await api.post(
                    "/api/v1/calls/web", json={"assistant_id": assistant.json()["id"]}
                )
            assert started.status_code == 201, started.text
            async with open_page(started.json()["ws_url"]) as page:
                await page.wait_for(lambda: page.transcripts("assistant") == [WELCOME])
                welcome_bytes = page.audio_bytes
                await page.send_audio(speech(0.8, 16_000))
                await page.wait_for(lambda: page.audio_bytes > welcome_bytes + 32_000)
                await page.send_audio(bytes(16_000))  # 0.5 s of silence
                await page.send_audio(speech(1.0, 16_000))  # over the long answer
                await page.wait_for(lambda: page.closed.is_set(), limit_s=20)
            record = await _ended(lab, tenant)
            async with httpx.AsyncClient(
                timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
            ) as api:
                recording = await api.get(f"/api/v1/calls/{record['id']}/recording")
            assert recording.status_code == 200

    # The page was told to drop the answer's unplayed audio.
    assert any(m["type"] == "clear" for m in page.messages)
    if vendor == "openai":
        assert fake.last.wire_format == "audio/pcm"
        assert len(fake.last.truncated) == 1  # the model keeps only what was heard
        item_id, heard_ms = fake.last.truncated[0]
        assert 0 < heard_ms < fake.last.audio_ms[item_id]
    else:
        assert fake.last.input_rates == {16_000}
        assert fake.last.interruptions == 1  # Gemini's own barge-in

    assert record["end_reason"] == "assistant-ended-call"
    messages = [(m["role"], m["text"], m.get("interrupted", False)) for m in record["messages"]]
    assert messages[0] == ("assistant", WELCOME, False)
    assert messages[1] == ("user", HEARD[0], False)
    role, heard, interrupted = messages[2]
    assert (role, interrupted) == ("assistant", True)
    assert 0 < len(heard) < len(" ".join(LONG.split()))
    assert messages[3] == ("user", HEARD[1], False)
    assert messages[-1] == ("assistant", GOODBYE, False)
    assert [c["name"] for c in record["tool_calls"]] == ["end_call"]
    assert {p["kind"]: p["chosen"] for p in record["providers"]} == {"realtime": vendor}

    # The recording: both sides (the page at 16 kHz), the assistant's voice the model's.
    with wave.open(io.BytesIO(recording.content)) as wav:
        rate = wav.getframerate()
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    assert (np.abs(frames[:, 0].astype(np.int32)) > 1000).sum() / rate > 1.5  # the caller
    assert (np.abs(frames[:, 1].astype(np.int32)) > 1000).sum() / rate > 1.0  # the model

    # The end-of-call report says the same.
    await assert_end_of_call_report(receiver, HEARD[0], heard)
