"""A realtime assistant on Gemini Live (``realtime_settings.provider: "gemini"``)
answers a Twilio call and a browser call through the Live API fake, with the server's
key: the welcome is heard, a question answered, a barge-in stops the answer (Gemini's
own ``interrupted``) and the record keeps only the heard part, the end-call tool ends
the call; the record, the recording and the end-of-call webhook agree."""

from __future__ import annotations

import asyncio
import io
import time
import wave
from collections.abc import AsyncIterator

import httpx
import numpy as np
import pytest

from callwright.providers.fakes import speech
from callwright.settings import Settings
from tests.calls.harness import (
    ACCOUNT_SID,
    API_TIMEOUT,
    AUTH_TOKEN,
    FakeProviders,
    media_stream,
    parse_stream_twiml,
    phone_lab,
    twilio_post,
)
from tests.calls.test_realtime_calls import (
    GOODBYE,
    LONG,
    WELCOME,
    _ended,
    _voice,
)
from tests.calls.test_twilio_inbound import Receiver, receiver  # noqa: F401 (fixture)
from tests.calls.test_web_calls import open_page
from tests.conftest import make_tenant
from tests.vendor_fakes import Reply, ScriptedCall, serve
from tests.vendor_fakes.gemini_live import GeminiLiveFake

KEY = "gemini-server-realtime-key"
MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
OUR_NUMBER = "+14155550188"
REALTIME = {"provider": "gemini", "model": MODEL, "voice": "Kore"}


@pytest.fixture
async def model() -> AsyncIterator[GeminiLiveFake]:
    fake = GeminiLiveFake(
        api_key=KEY,
        heard=("What are your opening hours?", "Thanks, that's all."),
        chunk_delay_s=0.05,
    )
    async with serve(fake.app) as url:
        fake.url = url
        yield fake


def _settings(settings: Settings, model: GeminiLiveFake) -> Settings:
    return settings.model_copy(
        update={
            "gemini_api_key": KEY,
            "gemini_base_url": model.url,
            "webhook_retry_base_delay_seconds": 0.2,
            "webhook_poll_interval_seconds": 0.2,
        }
    )


