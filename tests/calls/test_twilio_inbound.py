"""An inbound phone call, driven the way Twilio drives it: a signed voice webhook, then
the Media Stream with caller audio as 20 ms μ-law frames. The assistant answers with
audio and marks, a barge-in produces a ``clear``, the caller's ``stop`` ends the call,
and the call record, the stereo recording and the signed end-of-call webhook all exist
and agree."""

from __future__ import annotations

import asyncio
import io
import json
import time
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pytest
import websockets
from fastapi import FastAPI, Request, Response

from callwright.domain.signing_secrets import signing_secret_for
from callwright.security.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from callwright.settings import Settings
from tests.calls.harness import (
    ACCOUNT_SID,
    API_TIMEOUT,
    AUTH_TOKEN,
    FakeProviders,
    PhoneLab,
    listener,
    media_stream,
    parse_stream_twiml,
    phone_lab,
    serve,
    twilio_post,
)
from tests.conftest import Tenant, make_tenant

CALLER = "+14155550100"
OUR_NUMBER = "+14155550199"
LONG_REPLY = (
    "We are open from nine in the morning to five in the evening on weekdays, "
    "and from ten to four on Saturdays, and we are closed on Sundays and holidays."
)


@dataclass
class Receiver:
    """The user's webhook endpoint."""

    url: str
    events: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        bodies = [json.loads(body) for _, body in self.events]
        return [body for body in bodies if body["message"]["type"] == kind]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    app = FastAPI()
    sock = listener()
    target = Receiver(f"http://127.0.0.1:{sock.getsockname()[1]}/hook")

    @app.post("/hook")
    async def hook(request: Request) -> Response:
        target.events.append((dict(request.headers), await request.body()))
        return Response(status_code=204)

    try:
        async with serve(app, listener=sock):
            yield target
    finally:
        sock.close()


async def _setup(lab: PhoneLab, tenant: Tenant, webhook_url: str | None) -> tuple[int, int]:
    async with httpx.AsyncClient(
        timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
    ) as api:
        assistant = await api.post(
            "/api/v1/assistants",
            json={
                "name": "Front desk",
                "llm_settings": {"welcome_message": "Hello, this is Acme. How can I help?"},
                "webhook_url": webhook_url,
                "twilio_config": {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN},
                "idle_timeout": None,
            },
        )
        assert assistant.status_code == 201, assistant.text
        lab.twilio.own(OUR_NUMBER)
        number = await api.post(
            "/api/v1/phone-numbers",
            json={
                "number": OUR_NUMBER,
                "assistant_id": assistant.json()["id"],
                "configure_webhook": True,
            },
        )
        assert number.status_code == 201, number.text
    return assistant.json()["id"], number.json()["id"]


def _voice_params(call_sid: str) -> dict[str, str]:
    return {
        "AccountSid": ACCOUNT_SID,
        "CallSid": call_sid,
        "From": CALLER,
        "To": OUR_NUMBER,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }


async def _wait_for_record(lab: PhoneLab, tenant: Tenant, call_id: int) -> dict[str, Any]:
    async with httpx.AsyncClient(
        timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
    ) as api:
        deadline = time.monotonic() + 15
        while True:
            record = (await api.get(f"/api/v1/calls/{call_id}")).json()
            if record["status"] == "ended":
                return dict(record)
            assert time.monotonic() < deadline, record
            await asyncio.sleep(0.1)


