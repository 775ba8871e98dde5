"""``GeminiTurns`` fed parsed server messages: the turns the Live API fake never plays
(an answer asked for that says nothing or is cut before it began, an answer begun with
no caller words heard, a bad audio part, a cancelled answer's function calls) and the
connection moving to a new WebSocket. The fake-server tests in test_gemini_live.py
cover the rest."""

from __future__ import annotations

import base64
from typing import Any

from callwright.providers.realtime.gemini_turns import GeminiTurns
from callwright.providers.realtime.protocol import (
    AudioOut,
    CallerSpeechStarted,
    CallerSpeechStopped,
    CallerTranscript,
    CallerTurnCommitted,
    CancelResponse,
    RealtimeNotice,
    Respond,
    ResponseDone,
    ToolOutput,
)

ONE_SECOND = bytes(48_000)  # of the caller's PCM16 24 kHz
SPEECH = b"\x01\x02" * 120  # the model's PCM16 24 kHz, passed through as is


def audio(pcm24: bytes) -> dict[str, Any]:
    data = base64.b64encode(pcm24).decode("ascii")
    part = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": data}}
    return {"serverContent": {"modelTurn": {"parts": [part]}}}


def content(**fields: Any) -> dict[str, Any]:
    return {"serverContent": fields}


def browser_call() -> GeminiTurns:
    """A browser call (PCM16 24 kHz both ways: no resampling) one second in."""
    turns = GeminiTurns("pcm24")
    turns.caller_audio(ONE_SECOND)
    return turns


def test_an_unasked_answer_with_no_words_heard_commits_an_empty_caller_turn() -> None:
    turns = browser_call()
    assert turns.events(audio(SPEECH)) == [
        CallerSpeechStarted(1000),
        CallerSpeechStopped(1000),
        CallerTurnCommitted("in-2", "out-1"),
        CallerTranscript("in-2", ""),
        AudioOut("out-1", SPEECH),
    ]
    assert turns.command(Respond()) is None  # Gemini answers it by itself


def test_an_answer_asked_for_that_says_nothing_is_done() -> None:
    turns = browser_call()
    assert turns.command(Respond()) == {"clientContent": {"turnComplete": True}}
    usage = {"promptTokenCount": 12, "responseTokenCount": 0}
    assert turns.events({"usageMetadata": usage, **content(turnComplete=True)}) == [
        ResponseDone("completed", 12, 0)
    ]
    assert turns.events(content(turnComplete=True)) == []  # nothing else was asked


def test_an_answer_cut_before_it_began_is_no_longer_awaited() -> None:
    """``interrupted`` before any of the answer asked for: the caller spoke, and the
    model's next turn answers the caller, not the ``Respond``."""
    turns = browser_call()
    turns.command(Respond())
    assert turns.events(content(interrupted=True)) == [CallerSpeechStarted(1000)]
    turns.events(content(inputTranscription={"text": "Hello?"}))
    assert turns.events(audio(SPEECH)) == [
        CallerSpeechStopped(1000),
        CallerTurnCommitted("in-1", "out-2"),
        CallerTranscript("in-1", "Hello?"),
        AudioOut("out-2", SPEECH),
    ]


def test_an_audio_part_that_is_not_base64_is_a_notice() -> None:
    turns = browser_call()
    bad = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": "not base64!"}}
    message = content(modelTurn={"parts": [bad]})
    assert turns.events(message) == [RealtimeNotice("an audio part was not base64")]
    turns.command(Respond())
    assert turns.events(audio(SPEECH)) == [AudioOut("out-1", SPEECH)]  # no turn began


def test_a_cancelled_answer_drops_its_function_calls() -> None:
    turns = browser_call()
    turns.command(Respond())
    assert turns.events(audio(SPEECH)) == [AudioOut("out-1", SPEECH)]
    assert turns.command(CancelResponse()) is None
    call = {"id": "call_1", "name": "get_weather", "args": {"city": "Lyon"}}
    assert turns.events({"toolCall": {"functionCalls": [call]}}) == [
        ResponseDone("cancelled", item_id="out-1")
    ]
    assert turns.events(content(turnComplete=True)) == []  # the server's end of it
    # Its result still goes back under the call's name.
    assert turns.command(ToolOutput("call_1", "sunny")) == {
        "toolResponse": {
            "functionResponses": [
                {"id": "call_1", "name": "get_weather", "response": {"output": "sunny"}}
            ]
        }
    }


def test_moving_to_a_new_connection_cancels_the_answer_under_way() -> None:
    turns = browser_call()
    turns.command(Respond())
    turns.events({"usageMetadata": {"promptTokenCount": 9, "responseTokenCount": 4}})
    turns.events(audio(SPEECH))
    assert turns.cancel_turn() == [ResponseDone("cancelled", 9, 4, item_id="out-1")]
    assert turns.cancel_turn() == []


def test_what_the_old_connection_was_asked_is_forgotten_on_the_new_one() -> None:
    turns = browser_call()
    turns.events(content(inputTranscription={"text": "Hi"}))  # a caller turn being heard
    turns.command(Respond())  # asked of the old connection, never begun
    turns.reconnected()
    # The new connection's answer is the caller's, whose words went with the old one.
    assert turns.events(audio(SPEECH))[:4] == [
        CallerSpeechStarted(1000),
        CallerSpeechStopped(1000),
        CallerTurnCommitted("in-3", "out-2"),
        CallerTranscript("in-3", ""),
    ]
    turns.events(content(turnComplete=True))
    turns.reconnected()
    # The Respond owed for that answer is asked of the new connection.
    assert turns.command(Respond()) == {"clientContent": {"turnComplete": True}}
