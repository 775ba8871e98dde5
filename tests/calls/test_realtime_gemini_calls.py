"""A realtime assistant on Gemini Live (``realtime_settings.provider: "gemini"``)
answers a Twilio call and a browser call through the Live API fake, with the server's
key: the welcome is heard, a question answered, a barge-in stops the answer (Gemini's
own ``interrupted``) and the record keeps only the heard part, the end-call tool ends
the call; the record, the recording and the end-of-call webhook agree."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from callwright.settings import Settings
from tests.calls.harness import FakeProviders, phone_lab
from tests.calls.realtime_helpers import (
    LONG,
    WELCOME,
    assert_barged_in_call,
    assert_browser_call,
    barge_in_call,
    browser_call,
    create_desk,
)
from tests.calls.test_twilio_inbound import Receiver, receiver  # noqa: F401 (fixture)
from tests.conftest import make_tenant
from tests.vendor_fakes import Reply, ScriptedCall, serve
from tests.vendor_fakes.gemini_live import GeminiLiveFake

KEY = "gemini-server-realtime-key"
MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
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
        await create_desk(lab, tenant, receiver.url, name="Gemini desk", realtime_settings=REALTIME)
        record, recording = await barge_in_call(lab, tenant, "CA" + "9e" * 16)

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

    await assert_barged_in_call(
        record, recording, receiver, provider="gemini", llm_provider=f"gemini:{MODEL}"
    )


async def test_a_gemini_realtime_assistant_answers_a_browser_call(
    settings: Settings, model: GeminiLiveFake
) -> None:
    model.script(Reply(("Yes, every day.",)))
    async with phone_lab(_settings(settings, model), FakeProviders()) as lab:
        tenant = await make_tenant(lab.app)
        page, record = await browser_call(
            lab,
            tenant,
            {
                "name": "Gemini web",
                "mode": "realtime",
                "realtime_settings": REALTIME,
                "llm_settings": {"welcome_message": WELCOME},
                "idle_timeout": None,
            },
        )
    assert model.last.input_rates == {16_000}
    assert_browser_call(page, record, "Yes, every day.")