async def test_a_gemini_realtime_assistant_answers_a_twilio_call(
    settings: Settings,
    model: GeminiLiveFake,
    receiver: Receiver,  # noqa: F811
) -> None:
    model.script(
        Reply((LONG,)),
        Reply(calls=(ScriptedCall("end_call", {}, id="function-call-end"),)),
    )
    async with phone_lab(_settings(settings, model), FakeProviders()) as lab:
        tenant = await make_tenant(lab.app)
        async with httpx.AsyncClient(
            timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
        ) as api:
            assistant = await api.post(
                "/api/v1/assistants",
                json={
                    "name": "Gemini desk",
                    "mode": "realtime",
                    "realtime_settings": REALTIME,
                    "llm_settings": {"welcome_message": WELCOME, "system_prompt": "You are Acme."},
                    "interruption_settings": {
                        "min_speaking_time": 0.3,
                        "interruption_cooldown": 0,
                    },
                    "tools_settings": {"end_call": {"enabled": True, "custom_message": GOODBYE}},
                    "webhook_url": receiver.url,
                    "twilio_config": {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN},
                    "idle_timeout": None,
                },
            )
            assert assistant.status_code == 201, assistant.text
            lab.twilio.own(OUR_NUMBER)
            number = await api.post(
                "/api/v1/phone-numbers",
                json={"number": OUR_NUMBER, "assistant_id": assistant.json()["id"]},
            )
            assert number.status_code == 201, number.text
        call_sid = "CA" + "9e" * 16
        answer = await twilio_post(lab.base_url, "/telephony/twilio/voice", _voice(call_sid))
        stream_url, parameters = parse_stream_twiml(answer.text)
        async with media_stream(stream_url, parameters, call_sid) as call:
            await call.silence_until(
                lambda: (
                    call.received_audio_bytes > 8000
                    and len(call.marks_echoed) == len(call.marks_received)
                )
            )
            welcome_bytes = call.received_audio_bytes
            await call.speak(0.8)
            await call.silence_until(lambda: call.received_audio_bytes > welcome_bytes + 8000)
            await call.silence(0.5)
            await call.speak(1.0)  # over the long answer
            await call.silence_until(lambda: call.clears >= 1)
            await call.silence_until(lambda: call.closed.is_set(), limit_s=20)

        record = await _ended(lab, tenant)
        async with httpx.AsyncClient(
            timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
        ) as api:
            recording = await api.get(f"/api/v1/calls/{record['id']}/recording")
        assert recording.status_code == 200

    session = model.last
    # Twilio's 8 kHz went to Gemini as PCM16 16 kHz; the setup came from the assistant.
    assert session.input_rates == {16_000}
    assert session.query == {"key": KEY}
    assert session.setup["model"] == f"models/{MODEL}"
    voice = session.setup["generationConfig"]["speechConfig"]["voiceConfig"]
    assert voice == {"prebuiltVoiceConfig": {"voiceName": "Kore"}}
    assert session.setup["systemInstruction"] == {"parts": [{"text": "You are Acme."}]}
    declarations = session.setup["tools"][0]["functionDeclarations"]
    assert [d["name"] for d in declarations] == ["end_call"]
    # Gemini stopped the long answer itself; nothing like a truncate was sent.
    assert session.interruptions == 1
    assert set(session.kinds()) == {"setup", "realtimeInput", "clientContent"}

    assert record["end_reason"] == "assistant-ended-call"
    messages = [(m["role"], m["text"], m.get("interrupted", False)) for m in record["messages"]]
    assert messages[0] == ("assistant", WELCOME, False)
    assert messages[1] == ("user", "What are your opening hours?", False)
    role, heard, interrupted = messages[2]
    assert role == "assistant"
    assert interrupted
    assert 0 < len(heard) < len(LONG)
    assert messages[3] == ("user", "Thanks, that's all.", False)
    assert messages[-1] == ("assistant", GOODBYE, False)
    assert [c["name"] for c in record["tool_calls"]] == ["end_call"]
    assert {p["kind"]: p["chosen"] for p in record["providers"]} == {"realtime": "gemini"}
    turns = [t for t in record["turns"] if t["turn"] > 0]
    assert turns
    assert turns[0]["llm_provider"] == f"gemini:{MODEL}"
    assert turns[0]["first_frame_out_ms"] is not None

    with wave.open(io.BytesIO(recording.content)) as wav:
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    assert (np.abs(frames[:, 0].astype(np.int32)) > 1000).sum() / 8000 > 1.5  # the caller
    assert (np.abs(frames[:, 1].astype(np.int32)) > 1000).sum() / 8000 > 1.0  # the model

    deadline = time.monotonic() + 10
    while not receiver.of_type("end-of-call-report"):
        assert time.monotonic() < deadline, receiver.events
        await asyncio.sleep(0.1)
    report = receiver.of_type("end-of-call-report")[0]["message"]
    assert report["endedReason"] == "assistant-ended-call"
    assert "opening hours" in report["artifact"]["transcript"]
    assert heard in report["artifact"]["transcript"]


async def test_a_gemini_realtime_assistant_answers_a_browser_call(
    settings: Settings, model: GeminiLiveFake
) -> None:
    model.script(Reply(("Yes, every day.",)))
    async with phone_lab(_settings(settings, model), FakeProviders()) as lab:
        tenant = await make_tenant(lab.app)
        async with httpx.AsyncClient(
            timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
        ) as api:
            assistant = await api.post(
                "/api/v1/assistants",
                json={
                    "name": "Gemini web",
                    "mode": "realtime",
                    "realtime_settings": REALTIME,
                    "llm_settings": {"welcome_message": WELCOME},
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
            await page.send_audio(speech(0.8, 16_000))
            await page.wait_for(lambda: len(page.transcripts("assistant")) == 2)
            await page.websocket.send('{"type": "hangup"}')
            await asyncio.wait_for(page.closed.wait(), 5)
        record = await _ended(lab, tenant)
    assert model.last.input_rates == {16_000}
    assert page.transcripts("user") == ["What are your opening hours?"]
    assert page.transcripts("assistant") == [WELCOME, "Yes, every day."]
    assert page.audio_bytes > 16_000 * 2 * 1.5  # the welcome's 1.8 s, at the page's rate
    assert record["end_reason"] == "customer-ended-call"
    assert [m["text"] for m in record["messages"]] == [
        WELCOME,
        "What are your opening hours?",
        "Yes, every day.",
    ]
