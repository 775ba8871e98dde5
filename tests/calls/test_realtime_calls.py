"""A realtime assistant (``mode: "realtime"``) answers a Twilio call through the OpenAI
Realtime fake, with the server's key: the welcome is heard, a question answered, a
barge-in truncates the model's answer to what was heard, the end-call tool ends the
call; the record, the recording and the end-of-call webhook agree. Without any key the
call ends at once with the reason in its record, and ``/validate`` says why."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from callwright.settings import Settings
from tests.calls.harness import (
    API_TIMEOUT,
    FakeProviders,
    PhoneLab,
    media_stream,
    parse_stream_twiml,
    phone_lab,
    twilio_post,
)
from tests.calls.realtime_helpers import (
    LONG,
    WELCOME,
    assert_barged_in_call,
    assert_browser_call,
    barge_in_call,
    browser_call,
    create_desk,
    ended,
    voice_webhook,
)
from tests.calls.test_twilio_inbound import Receiver, receiver  # noqa: F401 (fixture)
from tests.conftest import Tenant, make_tenant
from tests.vendor_fakes import Reply, ScriptedCall, serve
from tests.vendor_fakes.openai_realtime import OpenAIRealtimeFake

KEY = "sk-server-realtime-key"


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
    return await create_desk(
        lab,
        tenant,
        webhook_url,
        name="Realtime desk",
        realtime_settings={"voice": "cedar", "turn_detection": "server_vad"},
    )


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
        record, recording = await barge_in_call(lab, tenant, "CA" + "cd" * 16)

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

    await assert_barged_in_call(
        record, recording, receiver, provider="openai", llm_provider="openai:gpt-realtime"
    )


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
        answer = await twilio_post(lab.base_url, "/telephony/twilio/voice", voice_webhook(call_sid))
        stream_url, parameters = parse_stream_twiml(answer.text)
        async with media_stream(stream_url, parameters, call_sid) as call:
            await call.silence_until(lambda: call.closed.is_set())
            assert call.received_audio_bytes == 0  # no pipeline voice stood in
        record = await ended(lab, tenant)
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
        page, record = await browser_call(
            lab,
            tenant,
            {
                "name": "Realtime web",
                "mode": "realtime",
                "llm_settings": {"welcome_message": WELCOME},
                "idle_timeout": None,
            },
        )
    # The page's 16 kHz audio went to the model as PCM16 at 24 kHz, and back.
    assert model.last.wire_format == "audio/pcm"
    assert_browser_call(page, record, "Yes, every day.")
