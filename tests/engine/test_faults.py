"""Issue 13, finding 6: a provider fault is a sentence, not silence. A reply no LLM
gives becomes error_message and the call goes on (max_error_messages of them in a
row, then a goodbye and the end); an empty answer moves on to the fallback; a failing
voice or transcriber is replaced mid-call; the record names who served each turn."""

from __future__ import annotations

import pytest

from callwright.engine.config import ERROR_GOODBYE
from callwright.engine.events import (
    AssistantMessage,
    EndReason,
    LlmError,
    ProviderFailed,
    UserMessage,
)
from callwright.engine.llm_fallback import LAST_PROVIDER_TIMEOUT_S
from callwright.providers.errors import ProviderUnavailable
from callwright.providers.fakes import EnergyVAD, FailsAfter, Hang, speech
from callwright.transports.loopback import LoopbackTransport
from tests.engine.harness import Call, make_call, run_call
from tests.engine.test_conversation import hang_up_after

SORRY = "Sorry, a glitch on my side. Please say that again."
HTTP_500 = ProviderUnavailable("openai", "HTTP 500")
EMPTY = "the stream ended without an answer (no text, no tool)"


def turns(count: int, *, gap_s: float = 6.0):  # type: ignore[no-untyped-def]
    """A caller who speaks ``count`` times, ``gap_s`` apart, then hangs up."""
    steps: list[tuple[str, float]] = []
    for _ in range(count):
        steps += [("say", 0.6), ("silence", gap_s)]
    return hang_up_after(*steps)


def audio_seconds_between(call: Call, start: float, end: float) -> float:
    """Seconds of the assistant's audio sent to the caller in [start, end)."""
    rate = call.transport.sample_rate
    return sum(len(s.pcm16) / 2 / rate for s in call.transport.sent if start <= s.at < end)


# -- the LLM: error_message, max_error_messages ----------------------------------------


async def test_error_message_is_said_when_every_llm_fails_and_the_call_goes_on() -> None:
    call = make_call(
        error_message=SORRY,
        utterances=("Hello?", "Are you there?"),
        replies=[HTTP_500, "Yes, I am here."],
    )
    await run_call(call, turns(2))
    assert call.transcript == [
        ("user", "Hello?", False),
        ("assistant", SORRY, False),
        ("user", "Are you there?", False),
        ("assistant", "Yes, I am here.", False),
    ]
    apology, answer = call.of(AssistantMessage)
    assert apology.apology_for == "openai: HTTP 500"
    assert answer.apology_for is None
    # Said like every other sentence: synthesised, sent as audio, seen by the model.
    assert [text for text, _ in call.tts.requests] == [SORRY, "Yes, I am here."]
    first, second = call.of(UserMessage)
    assert audio_seconds_between(call, first.at, second.at) == pytest.approx(
        len(SORRY) * call.tts.seconds_per_char, abs=0.1
    )
    assert call.llm.requests[1].messages[-2].content == SORRY
    assert call.end.reason is EndReason.CUSTOMER_ENDED_CALL
    failed, answered = call.timings
    assert (failed.llm_provider, failed.llm_errors) == (
        None,
        [LlmError("scripted-llm", "HTTP 500")],
    )
    assert (answered.llm_provider, answered.llm_errors) == ("scripted-llm", [])


@pytest.mark.parametrize("max_error_messages", [0, 1])
async def test_max_error_messages_in_a_row_then_the_next_failure_ends_the_call(
    max_error_messages: int,
) -> None:
    failures = max_error_messages + 1
    call = make_call(
        error_message=SORRY,
        max_error_messages=max_error_messages,
        end_call_message="Please call back later. Goodbye.",
        utterances=("One.", "Two.", "Three."),
        replies=[HTTP_500] * 3,
    )
    await run_call(call, turns(3))
    said = [text for role, text, _ in call.transcript if role == "assistant"]
    assert said == [SORRY] * max_error_messages + ["Please call back later. Goodbye."]
    assert len(call.llm.requests) == failures
    assert call.end.reason is EndReason.LLM_FAILED
    assert call.end.detail == "openai: HTTP 500"
    assert call.transport.hung_up == "pipeline-error-llm-failed"
    assert call.ended_hook == [EndReason.LLM_FAILED]


async def test_without_an_end_call_message_the_goodbye_is_still_said() -> None:
    call = make_call(max_error_messages=0, utterances=("Hello?",), replies=[HTTP_500])
    await run_call(call, turns(1))
    assert call.transcript[-1] == ("assistant", ERROR_GOODBYE, False)
    assert call.end.reason is EndReason.LLM_FAILED


async def test_an_answered_reply_starts_the_count_of_failures_again() -> None:
    call = make_call(
        error_message=SORRY,
        max_error_messages=1,
        utterances=("One.", "Two.", "Three."),
        replies=[HTTP_500, "Fine.", HTTP_500],
    )
    await run_call(call, turns(3))
    said = [text for role, text, _ in call.transcript if role == "assistant"]
    assert said == [SORRY, "Fine.", SORRY]
    assert call.end.reason is EndReason.CUSTOMER_ENDED_CALL