async def test_inbound_call_end_to_end(settings: Settings, receiver: Receiver) -> None:
    providers = FakeProviders(
        utterances=("What are your opening hours?", "Sorry, and on Sundays?"),
        replies=[LONG_REPLY, "Closed on Sundays, sorry."],
    )
    settings = settings.model_copy(
        update={"webhook_retry_base_delay_seconds": 0.2, "webhook_poll_interval_seconds": 0.2}
    )
    async with phone_lab(settings, providers) as lab:
        tenant = await make_tenant(lab.app)
        assistant_id, number_id = await _setup(lab, tenant, receiver.url)
        # Assigning the number pointed its voice webhook here, through Twilio's API.
        configured = [
            r
            for r in lab.twilio.requests
            if r[1].endswith(f"/IncomingPhoneNumbers/{lab.twilio.number_sid(OUR_NUMBER)}.json")
        ]
        assert configured[0][2]["VoiceUrl"] == [f"{lab.base_url}/telephony/twilio/voice"]

        call_sid = "CA" + "ab" * 16
        answer = await twilio_post(lab.base_url, "/telephony/twilio/voice", _voice_params(call_sid))
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("application/xml")
        stream_url, parameters = parse_stream_twiml(answer.text)
        assert stream_url == f"{lab.ws_base}/telephony/twilio/stream"
        assert set(parameters) == {"token"}

        async with media_stream(
            stream_url, parameters | {"customer_tier": "gold"}, call_sid
        ) as call:
            # The greeting: audio, then its mark, echoed once played.
            await call.silence_until(lambda: bool(call.marks_echoed))
            greeting_bytes = call.received_audio_bytes
            assert greeting_bytes > 8000 * 0.5  # over half a second of speech
            # A question, then listen to the long answer for a moment and talk over it.
            await call.speak(1.0)
            await call.silence_until(lambda: call.received_audio_bytes > greeting_bytes)
            await call.silence(0.8)
            assert call.clears == 0
            await call.speak(1.5)
            await call.silence_until(lambda: call.clears >= 1)
            # The short answer plays out, then the caller hangs up.
            await call.silence_until(lambda: len(call.marks_echoed) >= 3)
            await call.silence(0.3)
            await call.stop()
            await asyncio.wait_for(call.closed.wait(), 10)

        async with httpx.AsyncClient(
            timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
        ) as api:
            listed = (await api.get("/api/v1/calls", params={"direction": "inbound"})).json()
        assert len(listed) == 1
        record = await _wait_for_record(lab, tenant, listed[0]["id"])

        # -- the record ------------------------------------------------------------
        assert record["assistant_id"] == assistant_id
        assert record["phone_number_id"] == number_id
        assert record["type"] == "inboundPhoneCall"
        assert record["provider_call_id"] == call_sid
        assert record["customer_number"] == CALLER
        assert record["variables"] == {"customer_tier": "gold"}
        assert record["end_reason"] == "customer-ended-call"
        assert record["duration_seconds"] > 3
        roles = [(m["role"], m.get("interrupted", False)) for m in record["messages"]]
        assert roles == [
            ("assistant", False),
            ("user", False),
            ("assistant", True),
            ("user", False),
            ("assistant", False),
        ], record["messages"]
        interrupted = record["messages"][2]
        assert interrupted["intended"] == LONG_REPLY
        assert 0 < len(interrupted["text"]) < len(LONG_REPLY)
        assert [m["text"] for m in record["messages"] if m["role"] == "user"] == [
            "What are your opening hours?",
            "Sorry, and on Sundays?",
        ]
        assert len(record["turns"]) >= 2
        caller_turns = [turn for turn in record["turns"] if turn["turn"] > 0]
        assert all(turn["stt_final_ms"] is not None for turn in caller_turns), caller_turns
        assert record["usage"]["llm"]["completion_tokens"] > 0
        assert record["usage"]["tts"]["characters"] > len(LONG_REPLY)
        assert record["usage"]["stt"]["seconds"] > 3
        # The model's second request carries what the caller actually heard.
        assert providers.llm is not None
        heard = [m.content for m in providers.llm.requests[1].messages if m.role == "assistant"]
        assert heard == [interrupted["text"]] or heard[-1] == interrupted["text"]

        # -- the recording ---------------------------------------------------------
        async with httpx.AsyncClient(
            timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
        ) as api:
            wav_response = await api.get(f"/api/v1/calls/{record['id']}/recording")
        assert wav_response.status_code == 200
        assert wav_response.headers["content-type"] == "audio/wav"
        with wave.open(io.BytesIO(wav_response.content)) as wav:
            assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (2, 8000, 2)
            frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
        seconds = len(frames) / 8000
        assert abs(seconds - record["usage"]["stt"]["seconds"]) < 0.5
        caller_loud = np.abs(frames[:, 0].astype(np.int32)) > 1000
        assistant_loud = np.abs(frames[:, 1].astype(np.int32)) > 1000
        assert 2.0 < caller_loud.sum() / 8000 < 3.0  # 1.0 s + 1.5 s of speech
        assert assistant_loud.sum() / 8000 > 1.0
        # Both spoke at once only during the barge-in, briefly.
        assert (caller_loud & assistant_loud).sum() / 8000 < 1.0

        # -- the webhooks ----------------------------------------------------------
        deadline = time.monotonic() + 10
        while not receiver.of_type("end-of-call-report"):
            assert time.monotonic() < deadline, receiver.events
            await asyncio.sleep(0.1)
        report = receiver.of_type("end-of-call-report")[0]["message"]
        assert report["call"]["id"] == str(record["id"])
        assert report["endedReason"] == "customer-ended-call"
        assert "opening hours" in report["artifact"]["transcript"]
        # The report's recording link works without an API key, and only as signed.
        async with httpx.AsyncClient() as anonymous:
            fetched = await anonymous.get(report["recordingUrl"])
            assert fetched.status_code == 200
            assert fetched.content == wav_response.content
            tampered = await anonymous.get(report["recordingUrl"].replace("expires=", "expires=1"))
            assert tampered.status_code == 403
        statuses = [m["message"]["status"] for m in receiver.of_type("status-update")]
        assert statuses == ["in-progress", "ended"]
        transcripts = receiver.of_type("transcript")
        assert {t["message"]["role"] for t in transcripts} == {"user", "assistant"}
        async with lab.app.state.callwright.session_factory() as db:
            secret = await signing_secret_for(db, settings, tenant.organization_id)
        event_ids = set()
        for headers, body in receiver.events:
            assert verify_signature(
                secret, headers[TIMESTAMP_HEADER.lower()], body, headers[SIGNATURE_HEADER.lower()]
            )
            event_ids.add(headers["x-callwright-event-id"])
        assert len(event_ids) == len(receiver.events)  # each event exactly once


