"""A reply nobody has heard is withdrawn at once (issue 17): caller speech that starts
before the answer's first audio reached them cancels it with no threshold, and their
turn goes on — the words before and after the pause are one turn, answered once."""

from __future__ import annotations

from callwright.engine.events import AssistantMessage, Interruption, UserMessage
from callwright.providers.fakes import speech
from callwright.runtime.recorder import CallRecorder
from callwright.transports.loopback import LoopbackTransport
from tests.engine.harness import make_call, run_call

FIRST = "I'd like to book a table for"
REST = "four people tonight"
WHOLE = f"{FIRST} {REST}"


def pausing_caller(pause_s: float, then: bytes):  # type: ignore[no-untyped-def]
    """Speaks 0.8 s, pauses ``pause_s``, says ``then``, and waits for the answer."""

    async def caller(transport: LoopbackTransport) -> None:
        await transport.say(speech(0.8))
        await transport.silence(pause_s)
        await transport.say(then)
        await transport.silence(8)
        await transport.hang_up_caller()

    return caller


async def test_speech_before_the_first_audio_withdraws_the_reply_and_the_turn_goes_on() -> None:
    # The turn is taken 0.6 s after the caller stops (1.4 s), the answer's first audio
    # leaves at about 1.7 s; the caller goes on at 1.55 s, before hearing any of it.
    call = make_call(
        utterances=(FIRST, REST),
        replies=["For how many people?", "A table for four, booked."],
    )
    await run_call(call, pausing_caller(0.75, speech(1.0)))

    users = call.of(UserMessage)
    assert [(u.text, u.continues) for u in users] == [(FIRST, False), (WHOLE, True)]
    # Answered once: the withdrawn answer left no message and was never played.
    assert [m.text for m in call.of(AssistantMessage)] == ["A table for four, booked."]
    assert call.of(Interruption) == []
    assert call.transport.sent[0].at > users[1].at
    # The model is asked again with one turn holding both parts, not two turns.
    (*_, last) = call.llm.requests
    assert [m.content for m in last.messages if m.role == "user"] == [WHOLE]


async def test_the_record_keeps_one_line_for_the_continued_turn() -> None:
    call = make_call(
        utterances=(FIRST, REST),
        replies=["For how many people?", "A table for four, booked."],
    )
    await run_call(call, pausing_caller(0.75, speech(1.0)))
    recorder = CallRecorder(started_at=0.0)
    for event in call.events:
        recorder(event)
    assert [(m["role"], m["text"]) for m in recorder.messages] == [
        ("user", WHOLE),
        ("assistant", "A table for four, booked."),
    ]
    assert recorder.messages[0]["seconds_from_start"] < 1.5  # when the turn was first taken


async def test_a_noise_that_withdrew_the_reply_leaves_the_turn_to_be_answered() -> None:
    # The caller's second sound gives no words: the turn they started is answered.
    call = make_call(utterances=(FIRST,), replies=["For how many people?", "How many?"])
    await run_call(call, pausing_caller(0.75, speech(0.3)))
    assert [(u.text, u.continues) for u in call.of(UserMessage)] == [
        (FIRST, False),
        (FIRST, True),
    ]
    assert [m.text for m in call.of(AssistantMessage)] == ["How many?"]
    assert [m.content for m in call.llm.requests[-1].messages if m.role == "user"] == [FIRST]


async def test_speech_after_the_reply_was_heard_goes_by_the_thresholds() -> None:
    # The caller speaks once the answer is playing: heard, so not withdrawn; below the
    # thresholds (one word, 0.3 s) it does not interrupt either.
    call = make_call(
        utterances=(FIRST, "Great."),
        replies=["For how many people would that be?"],
    )
    await run_call(call, pausing_caller(1.5, speech(0.3)))
    assert call.of(UserMessage)[0].text == FIRST
    assert not any(u.continues for u in call.of(UserMessage))
    assert [(m.text, m.interrupted) for m in call.of(AssistantMessage)] == [
        ("For how many people would that be?", False)
    ]