async def test_a_hung_llm_gets_the_error_message_once_its_deadline_has_passed() -> None:
    call = make_call(error_message=SORRY, utterances=("Hello?",), replies=[Hang()])
    await run_call(call, turns(1, gap_s=LAST_PROVIDER_TIMEOUT_S + 8))
    (timing,) = call.timings
    assert timing.llm_errors == [
        LlmError("scripted-llm", f"no first token within {LAST_PROVIDER_TIMEOUT_S:.1f} s")
    ]
    assert call.transcript[-1] == ("assistant", SORRY, False)
    assert timing.llm_request_at is not None
    out = [s.at for s in call.transport.sent if s.at > timing.llm_request_at]
    # The deadline, then the voice's first audio: not a moment of silence more.
    assert out[0] == pytest.approx(
        timing.llm_request_at + LAST_PROVIDER_TIMEOUT_S + call.tts.first_audio_s, abs=0.05
    )
    assert call.end.reason is EndReason.CUSTOMER_ENDED_CALL


@pytest.mark.parametrize("empty", ["", "   "])
async def test_an_empty_answer_is_a_failure_and_the_fallback_answers(empty: str) -> None:
    call = make_call(
        utterances=("Hello?",), replies=[empty], fallback_replies=["Hi, the backup here."]
    )
    await run_call(call, turns(1))
    assert call.transcript[-1] == ("assistant", "Hi, the backup here.", False)
    (timing,) = call.timings
    assert timing.llm_provider == "fallback"
    assert timing.llm_errors == [LlmError("scripted-llm", EMPTY)]


async def test_an_empty_answer_without_a_fallback_gets_the_error_message() -> None:
    call = make_call(error_message=SORRY, utterances=("Hello?",), replies=[""])
    await run_call(call, turns(1))
    (apology,) = call.of(AssistantMessage)
    assert (apology.text, apology.apology_for) == (SORRY, f"scripted-llm: {EMPTY}")


async def test_a_failure_mid_reply_keeps_what_was_said_then_says_the_error_message() -> None:
    broken = FailsAfter("We open at nine. On Saturdays we", ProviderUnavailable("openai", "reset"))
    call = make_call(
        error_message=SORRY,
        utterances=("When are you open?", "And on Sunday?"),
        replies=[broken, "Closed on Sunday."],
    )
    await run_call(call, turns(2, gap_s=8))
    assert call.transcript == [
        ("user", "When are you open?", False),
        ("assistant", "We open at nine.", False),
        ("assistant", SORRY, False),
        ("user", "And on Sunday?", False),
        ("assistant", "Closed on Sunday.", False),
    ]
    said, apology, _ = call.of(AssistantMessage)
    assert (said.apology_for, apology.apology_for) == (None, "openai: reset")
    # The model sees what the caller heard, the half answer included.
    assert [m.content for m in call.llm.requests[1].messages[-3:-1]] == ["We open at nine.", SORRY]


async def test_the_turn_names_the_fallback_that_answered_and_the_llm_that_failed() -> None:
    call = make_call(
        utterances=("Hello?", "Again?"),
        replies=[HTTP_500, "From the primary."],
        fallback_replies=["From the fallback."],
    )
    await run_call(call, turns(2))
    first, second = call.timings
    assert (first.llm_provider, first.llm_errors) == (
        "fallback",
        [LlmError("scripted-llm", "HTTP 500")],
    )
    assert (second.llm_provider, second.llm_errors) == ("scripted-llm", [])
    assert call.of(AssistantMessage)[0].apology_for is None


# -- the voice --------------------------------------------------------------------------


@pytest.mark.parametrize("fail_after_chunks", [0, 2])
async def test_a_failing_voice_is_replaced_and_the_sentence_is_still_spoken(
    fail_after_chunks: int,
) -> None:
    call = make_call(
        utterances=("Hello?",),
        replies=["Hi there. How can I help you today?"],
        fallback_voices=("offline-voice",),
    )
    call.tts.fail_with = ProviderUnavailable("elevenlabs", "HTTP 500")
    call.tts.fail_after_chunks = fail_after_chunks
    await run_call(call, turns(1, gap_s=8))
    (voice,) = call.voices
    assert call.transcript[-1] == ("assistant", "Hi there. How can I help you today?", False)
    # The primary failed once; the offline voice said the whole sentence, and the next.
    assert [text for text, _ in call.tts.requests] == ["Hi there."]
    assert [text for text, _ in voice.requests] == ["Hi there.", "How can I help you today?"]
    (failed,) = call.of(ProviderFailed)
    assert (failed.kind, failed.provider, failed.replacement) == (
        "tts",
        "tone-tts",
        "offline-voice",
    )
    assert failed.error == "HTTP 500"
    (timing,) = call.timings
    assert timing.tts_provider == ("tone-tts" if fail_after_chunks else "offline-voice")
    spoken = len("Hi there.How can I help you today?") * voice.seconds_per_char
    partial = fail_after_chunks * call.tts.chunk_s
    (user,) = call.of(UserMessage)
    assert audio_seconds_between(call, user.at, call.end.at) == pytest.approx(
        spoken + partial, abs=0.05
    )


