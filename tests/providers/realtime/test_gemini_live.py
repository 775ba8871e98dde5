"""Contract tests: ``GeminiLive`` against the Live API fake — the setup, audio both
ways (μ-law 8 kHz ↔ Gemini's PCM16 16 kHz in / 24 kHz out), a caller turn Gemini
answers by itself, an interruption, a tool call and the errors its close codes mean."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from callwright.providers.errors import ProviderAuthError, ProviderRequestError, ProviderUnavailable
from callwright.providers.fakes import speech
from callwright.providers.realtime.gemini import GeminiLive, GeminiLiveConnection
from callwright.providers.realtime.protocol import (
    AudioOut,
    CallerSpeechStarted,
    CallerSpeechStopped,
    CallerText,
    CallerTranscript,
    CallerTurnCommitted,
    CancelResponse,
    RealtimeEvent,
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
from tests.vendor_fakes.gemini_live import GeminiLiveFake

KEY = "gemini-test-key"
MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"


@pytest.fixture
async def fake() -> AsyncIterator[GeminiLiveFake]:
    fake = GeminiLiveFake(api_key=KEY, heard=("What are your opening hours?",))
    async with serve(fake.app) as url:
        fake.url = url
        yield fake


def model_for(fake: GeminiLiveFake, key: str = KEY) -> GeminiLive:
    return GeminiLive(key, base_url=fake.url, model=MODEL)


@pytest.fixture
async def phone(fake: GeminiLiveFake) -> AsyncIterator[GeminiLiveConnection]:
    connection = await model_for(fake).connect(bakery_options("Kore"))
    try:
        yield connection
    finally:
        await connection.aclose()


def _text(events: list[RealtimeEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TranscriptOut))


async def test_the_set_up_is_one_setup_message(
    fake: GeminiLiveFake, phone: GeminiLiveConnection
) -> None:
    session = fake.last
    assert session.query == {"key": KEY}
    assert session.kinds() == ["setup"]
    assert session.setup == {
        "model": f"models/{MODEL}",
        "generationConfig": {
            "responseModalities": ["AUDIO"],
            "speechConfig": {
                "voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Kore"}},
                "languageCode": "en-US",
            },
            "maxOutputTokens": 900,
        },
        "systemInstruction": {"parts": [{"text": "You answer the phone for a bakery."}]},
        "realtimeInputConfig": {
            "automaticActivityDetection": {
                "disabled": False,
                "silenceDurationMs": 400,
                "prefixPaddingMs": 300,
            },
            "activityHandling": "START_OF_ACTIVITY_INTERRUPTS",
        },
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "get_weather",
                        "description": "The weather in a city.",
                        "parametersJsonSchema": dict(WEATHER.parameters),
                    }
                ]
            }
        ],
        "inputAudioTranscription": {},
        "outputAudioTranscription": {},
        "sessionResumption": {},
    }


async def test_semantic_eagerness_is_the_end_of_speech_sensitivity(fake: GeminiLiveFake) -> None:
    options = RealtimeOptions(
        audio="pcm24", turn_detection="semantic_vad", eagerness="high", transcription_model=None
    )
    connection = await model_for(fake).connect(options)
    await connection.aclose()
    setup = fake.last.setup
    assert setup["realtimeInputConfig"]["automaticActivityDetection"] == {
        "disabled": False,
        "endOfSpeechSensitivity": "END_SENSITIVITY_HIGH",
    }
    assert "inputAudioTranscription" not in setup
    # No voice named: Gemini's default prebuilt voice.
    assert setup["generationConfig"]["speechConfig"]["voiceConfig"] == {
        "prebuiltVoiceConfig": {"voiceName": "Puck"}
    }


async def test_a_caller_turn_gemini_answers_by_itself(
    fake: GeminiLiveFake, phone: GeminiLiveConnection
) -> None:
    fake.script(Reply(("We open at eight ", "and close at six.")))
    await say_to(phone, speech(0.6, 8000) + bytes(2 * 8000))  # 0.6 s of speech, 1 s quiet
    events = await until(phone, lambda e: isinstance(e, ResponseDone))
    kinds = [type(e) for e in events[:4]]
    assert kinds == [
        CallerSpeechStarted,
        CallerSpeechStopped,
        CallerTurnCommitted,
        CallerTranscript,
    ]
    committed = events[2]
    assert isinstance(committed, CallerTurnCommitted)
    assert events[3] == CallerTranscript(committed.item_id, "What are your opening hours?")
    # μ-law 8 kHz in, PCM16 16 kHz to Gemini: 1.6 s of it.
    assert fake.last.input_rates == {16_000}
    assert fake.last.caller_audio_ms == pytest.approx(1600, abs=5)
    # The session's Respond for that turn asks nothing more of Gemini.
    await phone.send(Respond())
    assert [m for m in fake.last.received if "clientContent" in m] == []

    audio = [e for e in events if isinstance(e, AudioOut)]
    assert _text(events) == "We open at eight and close at six."
    assert len({e.item_id for e in audio}) == 1
    out = b"".join(e.audio for e in audio)
    # Gemini's 24 kHz as μ-law 8 kHz (one byte a sample), as long as the fake said.
    assert len(out) / 8 == pytest.approx(fake.last.audio_ms[0], abs=2)
    # The answer Gemini began by itself, named in the commit and in its end.
    assert committed.answer_id == audio[0].item_id
    assert events[-1] == ResponseDone("completed", 21, 8, item_id=audio[0].item_id)


async def test_fixed_text_is_a_client_content_turn(
    fake: GeminiLiveFake, phone: GeminiLiveConnection
) -> None:
    await phone.send(Respond('Say exactly this: "Hello, thanks for calling."'))
    answer = await until(phone, lambda e: isinstance(e, ResponseDone))
    assert _text(answer) == "Hello, thanks for calling."
    assert not any(isinstance(e, CallerTurnCommitted) for e in answer)  # asked for
    assert fake.last.received[-1] == {
        "clientContent": {
            "turns": [
                {
                    "role": "user",
                    "parts": [{"text": 'Say exactly this: "Hello, thanks for calling."'}],
                }
            ],
            "turnComplete": True,
        }
    }
    await phone.send(CallerText("The caller pressed 4."))
    await phone.send(Respond())  # answered by the clientContent itself
    again = await until(phone, lambda e: isinstance(e, ResponseDone))
    assert _text(again) == "OK."
    assert fake.last.texts[-1] == "The caller pressed 4."
    assert sum(1 for m in fake.last.received if "clientContent" in m) == 2


async def test_caller_speech_over_an_answer_interrupts_it(
    fake: GeminiLiveFake, phone: GeminiLiveConnection
) -> None:
    fake.chunk_delay_s = 0.02
    fake.script(
        Reply(("A long answer that goes on and on for quite a while, " * 3,)), Reply(("Sure.",))
    )
    await phone.send(Respond())
    first = await until(phone, lambda e: isinstance(e, AudioOut))
    item_id = next(e.item_id for e in first if isinstance(e, AudioOut))
    await say_to(phone, speech(0.4, 8000))
    cut = await until(phone, lambda e: isinstance(e, ResponseDone))
    assert isinstance(cut[-1], ResponseDone)
    assert cut[-1].status == "cancelled"
    assert CallerSpeechStarted in [type(e) for e in cut]
    assert fake.last.interruptions == 1
    assert fake.last.audio_ms[0] < 3000  # cut short by Gemini itself
    await phone.send(CancelResponse())  # nothing left to cancel
    await phone.send(Truncate(item_id, 60))  # Gemini has no truncate: nothing is sent
    await say_to(phone, bytes(2 * 8000))
    answer = await until(phone, lambda e: isinstance(e, ResponseDone))
    assert [type(e) for e in answer[:3]] == [
        CallerSpeechStopped,
        CallerTurnCommitted,
        CallerTranscript,
    ]
    assert _text(answer) == "Sure."
    kinds = set(fake.last.kinds())
    assert kinds == {"setup", "clientContent", "realtimeInput"}


async def test_a_cancelled_answer_is_dropped_here(
    fake: GeminiLiveFake, phone: GeminiLiveConnection
) -> None:
    fake.chunk_delay_s = 0.02
    fake.script(Reply(("A long answer that goes on and on for quite a while, " * 2,)))
    await phone.send(Respond())
    await until(phone, lambda e: isinstance(e, AudioOut))
    await phone.send(CancelResponse())
    rest = await until(phone, lambda e: isinstance(e, ResponseDone))
    assert rest[-1].status == "cancelled"  # type: ignore[union-attr]
    assert not any(isinstance(e, AudioOut | TranscriptOut) for e in rest[:-1])


@pytest.mark.parametrize("turn_complete", [False, True], ids=["bare", "turn-complete"])
async def test_a_tool_call_and_its_response(
    fake: GeminiLiveFake, phone: GeminiLiveConnection, turn_complete: bool
) -> None:
    fake.turn_complete_after_tool_call = turn_complete
    fake.script(
        Reply(calls=(ScriptedCall("get_weather", {"city": "Lyon"}, id="call_1"),)),
        Reply(("It is sunny in Lyon.",)),
    )
    await phone.send(Respond())
    calls = await until(phone, lambda e: isinstance(e, ResponseDone))
    assert ToolCallRequested("call_1", "get_weather", '{"city": "Lyon"}') in calls
    await phone.send(ToolOutput("call_1", '{"sky": "sunny"}'))
    await phone.send(Respond())  # Gemini goes on by itself once it has the results
    answer = await until(phone, lambda e: isinstance(e, ResponseDone))
    assert _text(answer) == "It is sunny in Lyon."
    done = [
        (e.status, e.input_tokens, e.output_tokens) for e in answer if isinstance(e, ResponseDone)
    ]
    assert done == [("completed", 21, 8)]
    assert fake.last.tool_results == [
        {"id": "call_1", "name": "get_weather", "response": {"sky": "sunny"}}
    ]
    assert sum(1 for m in fake.last.received if "clientContent" in m) == 1
    # A text result goes as {"output": ...}.
    assert json.loads(json.dumps(fake.last.received[-1])) == {
        "toolResponse": {
            "functionResponses": [
                {"id": "call_1", "name": "get_weather", "response": {"sky": "sunny"}}
            ]
        }
    }


async def test_go_away_resumes_the_session_on_a_new_connection(fake: GeminiLiveFake) -> None:
    fake.go_away = 1
    fake.script(Reply(("Still here.",)))
    connection = await model_for(fake).connect(RealtimeOptions(voice="Kore"))
    try:
        notice = await until(connection, lambda e: isinstance(e, RealtimeNotice))
        assert "50s" in notice[-1].message  # type: ignore[union-attr]
        assert "resuming" in notice[-1].message  # type: ignore[union-attr]
        await connection.send(Respond())
        answer = await until(connection, lambda e: isinstance(e, ResponseDone))
    finally:
        await connection.aclose()
    assert _text(answer) == "Still here."
    first, second = fake.sessions
    assert first.setup["sessionResumption"] == {}
    # The same setup again, naming the handle the first connection gave.
    handle = second.setup["sessionResumption"]["handle"]
    assert fake.handles[handle] == 0
    assert second.resumed_from == 0
    assert {k: v for k, v in second.setup.items() if k != "sessionResumption"} == {
        k: v for k, v in first.setup.items() if k != "sessionResumption"
    }
    assert first.closed.is_set()
    assert [m for m in second.received if "clientContent" in m]  # asked on the new one


async def test_go_away_without_a_handle_is_only_a_notice(fake: GeminiLiveFake) -> None:
    fake.go_away = 1
    fake.handles_withheld = True
    connection = await model_for(fake).connect(RealtimeOptions())
    try:
        notice = await until(connection, lambda e: isinstance(e, RealtimeNotice))
    finally:
        await connection.aclose()
    assert "no handle to resume" in notice[-1].message  # type: ignore[union-attr]
    assert len(fake.sessions) == 1


async def test_a_wrong_key_is_an_auth_error(fake: GeminiLiveFake) -> None:
    with pytest.raises(ProviderAuthError, match="API key not valid"):
        await model_for(fake, "wrong").connect(RealtimeOptions())


async def test_a_refused_setup_fails_the_connect(fake: GeminiLiveFake) -> None:
    with pytest.raises(ProviderRequestError, match="not found"):
        await GeminiLive(KEY, base_url=fake.url, model="gemini-0-none").connect(RealtimeOptions())
    async with asyncio.timeout(10):  # only catches a hang
        await fake.last.closed.wait()
    # OpenAI's voice and model are refused here, before anything is sent.
    sessions = len(fake.sessions)
    with pytest.raises(ProviderRequestError, match="not a Gemini Live voice"):
        await model_for(fake).connect(RealtimeOptions(voice="marin"))
    with pytest.raises(ProviderRequestError, match=r"realtime_settings\.model"):
        await model_for(fake).connect(RealtimeOptions(model="gpt-realtime"))
    assert len(fake.sessions) == sessions


async def test_an_internal_error_close_ends_the_events(fake: GeminiLiveFake) -> None:
    fake.close_on_setup = (1011, "Internal error encountered.")
    with pytest.raises(ProviderUnavailable, match="1011"):
        await model_for(fake).connect(RealtimeOptions())
    fake.close_on_setup = None
    fake.close_after_audio = (100.0, 1011, "Internal error encountered.")
    connection = await model_for(fake).connect(RealtimeOptions())
    try:
        with pytest.raises(ProviderUnavailable, match="Internal error"):
            await _talk_until_closed(connection)
    finally:
        await connection.aclose()


async def _talk_until_closed(connection: GeminiLiveConnection) -> None:
    """Speak, then read events until the server's close ends them (a send after the
    close fails the same way); the timeout only catches a hang."""
    async with asyncio.timeout(10):
        await say_to(connection, speech(0.3, 8000))
        async for _ in connection.events():
            continue


async def test_new_words_over_an_answer_are_not_caller_speech(
    fake: GeminiLiveFake, phone: GeminiLiveConnection
) -> None:
    """A ``clientContent`` sent while the model talks stops that answer (Gemini's
    ``interrupted``): the adapter does not take it for the caller starting to speak."""
    fake.chunk_delay_s = 0.02
    fake.script(Reply(("A long answer that goes on and on for quite a while, " * 2,)))
    await phone.send(Respond())
    await until(phone, lambda e: isinstance(e, AudioOut))
    await phone.send(Respond('Say exactly this: "Sorry, one moment."'))
    events = await until(phone, lambda e: isinstance(e, ResponseDone) and e.status == "completed")
    assert fake.last.interruptions == 1
    assert not any(isinstance(e, CallerSpeechStarted | CallerTurnCommitted) for e in events)
    done = [e.status for e in events if isinstance(e, ResponseDone)]
    assert done == ["cancelled", "completed"]
    assert _text(events).endswith("Sorry, one moment.")


async def test_late_caller_words_belong_to_the_turn_being_answered(
    fake: GeminiLiveFake, phone: GeminiLiveConnection
) -> None:
    fake.late_words = " And on Sunday?"
    fake.script(Reply(("We open at eight.",)))
    await say_to(phone, speech(0.6, 8000) + bytes(2 * 8000))
    events = await until(phone, lambda e: isinstance(e, ResponseDone))
    committed = next(e for e in events if isinstance(e, CallerTurnCommitted))
    transcripts = [e for e in events if isinstance(e, CallerTranscript)]
    assert transcripts == [
        CallerTranscript(committed.item_id, "What are your opening hours?"),
        CallerTranscript(committed.item_id, " And on Sunday?"),
    ]
    assert sum(isinstance(e, CallerSpeechStarted) for e in events) == 1
