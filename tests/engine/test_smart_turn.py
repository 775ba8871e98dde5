"""turn_detection "smart" on virtual time: the words (and the audio model) judge each
pause; the silence policy is unchanged; an answer started early is used when the turn
is taken as it was asked, and dropped (counted as wasted) when the caller goes on."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from callwright.engine.events import AssistantMessage, EndReason, ToolCalled, UserMessage
from callwright.engine.smart_turn import SmartEndOfTurn, end_of_turn_policy
from callwright.providers.errors import ProviderUnavailable
from callwright.providers.protocols import ToolCall
from tests.engine.harness import Call, make_call, run_call
from tests.engine.test_conversation import hang_up_after

SMART = {"stt_settings": {"turn_detection": "smart"}}
UNFINISHED = ("I'd like to book a table for", "four people at eight please.")
# 0.8 s of silence after "a table for": longer than the silence policy's 0.5 s.
MID_THOUGHT_PAUSE = hang_up_after(("say", 1.0), ("silence", 0.8), ("say", 1.0), ("silence", 6))
QUESTION = ("What time do you open?",)
ASKED = hang_up_after(("say", 2.0), ("silence", 6))


@dataclass
class FixedTurnModel:
    """An audio model that answers at once with ``probability`` and keeps what it
    was asked (the audio's length in seconds)."""

    probability: float
    name: str = "fixed"
    heard_s: list[float] = field(default_factory=list)

    def predict(self, pcm16: bytes, sample_rate: int) -> asyncio.Future[float]:
        self.heard_s.append(len(pcm16) / 2 / sample_rate)
        answer: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        answer.set_result(self.probability)
        return answer


def endpointing_s(call: Call) -> float:
    (timing,) = call.timings
    assert timing.end_of_turn_at is not None
    assert timing.user_stopped_at is not None
    return timing.end_of_turn_at - timing.user_stopped_at


def smart_call(*, model: FixedTurnModel | None = None, **kwargs: object) -> Call:
    """A call with turn_detection "smart"; with ``model``, the session's policy gets
    it (the runtime injects Smart Turn v3.2 the same way, as a provider)."""
    call = make_call(**SMART, **kwargs)  # type: ignore[arg-type]
    if model is not None:
        config = call.session.config
        policy = SmartEndOfTurn(config.endpointing, config.stt.language, model)
        call = make_call(**SMART, end_of_turn=policy, **kwargs)  # type: ignore[arg-type]
    return call


async def test_the_silence_policy_takes_a_mid_thought_pause_as_the_end_of_a_turn() -> None:
    call = make_call(utterances=UNFINISHED, replies=["Sure.", "Booked."])
    await run_call(call, MID_THOUGHT_PAUSE)
    # The turn was taken after "a table for" (and its answer withdrawn when the
    # caller went on): two requests to the model, the first on half a thought.
    assert call.of(UserMessage)[0].text == UNFINISHED[0]
    assert [r.messages[-1].content for r in call.llm.requests] == [
        UNFINISHED[0],
        " ".join(UNFINISHED),
    ]


async def test_smart_waits_longer_after_a_table_for() -> None:
    call = smart_call(utterances=UNFINISHED, replies=["A table for four at eight: booked."])
    await run_call(call, MID_THOUGHT_PAUSE)
    assert [m.text for m in call.of(UserMessage)] == [" ".join(UNFINISHED)]
    assert len(call.llm.requests) == 1
    assert call.transcript[-1] == ("assistant", "A table for four at eight: booked.", False)


async def test_smart_takes_a_complete_question_sooner_than_the_silence_policy() -> None:
    silence = make_call(utterances=QUESTION, replies=["At nine."])
    smart = smart_call(utterances=QUESTION, replies=["At nine."])
    await run_call(silence, ASKED)
    await run_call(smart, ASKED)
    assert [m.text for m in smart.of(UserMessage)] == list(QUESTION)
    # 0.2 s of silence, then the final (the scripted transcriber's 0.1 s): 0.3 s.
    assert endpointing_s(silence) >= 0.5
    assert endpointing_s(smart) <= 0.31
    assert endpointing_s(smart) + 0.2 <= endpointing_s(silence)


async def test_smart_waits_up_to_utterance_end_ms_when_the_words_are_unfinished() -> None:
    call = make_call(
        utterances=("My number is five five",),
        replies=["And the rest?"],
        stt_settings={"turn_detection": "smart", "utterance_end_ms": 1500},
    )
    await run_call(call, hang_up_after(("say", 2.0), ("silence", 6)))
    assert 1.5 <= endpointing_s(call) < 1.6


async def test_the_audio_model_hears_the_turn_and_its_doubt_waits_longer() -> None:
    unsure = FixedTurnModel(0.05)
    call = smart_call(model=unsure, utterances=("That works for me",), replies=["Okay."])
    await run_call(call, hang_up_after(("say", 1.2), ("silence", 6)))
    # Asked once, at the pause, with the audio so far (1.2 s of speech, the pause).
    (heard,) = unsure.heard_s
    assert 1.2 <= heard < 1.5
    # Words that do not say (UNKNOWN) and an audio model that says "not done": the
    # turn waits utterance_end_ms (1 s).
    assert 1.0 <= endpointing_s(call) < 1.1


async def test_the_audio_model_sure_of_the_end_takes_the_turn_briefly() -> None:
    sure = FixedTurnModel(0.97)
    call = smart_call(model=sure, utterances=("That works for me",), replies=["Okay."])
    await run_call(call, hang_up_after(("say", 1.2), ("silence", 6)))
    assert endpointing_s(call) <= 0.31


async def test_unfinished_words_outweigh_an_audio_model_sure_of_the_end() -> None:
    sure = FixedTurnModel(0.99)
    call = smart_call(model=sure, utterances=UNFINISHED, replies=["Booked."])
    await run_call(call, MID_THOUGHT_PAUSE)
    assert [m.text for m in call.of(UserMessage)] == [" ".join(UNFINISHED)]


async def test_an_answer_started_early_is_used_when_the_turn_is_taken_as_asked() -> None:
    call = smart_call(utterances=QUESTION, replies=["At nine."])
    await run_call(call, ASKED)
    (request,) = call.llm.requests  # one request: the early one, used
    assert request.messages[-1].content == "What time do you open?"
    (timing,) = call.timings
    assert timing.preempted
    assert timing.preemptions_wasted == 0
    # Sent before the turn was taken: the model's first-token time overlaps the wait.
    assert timing.llm_request_at is not None
    assert timing.end_of_turn_at is not None
    assert timing.llm_request_at < timing.end_of_turn_at
    assert call.transcript == [("user", QUESTION[0], False), ("assistant", "At nine.", False)]


async def test_an_answer_started_early_is_dropped_when_the_caller_goes_on() -> None:
    call = smart_call(
        utterances=("Can you book me a table?", "For four people at eight."),
        replies=["(never heard)", "Done: four people at eight."],
    )
    # The final is slow: the caller goes on (after 0.25 s) before it is in.
    call.stt.final_latency_s = 0.4
    await run_call(
        call, hang_up_after(("say", 2.2), ("silence", 0.25), ("say", 1.5), ("silence", 6))
    )
    first, second = call.llm.requests
    assert first.messages[-1].content == "Can you book me a table?"
    both = "Can you book me a table? For four people at eight."
    assert second.messages[-1].content == both
    # The turn taken counts the early request wasted on its first half; its own
    # request went out when it was taken (the words were not done before the final).
    (timing,) = call.timings
    assert timing.preemptions_wasted == 1
    assert not timing.preempted
    assert call.transcript == [
        ("user", both, False),
        ("assistant", "Done: four people at eight.", False),
    ]


async def test_each_signal_can_be_measured_alone() -> None:
    model = FixedTurnModel(0.97)
    config = make_call(**SMART).session.config  # type: ignore[arg-type]
    audio_only = end_of_turn_policy("smart-audio", config.endpointing, "en-US", model)
    call = make_call(
        **SMART,  # type: ignore[arg-type]
        end_of_turn=audio_only,
        utterances=UNFINISHED,
        replies=["Sure.", "Booked."],
    )
    await run_call(call, MID_THOUGHT_PAUSE)
    # The audio alone (sure of the end) cuts the caller off after "a table for".
    assert [m.text for m in call.of(UserMessage)] == list(UNFINISHED)


async def test_no_tool_of_an_early_answer_runs_unless_its_turn_is_taken() -> None:
    call = smart_call(
        utterances=("Can you book me a table?", "Actually, just hang up."),
        replies=[[ToolCall("call_1", "end_call", "{}")], "Sure, bye.", "Still here."],
        tools_settings={"end_call": {"enabled": True}},
    )
    call.stt.final_latency_s = 0.4
    await run_call(
        call, hang_up_after(("say", 2.2), ("silence", 0.25), ("say", 1.5), ("silence", 6))
    )
    # The early answer was an end_call: dropped when the caller went on, never run.
    assert call.end.reason is EndReason.CUSTOMER_ENDED_CALL
    assert call.of(ToolCalled) == []
    (timing,) = call.timings
    assert timing.preemptions_wasted == 1


async def test_an_early_answer_that_calls_a_tool_runs_it_once_its_turn_is_taken() -> None:
    call = smart_call(
        utterances=("Goodbye!",),
        replies=[[ToolCall("call_1", "end_call", "{}")]],
        tools_settings={"end_call": {"enabled": True}},
    )
    await run_call(call, hang_up_after(("say", 1.0), ("silence", 6)))
    (timing,) = call.timings
    assert timing.preempted
    assert call.end.reason is EndReason.ASSISTANT_ENDED_CALL
    assert [event.name for event in call.of(ToolCalled)] == ["end_call"]


async def test_an_early_request_that_fails_is_the_turns_failure_and_said_as_such() -> None:
    call = smart_call(
        utterances=QUESTION,
        replies=[ProviderUnavailable("openai", "HTTP 500")],
        error_message="Sorry, one moment please.",
    )
    await run_call(call, ASKED)
    (request,) = call.llm.requests  # not asked again: the same request just failed
    assert request.messages[-1].content == QUESTION[0]
    (apology,) = call.of(AssistantMessage)
    assert apology.text == "Sorry, one moment please."
    assert apology.apology_for == "openai: HTTP 500"
    (timing,) = call.timings
    assert timing.preempted
    assert [error.provider for error in timing.llm_errors] == ["scripted-llm"]