async def test_a_voice_that_sends_no_audio_in_time_is_replaced() -> None:
    call = make_call(
        utterances=("Hello?",),
        replies=["Hi there."],
        fallback_voices=("offline-voice",),
        first_audio_timeout_s=2.0,
    )
    call.tts.first_audio_s = 600.0
    await run_call(call, turns(1, gap_s=8))
    assert call.transcript[-1] == ("assistant", "Hi there.", False)
    (failed,) = call.of(ProviderFailed)
    assert failed.error == "no audio within 2 s"
    (timing,) = call.timings
    assert timing.tts_request_at is not None
    assert timing.tts_first_audio_at is not None
    (voice,) = call.voices
    assert timing.tts_first_audio_at - timing.tts_request_at == pytest.approx(
        2.0 + voice.first_audio_s, abs=0.02
    )


# -- the transcriber --------------------------------------------------------------------


async def test_a_failed_transcriber_is_replaced_and_the_callers_next_words_are_heard() -> None:
    call = make_call(
        utterances=("Hello?",),
        fallback_transcriber=("Are you still there?",),
        replies=["Hi.", "Yes, I am."],
    )

    async def caller(transport: LoopbackTransport) -> None:
        await transport.say(speech(0.6))
        await transport.silence(4)
        call.stt.fail_with = ProviderUnavailable("deepgram", "connection lost")
        await transport.silence(1)
        await transport.say(speech(0.8))
        await transport.silence(4)
        await transport.hang_up_caller()

    await run_call(call, caller)
    assert call.transcript == [
        ("user", "Hello?", False),
        ("assistant", "Hi.", False),
        ("user", "Are you still there?", False),
        ("assistant", "Yes, I am.", False),
    ]
    (failed,) = call.of(ProviderFailed)
    assert (failed.kind, failed.provider, failed.replacement) == (
        "stt",
        "scripted-stt",
        "offline-stt",
    )
    assert [timing.stt_provider for timing in call.timings] == ["scripted-stt", "offline-stt"]
    assert call.end.reason is EndReason.CUSTOMER_ENDED_CALL


async def test_the_words_being_said_when_the_transcriber_fails_reach_the_next_one() -> None:
    call = make_call(
        utterances=("Hello there?",),
        fallback_transcriber=("Hello there?",),
        replies=["Hi."],
    )

    async def caller(transport: LoopbackTransport) -> None:
        await transport.say(speech(0.4))
        call.stt.fail_with = ProviderUnavailable("deepgram", "connection lost")
        await transport.say(speech(0.4))
        await transport.silence(4)
        await transport.hang_up_caller()

    await run_call(call, caller)
    assert call.transcript == [("user", "Hello there?", False), ("assistant", "Hi.", False)]
    assert call.fallback_stt is not None
    # All of the utterance, not only what came after the failure.
    assert call.fallback_stt.speech_heard_s == pytest.approx(0.8, abs=0.03)


async def test_a_phone_call_on_an_8khz_transcriber_fails_over_to_a_16khz_one() -> None:
    """Deepgram built for the line's 8 kHz, the offline whisper behind it at 16 kHz: the
    utterance in progress is replayed to it upsampled, and the caller is heard."""
    call = make_call(
        transport_rate=8000,
        stt_rate=8000,
        vad=EnergyVAD(8000, 256),
        utterances=("Hello there?",),
        fallback_transcriber=("Hello there?",),
        replies=["Hi."],
    )

    async def caller(transport: LoopbackTransport) -> None:
        await transport.say(speech(0.4, 8000))
        call.stt.fail_with = ProviderUnavailable("deepgram", "connection lost")
        await transport.say(speech(0.4, 8000))
        await transport.silence(4)
        await transport.hang_up_caller()

    await run_call(call, caller)
    assert call.transcript == [("user", "Hello there?", False), ("assistant", "Hi.", False)]
    assert call.fallback_stt is not None
    assert call.fallback_stt.sample_rate == 16000
    assert call.stt.speech_heard_s == pytest.approx(0.4, abs=0.03)
    # All of the utterance, at the fallback's own rate (8 kHz bytes read as 16 kHz
    # would be half as long).
    assert call.fallback_stt.speech_heard_s == pytest.approx(0.8, abs=0.03)


async def test_a_transcriber_that_cannot_start_is_replaced_before_the_call_begins() -> None:
    call = make_call(utterances=("Hello?",), fallback_transcriber=("Hello?",), replies=["Hi."])
    call.stt.fail_with = ProviderUnavailable("deepgram", "HTTP 401")
    await run_call(call, turns(1))
    assert call.transcript == [("user", "Hello?", False), ("assistant", "Hi.", False)]
    (failed,) = call.of(ProviderFailed)
    assert (failed.provider, failed.replacement) == ("scripted-stt", "offline-stt")
