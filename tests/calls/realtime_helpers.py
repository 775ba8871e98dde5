"""What the realtime call tests share (OpenAI Realtime and Gemini Live): the desk
assistant on a Twilio number, a Twilio call with a barge-in over a long answer that
the end-call tool ends, a browser call, and what their records must say."""

from __future__ import annotations

import asyncio
import io
import time
import wave
from typing import Any

import httpx
import numpy as np

from callwright.providers.fakes import speech
from tests.calls.harness import (
    ACCOUNT_SID,
    API_TIMEOUT,
    AUTH_TOKEN,
    PhoneLab,
    media_stream,
    parse_stream_twiml,
    twilio_post,
)
from tests.calls.test_twilio_inbound import Receiver
from tests.calls.test_web_calls import Page, open_page
from tests.conftest import Tenant

__all__ = [
    "CALLER",
    "GOODBYE",
    "LONG",
    "OUR_NUMBER",
    "WELCOME",
    "assert_barged_in_call",
    "assert_browser_call",
    "assert_end_of_call_report",
    "barge_in_call",
    "browser_call",
    "create_desk",
    "ended",
    "voice_webhook",
]

CALLER = "+14155550123"
OUR_NUMBER = "+14155550188"
WELCOME = "Hello, this is Acme. How can I help?"
LONG = "We are open from nine to five on weekdays and from ten to four on Saturdays. " * 3
GOODBYE = "Thanks for calling, goodbye."


async def create_desk(
    lab: PhoneLab,
    tenant: Tenant,
    webhook_url: str | None,
    *,
    name: str,
    realtime_settings: dict[str, Any],
) -> int:
    """A realtime assistant answering OUR_NUMBER: the welcome, barge-in, the end-call
    tool saying GOODBYE; its id."""
    async with httpx.AsyncClient(
        timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
    ) as api:
        assistant = await api.post(
            "/api/v1/assistants",
            json={
                "name": name,
                "mode": "realtime",
                "realtime_settings": realtime_settings,
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


def voice_webhook(call_sid: str) -> dict[str, str]:
    """Twilio's voice webhook for a call from CALLER to OUR_NUMBER."""
    return {
        "AccountSid": ACCOUNT_SID,
        "CallSid": call_sid,
        "From": CALLER,
        "To": OUR_NUMBER,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }


async def ended(lab: PhoneLab, tenant: Tenant) -> dict[str, Any]:
    """The tenant's latest call's record, once it has ended."""
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


async def barge_in_call(
    lab: PhoneLab, tenant: Tenant, call_sid: str
) -> tuple[dict[str, Any], bytes]:
    """A Twilio call to the desk: the welcome heard to its last mark, a question, the
    caller speaking over the long answer, then the model ends the call; the call's
    record and recording."""
    answer = await twilio_post(lab.base_url, "/telephony/twilio/voice", voice_webhook(call_sid))
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

    record = await ended(lab, tenant)
    async with httpx.AsyncClient(
        timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
    ) as api:
        recording = await api.get(f"/api/v1/calls/{record['id']}/recording")
    assert recording.status_code == 200
    return record, recording.content


async def assert_barged_in_call(
    record: dict[str, Any],
    recording: bytes,
    receiver: Receiver,
    *,
    provider: str,
    llm_provider: str,
) -> None:
    """The record, the recording and the end-of-call webhook of a ``barge_in_call``
    agree: the model's answer kept only as far as the caller heard it."""
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
    assert {p["kind"]: p["chosen"] for p in record["providers"]} == {"realtime": provider}
    turns = [t for t in record["turns"] if t["turn"] > 0]
    assert turns
    assert turns[0]["llm_provider"] == llm_provider
    assert turns[0]["first_frame_out_ms"] is not None

    # The recording: both sides, the assistant's voice from the model.
    with wave.open(io.BytesIO(recording)) as wav:
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    assert (np.abs(frames[:, 0].astype(np.int32)) > 1000).sum() / 8000 > 1.5  # the caller
    assert (np.abs(frames[:, 1].astype(np.int32)) > 1000).sum() / 8000 > 1.0  # the model

    # The end-of-call report says the same.
    await assert_end_of_call_report(receiver, "opening hours", heard)


async def assert_end_of_call_report(receiver: Receiver, asked: str, heard: str) -> None:
    """The end-of-call webhook arrives: the model ended the call, and its transcript
    has the caller's ``asked`` and the ``heard`` part of the cut answer."""
    deadline = time.monotonic() + 10
    while not receiver.of_type("end-of-call-report"):
        assert time.monotonic() < deadline, receiver.events
        await asyncio.sleep(0.1)
    report = receiver.of_type("end-of-call-report")[0]["message"]
    assert report["endedReason"] == "assistant-ended-call"
    assert asked in report["artifact"]["transcript"]
    assert heard in report["artifact"]["transcript"]


async def browser_call(
    lab: PhoneLab, tenant: Tenant, assistant: dict[str, Any]
) -> tuple[Page, dict[str, Any]]:
    """A browser call to a new ``assistant``: the welcome, one question, the caller
    hangs up after the answer; the page and the call's record."""
    async with httpx.AsyncClient(
        timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
    ) as api:
        created = await api.post("/api/v1/assistants", json=assistant)
        assert created.status_code == 201, created.text
        started = await api.post("/api/v1/calls/web", json={"assistant_id": created.json()["id"]})
    assert started.status_code == 201, started.text
    async with open_page(started.json()["ws_url"]) as page:
        await page.wait_for(lambda: page.transcripts("assistant") == [WELCOME])
        await page.send_audio(speech(0.8, 16_000))
        await page.wait_for(lambda: len(page.transcripts("assistant")) == 2)
        await page.websocket.send('{"type": "hangup"}')
        await asyncio.wait_for(page.closed.wait(), 5)
    return page, await ended(lab, tenant)


def assert_browser_call(page: Page, record: dict[str, Any], answer: str) -> None:
    """A ``browser_call``'s page and record: the question, ``answer``, the hang-up."""
    assert page.transcripts("user") == ["What are your opening hours?"]
    assert page.transcripts("assistant") == [WELCOME, answer]
    assert page.audio_bytes > 16_000 * 2 * 1.5  # the welcome's 1.8 s, at the page's rate
    assert record["end_reason"] == "customer-ended-call"
    assert [m["text"] for m in record["messages"]] == [
        WELCOME,
        "What are your opening hours?",
        answer,
    ]
