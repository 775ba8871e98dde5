"""A realtime assistant (``mode: "realtime"``) answers a Twilio call through the OpenAI
Realtime fake, with the server's key: the welcome is heard, a question answered, a
barge-in truncates the model's answer to what was heard, the end-call tool ends the
call; the record, the recording and the end-of-call webhook agree. Without any key the
call ends at once with the reason in its record, and ``/validate`` says why."""

from __future__ import annotations

import asyncio
import io
import time
import wave
from collections.abc import AsyncIterator
from typing import Any

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
    PhoneLab,
    media_stream,
    parse_stream_twiml,
    phone_lab,
    twilio_post,
)
from tests.calls.test_twilio_inbound import Receiver, receiver  # noqa: F401 (fixture)
from tests.calls.test_web_calls import open_page
from tests.conftest import Tenant, make_tenant
from tests.vendor_fakes import Reply, ScriptedCall, serve
from tests.vendor_fakes.openai_realtime import OpenAIRealtimeFake

CALLER = "+14155550123"
OUR_NUMBER = "+14155550188"
KEY = "sk-server-realtime-key"
WELCOME = "Hello, this is Acme. How can I help?"
LONG = "We are open from nine to five on weekdays and from ten to four on Saturdays. " * 3
GOODBYE = "Thanks for calling, goodbye."


@pytest.fixture
async def model() -> AsyncIterator[OpenAIRealtimeFake]:
    fake = OpenAIRealtimeFake(
        api_key=KEY,
        heard=("What are your opening hours?", "Thanks, that's all."),
        chunk_delay_s=0.05,
    )
    async with serve(fake.app) as url:
        fake.url = url + "/v1"
        yield fake


