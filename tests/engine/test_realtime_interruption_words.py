"""Realtime mode: the interruption settings that need the caller's words act on the
model's transcript of the caller's turn (decision 018). Speech over an answer too short
for ``min_speaking_time`` still interrupts once its transcript holds an interruption
phrase or reaches ``interruption_threshold`` words, and that turn is answered; an
acknowledgement, or fewer words than the threshold, lets the answer play on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from callwright.engine.events import AssistantMessage, EndReason, Interruption, UserMessage
from callwright.providers.fakes import speech
from tests.engine.test_realtime_session import KEY, LONG, Call, config_of
from tests.vendor_fakes import Reply, serve
from tests.vendor_fakes.openai_realtime import OpenAIRealtimeFake

QUESTION = "When do you open?"


@pytest.fixture
async def fakes() -> AsyncIterator[Any]:
    """A fake per caller's second line (what the caller says over the answer)."""
    running: list[Any] = []

    async def make(over: str) -> OpenAIRealtimeFake:
        fake = OpenAIRealtimeFake(api_key=KEY, heard=(QUESTION, over))
        fake.chunk_delay_s = 0.06  # still talking when the caller speaks over it
        context = serve(fake.app)
        fake.url = (await context.__aenter__()) + "/v1"
        running.append(context)
        return fake

    yield make
    for context in running:
        await context.__aexit__(None, None, None)


async def _spoken_over(fake: OpenAIRealtimeFake, **interruption: Any) -> Call:
    """The caller asks, the answer plays, the caller speaks 0.4 s over it (less than
    any time test below), then stays quiet until the call has answered twice or the
    first answer played out."""
    fake.script(Reply((LONG,)), Reply(("We open at eight.",)))
    config = config_of(
        first_message_mode="assistant-waits-for-user",
        interruption_settings={"interruption_cooldown": 0, **interruption},
    )
    call = Call(fake, config)
    running = asyncio.create_task(call.session.run())
    await call.until(lambda: bool(fake.sessions) and bool(fake.last.config))
    await call.transport.say(speech(0.6, 8000))
    await call.until(lambda: len(call.transport.sent) > 5)  # the answer is playing
    await call.transport.say(speech(0.4, 8000))
    await call.until(lambda: len(call.of(AssistantMessage)) >= 2 or fake.heard_index >= 2)
    await call.until(lambda: len(call.of(AssistantMessage)) >= 1)
    await call.transport.silence(0.5)  # a transcript's answer, if any, has begun
    await call.until(lambda: not call.session._voice.replying)
    await call.transport.hang_up_caller()
    assert await running is EndReason.CUSTOMER_ENDED_CALL
    return call


def _interrupted(fake: OpenAIRealtimeFake, call: Call) -> bool:
    first = call.of(AssistantMessage)[0]
    return bool(call.of(Interruption)) and first.interrupted and bool(fake.last.truncated)


async def test_interruption_phrases_cut_the_answer_from_the_callers_transcript(
    fakes: Any,
) -> None:
    fake = await fakes("Wait, is it open on Sunday?")
    call = await _spoken_over(
        fake, min_speaking_time=3, interruption_threshold=20, interruption_phrases=["wait"]
    )
    assert _interrupted(fake, call)
    # The turn that interrupted is the caller's and is answered.
    assert [m.text for m in call.of(UserMessage)] == [QUESTION, "Wait, is it open on Sunday?"]
    assert call.of(AssistantMessage)[-1].text == "We open at eight."


async def test_interruption_phrases_not_said_leave_the_answer_playing(fakes: Any) -> None:
    fake = await fakes("Wait, is it open on Sunday?")
    call = await _spoken_over(
        fake, min_speaking_time=3, interruption_threshold=20, interruption_phrases=["halt"]
    )
    assert not _interrupted(fake, call)
    assert [m.text for m in call.of(UserMessage)] == [QUESTION]
    assert len(call.of(AssistantMessage)) == 1


async def test_interruption_threshold_words_in_the_transcript_cut_the_answer(
    fakes: Any,
) -> None:
    fake = await fakes("Is it open on Sunday?")
    call = await _spoken_over(
        fake, min_speaking_time=3, interruption_threshold=5, interruption_phrases=[]
    )
    assert _interrupted(fake, call)
    assert call.of(AssistantMessage)[-1].text == "We open at eight."


async def test_interruption_threshold_not_reached_leaves_the_answer_playing(
    fakes: Any,
) -> None:
    fake = await fakes("Is it open on Sunday?")
    # No time test: only the words decide, once the transcript is in.
    call = await _spoken_over(
        fake, min_speaking_time=0, interruption_threshold=6, interruption_phrases=[]
    )
    assert not _interrupted(fake, call)
    assert len(call.of(AssistantMessage)) == 1


async def test_acknowledgement_phrases_never_interrupt_when_the_words_decide(
    fakes: Any,
) -> None:
    fake = await fakes("Yeah, okay, sure, got it.")
    call = await _spoken_over(
        fake,
        min_speaking_time=0,
        interruption_threshold=2,
        interruption_phrases=[],
        acknowledgement_phrases=["yeah", "okay", "sure", "got it"],
    )
    assert not _interrupted(fake, call)
    assert [m.text for m in call.of(UserMessage)] == [QUESTION]


async def test_an_end_call_trigger_phrase_spoken_over_an_answer_ends_the_call(
    fakes: Any,
) -> None:
    fake = await fakes("Wait, goodbye now.")
    fake.script(Reply((LONG,)))
    config = config_of(
        first_message_mode="assistant-waits-for-user",
        end_call_trigger_phrase="goodbye",
        end_call_message="Bye then.",
        interruption_settings={
            "interruption_cooldown": 0,
            "min_speaking_time": 3,
            "interruption_threshold": 20,
            "interruption_phrases": ["wait"],
        },
    )
    call = Call(fake, config)
    running = asyncio.create_task(call.session.run())
    await call.until(lambda: bool(fake.sessions) and bool(fake.last.config))
    await call.transport.say(speech(0.6, 8000))
    await call.until(lambda: len(call.transport.sent) > 5)
    await call.transport.say(speech(0.4, 8000))
    await call.until(lambda: running.done())
    assert running.result() is EndReason.CUSTOMER_SAID_END_CALL_PHRASE
    assert [m.text for m in call.of(UserMessage)] == [QUESTION, "Wait, goodbye now."]
    assert call.of(AssistantMessage)[-1].text == "Bye then."