async def test_forged_signature_is_refused(settings: Settings) -> None:
    async with phone_lab(settings, FakeProviders()) as lab:
        tenant = await make_tenant(lab.app)
        await _setup(lab, tenant, None)
        params = _voice_params("CA" + "cd" * 16)
        forged = await twilio_post(
            lab.base_url, "/telephony/twilio/voice", params, token="not-the-auth-token"
        )
        assert forged.status_code == 403
        async with httpx.AsyncClient() as client:
            unsigned = await client.post(f"{lab.base_url}/telephony/twilio/voice", data=params)
            status = await client.post(
                f"{lab.base_url}/telephony/twilio/status",
                data=params | {"CallStatus": "completed"},
                headers={"X-Twilio-Signature": "AAAA"},
            )
        assert unsigned.status_code == 403
        assert status.status_code == 403
        # Nothing was created by the forged requests.
        async with httpx.AsyncClient(
            timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
        ) as api:
            assert (await api.get("/api/v1/calls")).json() == []


async def test_a_stream_without_a_valid_token_is_refused(settings: Settings) -> None:
    async with phone_lab(settings, FakeProviders()) as lab:
        tenant = await make_tenant(lab.app)
        await _setup(lab, tenant, None)
        call_sid = "CA" + "ef" * 16
        answer = await twilio_post(lab.base_url, "/telephony/twilio/voice", _voice_params(call_sid))
        stream_url, parameters = parse_stream_twiml(answer.text)
        for bad in ({}, {"token": "cwst.1.x.9999999999.forged"}):
            async with media_stream(stream_url, bad, call_sid) as call:
                await asyncio.wait_for(call.closed.wait(), 5)
            assert call.websocket.close_code == 1008
            assert call.received_media == 0
        # The genuine token works once, and only once.
        async with media_stream(stream_url, parameters, call_sid) as call:
            await call.silence_until(lambda: call.received_media > 0)
            await call.stop()
        async with media_stream(stream_url, parameters, call_sid) as replay:
            await asyncio.wait_for(replay.closed.wait(), 5)
        assert replay.websocket.close_code == 1008
        assert isinstance(replay.websocket, websockets.ClientConnection)


async def test_is_active_false_rejects_an_inbound_call_and_records_why(
    settings: Settings,
) -> None:
    async with phone_lab(settings, FakeProviders()) as lab:
        tenant = await make_tenant(lab.app)
        assistant_id, _ = await _setup(lab, tenant, None)
        async with httpx.AsyncClient(
            timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
        ) as api:
            deactivated = await api.patch(
                f"/api/v1/assistants/{assistant_id}", json={"is_active": False}
            )
            assert deactivated.status_code == 200, deactivated.text
            call_sid = "CA" + "ab" * 16
            answer = await twilio_post(
                lab.base_url, "/telephony/twilio/voice", _voice_params(call_sid)
            )
            assert answer.status_code == 200, answer.text
            assert '<Reject reason="rejected"/>' in answer.text
            assert "<Stream" not in answer.text
            (call,) = (await api.get("/api/v1/calls")).json()
            assert call["status"] == "ended"
            assert call["end_reason"] == "assistant-not-active"
            assert "is_active: false" in call["end_detail"]
            assert (call["provider_call_id"], call["customer_number"]) == (call_sid, CALLER)
            # Twilio's later status callback about the rejected call changes nothing.
            completed = await twilio_post(
                lab.base_url,
                "/telephony/twilio/status",
                _voice_params(call_sid) | {"CallStatus": "canceled"},
            )
            assert completed.status_code < 300
            again = (await api.get(f"/api/v1/calls/{call['id']}")).json()
            assert again["end_reason"] == "assistant-not-active"


async def test_the_stream_closes_before_the_record_is_written(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by benchmarks/soak.py: with the database away the final record waits (it
    is retried until the database is back); the carrier's socket must not wait with it."""
    providers = FakeProviders(utterances=("Hello?",), replies=["Hi."])
    async with phone_lab(settings, providers) as lab:
        tenant = await make_tenant(lab.app)
        await _setup(lab, tenant, None)
        records = lab.app.state.callwright.calls._records
        written, release = asyncio.Event(), asyncio.Event()
        finish = records.finish

        async def held(*args: Any, **kwargs: Any) -> None:
            await release.wait()  # the database is away
            await finish(*args, **kwargs)
            written.set()

        monkeypatch.setattr(records, "finish", held)
        call_sid = "CA" + "cd" * 16
        answer = await twilio_post(lab.base_url, "/telephony/twilio/voice", _voice_params(call_sid))
        stream_url, parameters = parse_stream_twiml(answer.text)
        async with media_stream(stream_url, parameters, call_sid) as call:
            await call.silence_until(lambda: bool(call.marks_echoed))
            await call.stop()
            await asyncio.wait_for(call.closed.wait(), 30)  # a safety bound only
            assert not written.is_set()  # closed while the record still waits
        release.set()
        await asyncio.wait_for(written.wait(), 30)
