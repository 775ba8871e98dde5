"""Contract tests: ``OpenAIRealtime`` against the Realtime (GA) fake — set-up, audio
both ways, an interruption truncated where the caller stopped hearing, a tool call and
the errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from callwright.audio.codec import mulaw_decode
from callwright.providers.errors import ProviderAuthError, ProviderRequestError, ProviderUnavailable
from callwright.providers.fakes import speech
from callwright.providers.realtime.openai import OpenAIRealtime, OpenAIRealtimeConnection
from callwright.providers.realtime.protocol import (
    AudioOut,
    CallerSpeechStarted,
    CallerSpeechStopped,
    CallerTranscript,
    CallerTurnCommitted,
    CancelResponse,
    RealtimeNotice,
    RealtimeOptions,
    Respond,
    ResponseDone,
    ToolCallRequested,
    ToolOutput,
    TranscriptOut,
    Truncate,
)
from tests.providers.realtime.helpers import WEATHER, bakery_options, say_to, until
from tests.vendor_fakes import Reply, ScriptedCall, serve
from tests.vendor_fakes.openai_realtime import OpenAIRealtimeFake

KEY = "sk-test-realtime"


@pytest.fixture
async def fake() -> AsyncIterator[OpenAIRealtimeFake]:
    fake = OpenAIRealtimeFake(api_key=KEY, heard=("What are your opening hours?",))
    async with serve(fake.app) as url:
        fake.url = url + "/v1"
        yield fake


def model_for(fake: OpenAIRealtimeFake, key: str = KEY) -> OpenAIRealtime:
    return OpenAIRealtime(key, base_url=fake.url, model="gpt-realtime")


@pytest.fixture
async def phone(fake: OpenAIRealtimeFake) -> AsyncIterator[OpenAIRealtimeConnection]:
    connection = await model_for(fake).connect(bakery_options("cedar"))
    try:
        yield connection
    finally:
        await connection.aclose()


async def test_the_set_up_is_one_ga_session_update(
    fake: OpenAIRealtimeFake, phone: OpenAIRealtimeConnection
) -> None:
    session = fake.last
    assert session.headers["authorization"] == f"Bearer {KEY}"
    assert "openai-beta" not in session.headers  # the GA interface
    assert session.query == {"model": "gpt-realtime"}
    assert session.types() == ["session.update"]
    config = session.received[0]["session"]
    assert config["type"] == "realtime"
    assert config["instructions"] == "You answer the phone for a bakery."
    assert config["max_output_tokens"] == 900
    assert config["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert config["audio"]["output"] == {"format": {"type": "audio/pcmu"}, "voice": "cedar"}
    assert config["audio"]["input"]["transcription"] == {
        "model": "gpt-4o-mini-transcribe",
        "language": "en",
    }
    assert config["audio"]["input"]["turn_detection"] == {
        "type": "server_vad",
        "create_response": False,
        "interrupt_response": False,
        "silence_duration_ms": 400,
        "prefix_padding_ms": 300,
    }
    assert config["tools"] == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": dict(WEATHER.parameters),
        }
    ]


async def test_a_browser_call_uses_pcm_at_24_khz_and_semantic_vad(fake: OpenAIRealtimeFake) -> None:
    options = RealtimeOptions(audio="pcm24", turn_detection="semantic_vad", eagerness="low")
    connection = await model_for(fake).connect(options)
    await connection.aclose()
    config = fake.last.config
    assert config["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert config["audio"]["output"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert config["audio"]["input"]["turn_detection"] == {
        "type": "semantic_vad",
        "create_response": False,
        "interrupt_response": False,
        "eagerness": "low",
    }


async def test_audio_both_ways(fake: OpenAIRealtimeFake, phone: OpenAIRealtimeConnection) -> None:
    fake.script(Reply(("We open at eight ", "and close at six.")))
    await say_to(phone, speech(0.6, 8000) + bytes(2 * 8000))  # 0.6 s of speech, 1 s quiet
    heard = await until(phone, lambda e: isinstance(e, CallerTranscript))
    kinds = [type(e) for e in heard]
    assert kinds == [
        CallerSpeechStarted,
        CallerSpeechStopped,
        CallerTurnCommitted,
        CallerTranscript,
    ]
    committed = heard[2]
    assert isinstance(committed, CallerTurnCommitted)
    assert heard[3] == CallerTranscript(committed.item_id, "What are your opening hours?")
    # Twilio's μ-law went in untouched: the fake decoded 1.6 s of it.
    assert fake.last.caller_audio_ms == pytest.approx(1600)

    await phone.send(Respond())
    answer = await until(phone, lambda e: isinstance(e, ResponseDone))
    audio = [e for e in answer if isinstance(e, AudioOut)]
    text = "".join(e.text for e in answer if isinstance(e, TranscriptOut))
    assert text == "We open at eight and close at six."
    assert len({e.item_id for e in audio}) == 1
    out = b"".join(e.audio for e in audio)
    # μ-law 8 kHz: one byte a sample, and as long as the fake said it was.
    assert len(out) / 8 == fake.last.audio_ms[audio[0].item_id]
    assert len(mulaw_decode(out)) == 2 * len(out)
    assert answer[-1] == ResponseDone("completed", 21, 8)


async def test_fixed_text_is_said_through_the_responses_instructions(
    fake: OpenAIRealtimeFake, phone: OpenAIRealtimeConnection
) -> None:
    await phone.send(Respond('Say exactly this: "Hello, thanks for calling."'))
    answer = await until(phone, lambda e: isinstance(e, ResponseDone))
    assert "".join(e.text for e in answer if isinstance(e, TranscriptOut)) == (
        "Hello, thanks for calling."
    )
    create = fake.last.received[-1]
    assert create == {
        "type": "response.create",
        "response": {"instructions": 'Say exactly this: "Hello, thanks for calling."'},
    }


async def test_an_interruption_cancels_and_truncates_to_what_was_heard(
    fake: OpenAIRealtimeFake, phone: OpenAIRealtimeConnection
) -> None:
    fake.chunk_delay_s = 0.02
    fake.script(Reply(("A long answer that goes on and on for quite a while, " * 3,)))
    await phone.send(Respond())
    first = await until(phone, lambda e: isinstance(e, AudioOut))
    item_id = next(e.item_id for e in first if isinstance(e, AudioOut))
    await phone.send(CancelResponse())
    await phone.send(Truncate(item_id, 60))
    rest = await until(phone, lambda e: isinstance(e, ResponseDone))
    assert rest[-1] == ResponseDone("cancelled", 21, 8)
    assert fake.last.audio_ms[item_id] < 3000  # cut short
    assert fake.last.truncated == [(item_id, 60)]
    # Past the audio the model sent: refused, and the session goes on.
    await phone.send(Truncate(item_id, 10**6))
    refused = await until(phone, lambda e: isinstance(e, RealtimeNotice))
    assert "(audio_end_ms)" in refused[-1].message
    assert fake.last.truncated == [(item_id, 60)]


async def test_a_tool_call_and_its_output(
    fake: OpenAIRealtimeFake, phone: OpenAIRealtimeConnection
) -> None:
    fake.script(
        Reply(calls=(ScriptedCall("get_weather", {"city": "Lyon"}, id="call_1"),)),
        Reply(("It is sunny in Lyon.",)),
    )
    await phone.send(Respond())
    calls = await until(phone, lambda e: isinstance(e, ResponseDone))
    assert ToolCallRequested("call_1", "get_weather", '{"city": "Lyon"}') in calls
    await phone.send(ToolOutput("call_1", '{"sky": "sunny"}'))
    await phone.send(Respond())
    answer = await until(phone, lambda e: isinstance(e, ResponseDone))
    assert fake.last.tool_outputs == [("call_1", '{"sky": "sunny"}')]
    assert "".join(e.text for e in answer if isinstance(e, TranscriptOut)) == "It is sunny in Lyon."
    item = next(e for e in fake.last.received if e["type"] == "conversation.item.create")
    assert item["item"] == {
        "type": "function_call_output",
        "call_id": "call_1",
        "output": '{"sky": "sunny"}',
    }


async def test_a_wrong_key_is_an_auth_error(fake: OpenAIRealtimeFake) -> None:
    with pytest.raises(ProviderAuthError, match="HTTP 401"):
        await model_for(fake, "sk-wrong").connect(RealtimeOptions())


async def test_an_unavailable_service_is_unavailable(fake: OpenAIRealtimeFake) -> None:
    fake.refuse = [503]
    with pytest.raises(ProviderUnavailable, match="HTTP 503"):
        await model_for(fake).connect(RealtimeOptions())


async def test_a_refused_configuration_fails_the_connect(fake: OpenAIRealtimeFake) -> None:
    with pytest.raises(ProviderRequestError, match="voice"):
        await model_for(fake).connect(RealtimeOptions(voice="rachel"))
    async with asyncio.timeout(10):  # only catches a hang: the adapter closes it
        await fake.last.closed.wait()


async def test_an_error_the_session_closes_after_ends_the_events(fake: OpenAIRealtimeFake) -> None:
    fake.fail_set_up = {"type": "server_error", "code": None, "message": "The server had an error."}
    fake.close_after_error = True
    with pytest.raises(ProviderUnavailable, match="The server had an error"):
        await model_for(fake).connect(RealtimeOptions())