async def _setup(lab: PhoneLab, tenant: Tenant, webhook_url: str | None) -> int:
    async with httpx.AsyncClient(
        timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
    ) as api:
        assistant = await api.post(
            "/api/v1/assistants",
            json={
                "name": "Realtime desk",
                "mode": "realtime",
                "realtime_settings": {"voice": "cedar", "turn_detection": "server_vad"},
                "llm_settings": {"welcome_message": WELCOME, "system_prompt": "You are Acme."},
                "interruption_settings": {"min_speaking_time": 0.3, "interruption_cooldown": 0},
                "tools_settings": {"end_call": {"enabled": True, "custom_message": GOODBYE}},
                "webhook_url": webhook_url,
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
    return int(assistant.json()["id"])


def _voice(call_sid: str) -> dict[str, str]:
    return {
        "AccountSid": ACCOUNT_SID,
        "CallSid": call_sid,
        "From": CALLER,
        "To": OUR_NUMBER,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }


async def _ended(lab: PhoneLab, tenant: Tenant) -> dict[str, Any]:
    async with httpx.AsyncClient(
        timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
    ) as api:
        deadline = time.monotonic() + 15
        while True:
            listed = (await api.get("/api/v1/calls")).json()
            if listed and listed[0]["status"] == "ended":
                return dict((await api.get(f"/api/v1/calls/{listed[0]['id']}")).json())
            assert time.monotonic() < deadline, listed
            await asyncio.sleep(0.1)


async def test_a_realtime_assistant_answers_a_twilio_call(
    settings: Settings,
    model: OpenAIRealtimeFake,
    receiver: Receiver,  # noqa: F811
) -> None:
    model.script(
        Reply((LONG,)),
        Reply(calls=(ScriptedCall("end_call", {}, id="call_end"),)),
    )
    settings = settings.model_copy(
        update={
            "openai_api_key": KEY,
            "openai_base_url": model.url,
            "webhook_retry_base_delay_seconds": 0.2,
            "webhook_poll_interval_seconds": 0.2,
        }
    )
    async with phone_lab(settings, FakeProviders()) as lab:
        tenant = await make_tenant(lab.app)
        await _setup(lab, tenant, receiver.url)
        call_sid = "CA" + "cd" * 16
        answer = await twilio_post(lab.base_url, "/telephony/twilio/voice", _voice(call_sid))
        stream_url, parameters = parse_stream_twiml(answer.text)
        async with media_stream(stream_url, parameters, call_sid) as call:
            # The welcome, played to its last mark.
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
    # Twilio's μ-law went to the model as it came, and the model answered in kind.
    assert session.wire_format == "audio/pcmu"
    assert session.config["audio"]["output"]["voice"] == "cedar"
    assert session.config["instructions"] == "You are Acme."
    assert [t["name"] for t in session.config["tools"]] == ["end_call"]
    # The model keeps only what the caller heard of the long answer.
    assert len(session.truncated) == 1
    item_id, heard_ms = session.truncated[0]
    assert 0 < heard_ms < session.audio_ms[item_id]

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
    assert {p["kind"]: p["chosen"] for p in record["providers"]} == {"realtime": "openai"}
    turns = [t for t in record["turns"] if t["turn"] > 0]
    assert turns
    assert turns[0]["llm_provider"] == "openai:gpt-realtime"
    assert turns[0]["first_frame_out_ms"] is not None

    # The recording: both sides, the assistant's voice from the model.
    with wave.open(io.BytesIO(recording.content)) as wav:
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    assert (np.abs(frames[:, 0].astype(np.int32)) > 1000).sum() / 8000 > 1.5  # the caller
    assert (np.abs(frames[:, 1].astype(np.int32)) > 1000).sum() / 8000 > 1.0  # the model

    # The end-of-call report says the same.
    deadline = time.monotonic() + 10
    while not receiver.of_type("end-of-call-report"):
        assert time.monotonic() < deadline, receiver.events
        await asyncio.sleep(0.1)
    report = receiver.of_type("end-of-call-report")[0]["message"]
    assert report["endedReason"] == "assistant-ended-call"
    assert "opening hours" in report["artifact"]["transcript"]
    assert heard in report["artifact"]["transcript"]


async def test_without_a_key_the_call_ends_at_once_and_validate_says_why(
    settings: Settings, model: OpenAIRealtimeFake
) -> None:
    settings = settings.model_copy(update={"openai_api_key": None, "openai_base_url": model.url})
    async with phone_lab(settings, FakeProviders()) as lab:
        tenant = await make_tenant(lab.app)
        assistant_id = await _setup(lab, tenant, None)
        async with httpx.AsyncClient(
            timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
        ) as api:
            report = (await api.post(f"/api/v1/assistants/{assistant_id}/validate")).json()
        assert report["ok"] is False
        realtime = [p for p in report["providers"] if p["kind"] == "realtime"]
        assert len(realtime) == 1
        assert realtime[0]["missing"] == ["api_key"]
        assert "no offline realtime model" in realtime[0]["message"]

        call_sid = "CA" + "ef" * 16
        answer = await twilio_post(lab.base_url, "/telephony/twilio/voice", _voice(call_sid))
        stream_url, parameters = parse_stream_twiml(answer.text)
        async with media_stream(stream_url, parameters, call_sid) as call:
            await call.silence_until(lambda: call.closed.is_set())
            assert call.received_audio_bytes == 0  # no pipeline voice stood in
        record = await _ended(lab, tenant)
    assert record["end_reason"] == "pipeline-error"
    assert "realtime_settings.api_key" in record["end_detail"]
    assert "no offline realtime model" in record["end_detail"]
    assert model.sessions == []


async def test_a_realtime_assistant_answers_a_browser_call(
    settings: Settings, model: OpenAIRealtimeFake
) -> None:
    model.script(Reply(("Yes, every day.",)))
    settings = settings.model_copy(update={"openai_api_key": KEY, "openai_base_url": model.url})
    async with phone_lab(settings, FakeProviders()) as lab:
        tenant = await make_tenant(lab.app)
        async with httpx.AsyncClient(
            timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
        ) as api:
            assistant = await api.post(
                "/api/v1/assistants",
                json={
                    "name": "Realtime web",
                    "mode": "realtime",
                    "llm_settings": {"welcome_message": WELCOME},
                    "idle_timeout": None,
                },
            )
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
    # The page's 16 kHz audio went to the model as PCM16 at 24 kHz, and back.
    assert model.last.wire_format == "audio/pcm"
    assert page.transcripts("user") == ["What are your opening hours?"]
    assert page.transcripts("assistant") == [WELCOME, "Yes, every day."]
    assert page.audio_bytes > 16_000 * 2 * 1.5  # the welcome's 1.8 s, at the page's rate
    assert record["end_reason"] == "customer-ended-call"
    assert [m["text"] for m in record["messages"]] == [
        WELCOME,
        "What are your opening hours?",
        "Yes, every day.",
    ]
