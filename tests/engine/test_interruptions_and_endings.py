"""Barge-in, idle behaviour, durations, the ways a call ends, tools, fallbacks,
fillers, voicemail and DTMF: SPEC §3 rows, one test each."""

from __future__ import annotations

import json
from math import inf

import pytest

from callwright.engine.events import (
    EndReason,
    IdleReprompt,
    Interruption,
    ToolAnswered,
    ToolCalled,
    UserMessage,
)
from callwright.providers.errors import ProviderUnavailable
from callwright.providers.fakes import Hang, ScriptedLLM, speech
from callwright.providers.protocols import ToolCall, ToolSpec
from callwright.transports.loopback import LoopbackTransport
from tests.engine.harness import make_call, run_call
from tests.engine.test_conversation import hang_up_after

LONG_REPLY = (
    "Our opening hours are nine to five on weekdays. On Saturdays we open at ten. "
    "On Sundays we are closed all day. Holidays follow the Sunday hours."
)


def interrupting_caller(after_s: float, speak_s: float, talk_over_at: list[float] | None = None):  # type: ignore[no-untyped-def]
    """Asks a question, then talks over the reply ``after_s`` into it (noting in
    ``talk_over_at`` when it started talking over)."""

    async def caller(transport: LoopbackTransport) -> None:
        await transport.say(speech(0.6))
        await transport.silence(0.5 + 0.2 + 0.1 + after_s)  # endpointing, LLM, TTS, playback
        if talk_over_at is not None:
            talk_over_at.append(transport.clock.now())
        await transport.say(speech(speak_s))
        await transport.silence(8)
        await transport.hang_up_caller()

    return caller


async def test_interruption_threshold_words_stop_the_assistant_and_clear_the_buffer() -> None:
    # Two words: the default threshold (3) would never interrupt, and min_speaking_time
    # is out of reach, so only interruption_threshold=2 can stop the reply.
    talk_over_at: list[float] = []
    call = make_call(
        interruption_settings={"interruption_threshold": 2, "min_speaking_time": 5},
        utterances=("When are you open?", "So, Sunday?"),  # no interrupt word in it
        replies=[LONG_REPLY, "Closed on Sunday."],
    )
    # A slow LLM: the reply is still being written when the caller talks over it, so
    # its later sentences would be sent after the clear if the reply went on.
    call.llm.token_s = 0.2
    await run_call(call, interrupting_caller(after_s=4.0, speak_s=1.5, talk_over_at=talk_over_at))
    (interruption,) = call.of(Interruption)
    # Two words at three words a second: about 0.67 s into the caller's speech.
    assert interruption.at - talk_over_at[0] == pytest.approx(2 / 3, abs=0.05)
    assert call.transport.cleared_at == [pytest.approx(interruption.at)]
    # No audio of the interrupted reply is sent after the clear: nothing goes out until
    # the caller's next turn is taken.
    next_turn_at = min((m.at for m in call.of(UserMessage) if m.at > interruption.at), default=inf)
    assert [a.at for a in call.transport.sent if interruption.at <= a.at < next_turn_at] == []
    role, heard, interrupted = call.transcript[1]
    assert (role, interrupted) == ("assistant", True)
    assert heard
    assert LONG_REPLY.startswith(heard)
    assert len(heard) < len(LONG_REPLY) / 2
    # The model is told only what the caller actually heard.
    assert call.llm.requests[1].messages[-2].content == heard
    assert call.transcript[-1] == ("assistant", "Closed on Sunday.", False)


async def test_min_speaking_time_stops_the_assistant_without_enough_words() -> None:
    # "Well, about Sunday." never reaches the word threshold (and is no backchannel,
    # which never interrupts): only 0.4 s of speech can interrupt,
    # and it must do so after 0.4 s (the default 0.5 s would be later).
    talk_over_at: list[float] = []
    call = make_call(
        interruption_settings={"interruption_threshold": 50, "min_speaking_time": 0.4},
        utterances=("When are you open?", "Well, about Sunday."),
        replies=[LONG_REPLY, "Yes?"],
    )
    await run_call(call, interrupting_caller(after_s=1.0, speak_s=1.0, talk_over_at=talk_over_at))
    (interruption,) = call.of(Interruption)
    assert interruption.at - talk_over_at[0] == pytest.approx(0.4, abs=0.05)
    assert call.transport.cleared_at == [pytest.approx(interruption.at)]


async def test_short_backchannel_below_the_thresholds_does_not_interrupt() -> None:
    call = make_call(
        interruption_settings={"interruption_threshold": 3, "min_speaking_time": 0.8},
        utterances=("When are you open?", "Uh huh."),
        replies=[LONG_REPLY],
    )
    await run_call(call, interrupting_caller(after_s=1.0, speak_s=0.3))
    assert call.of(Interruption) == []
    assert call.transcript[1] == ("assistant", LONG_REPLY, False)


async def test_interruption_cooldown_blocks_a_second_barge_in() -> None:
    call = make_call(
        interruption_settings={
            "interruption_threshold": 1,
            "min_speaking_time": 0.2,
            "interruption_cooldown": 30,
        },
        utterances=("When are you open?", "Stop.", "Stop again."),
        replies=[LONG_REPLY, LONG_REPLY, "Fine."],
    )

    async def caller(transport: LoopbackTransport) -> None:
        await transport.say(speech(0.6))
        await transport.silence(2.0)
        await transport.say(speech(0.6))  # interrupts the first reply
        await transport.silence(2.0)
        await transport.say(speech(0.6))  # within the cooldown: does not interrupt
        await transport.silence(15)
        await transport.hang_up_caller()

    await run_call(call, caller)
    assert len(call.of(Interruption)) == 1
    assert len(call.transport.cleared_at) == 1


async def test_idle_timeout_reprompts_max_idle_messages_times_then_ends() -> None:
    call = make_call(
        idle_timeout=5,
        max_idle_messages=2,
        idle_message="Are you still there?",
        end_call_message="Goodbye for now.",
        llm_settings={"welcome_message": "Hi."},
    )
    await run_call(call, hang_up_after(("silence", 120)))
    assert [event.count for event in call.of(IdleReprompt)] == [1, 2]
    assert [text for _, text, _ in call.transcript] == [
        "Hi.",
        "Are you still there?",
        "Are you still there?",
        "Goodbye for now.",
    ]
    assert call.end.reason is EndReason.SILENCE_TIMED_OUT
    reprompts = [event.at for event in call.of(IdleReprompt)]
    assert reprompts[1] - reprompts[0] == pytest.approx(5 + 20 * 0.06, abs=0.1)
    assert call.transport.hung_up == "silence-timed-out"


async def test_caller_speech_resets_the_idle_count() -> None:
    call = make_call(
        idle_timeout=4,
        max_idle_messages=1,
        idle_message="Still there?",
        utterances=("Yes.",),
        replies=["Good."],
    )
    await run_call(call, hang_up_after(("silence", 5), ("say", 0.5), ("silence", 30)))
    assert [event.count for event in call.of(IdleReprompt)] == [1, 1]
    assert call.end.reason is EndReason.SILENCE_TIMED_OUT


async def test_max_duration_seconds_ends_the_call_politely() -> None:
    call = make_call(
        max_duration_seconds=20,
        end_call_message="We have to stop here.",
        llm_settings={"welcome_message": "Hi."},
    )
    await run_call(call, hang_up_after(("silence", 120)))
    assert call.end.reason is EndReason.EXCEEDED_MAX_DURATION
    assert call.transcript[-1] == ("assistant", "We have to stop here.", False)
    assert call.end.at == pytest.approx(20 + 0.1 + len("We have to stop here.") * 0.06, abs=0.1)


async def test_end_call_phrases_spoken_by_the_assistant_end_the_call() -> None:
    call = make_call(
        end_call_phrases=["have a great day"],
        utterances=("That's all.",),
        replies=["Thanks, have a great day!"],
    )
    await run_call(call, hang_up_after(("say", 0.5), ("silence", 60)))
    assert call.end.reason is EndReason.ASSISTANT_SAID_END_CALL_PHRASE


async def test_end_call_trigger_phrase_said_by_the_caller_ends_the_call() -> None:
    call = make_call(
        end_call_trigger_phrase="goodbye",
        end_call_message="Bye!",
        utterances=("Okay goodbye then.",),
    )
    await run_call(call, hang_up_after(("say", 0.8), ("silence", 60)))
    assert call.end.reason is EndReason.CUSTOMER_SAID_END_CALL_PHRASE
    assert call.transcript[-1] == ("assistant", "Bye!", False)
    assert call.llm.requests == []


async def test_end_call_tool_carries_its_scenarios_and_ends_the_call() -> None:
    call = make_call(
        tools_settings={
            "end_call": {
                "enabled": True,
                "scenarios": ["The caller says bye."],
                "custom_message": "Goodbye!",
            }
        },
        utterances=("Bye.",),
        replies=[[ToolCall("call_1", "end_call", "{}")]],
    )
    await run_call(call, hang_up_after(("say", 0.5), ("silence", 60)))
    (tool,) = call.llm.requests[0].tools
    assert tool.name == "end_call"
    assert "The caller says bye." in tool.description
    assert call.end.reason is EndReason.ASSISTANT_ENDED_CALL
    assert call.transcript[-1] == ("assistant", "Goodbye!", False)


async def test_transfer_call_tool_speaks_the_message_then_transfers() -> None:
    call = make_call(
        tools_settings={
            "transfer_call": {
                "enabled": True,
                "scenarios": ["Wants a human."],
                "transfer_numbers": ["+14155550100"],
            }
        },
        transfer_call_message="Connecting you now.",
        utterances=("A human please.",),
        replies=[
            [ToolCall("call_1", "transfer_call", json.dumps({"destination": "+14155550100"}))]
        ],
    )
    await run_call(call, hang_up_after(("say", 0.6), ("silence", 60)))
    (tool,) = call.llm.requests[0].tools
    assert tool.parameters["properties"]["destination"]["enum"] == ["+14155550100"]
    assert call.transcript[-1] == ("assistant", "Connecting you now.", False)
    assert call.transport.transferred_to == "+14155550100"
    assert call.end.reason is EndReason.ASSISTANT_FORWARDED_CALL


async def test_custom_tool_results_go_back_to_the_llm() -> None:
    seen: list[list[ToolCall]] = []

    async def run_tools(calls):  # type: ignore[no-untyped-def]
        seen.append(list(calls))
        return [(call.id, '{"status": "shipped"}') for call in calls]

    spec = ToolSpec("order_status", "Look up an order.", {"type": "object", "properties": {}})
    call = make_call(
        custom_tools=(spec,),
        run_custom_tools=run_tools,
        utterances=("Where is my order?",),
        replies=[[ToolCall("call_9", "order_status", '{"id": "A1"}')], "It has shipped."],
    )
    await run_call(call, hang_up_after(("say", 0.8), ("silence", 8)))
    assert seen == [[ToolCall("call_9", "order_status", '{"id": "A1"}')]]
    (called,) = call.of(ToolCalled)
    (answered,) = call.of(ToolAnswered)
    assert (called.call_id, called.name, called.arguments) == (
        "call_9",
        "order_status",
        '{"id": "A1"}',
    )
    assert (answered.call_id, answered.result) == ("call_9", '{"status": "shipped"}')
    second = call.llm.requests[1].messages
    assert second[-1].role == "tool"
    assert second[-1].tool_call_id == "call_9"
    assert second[-2].tool_calls[0].name == "order_status"
    assert call.transcript[-1] == ("assistant", "It has shipped.", False)


@pytest.mark.parametrize("failure", [ProviderUnavailable("primary", "HTTP 500"), Hang()])
async def test_llm_fallback_providers_answer_the_same_turn(failure: Exception | Hang) -> None:
    call = make_call(
        utterances=("Hello?",),
        replies=[failure],
        fallback_replies=["Hi, the backup here."],
        first_token_timeout_s=1.0,
    )
    await run_call(call, hang_up_after(("say", 0.5), ("silence", 8)))
    (fallback,) = call.fallbacks
    assert isinstance(fallback, ScriptedLLM)
    assert fallback.requests[0].messages == call.llm.requests[0].messages
    assert call.transcript[-1] == ("assistant", "Hi, the backup here.", False)
    (timing,) = call.timings
    assert timing.llm_provider == "fallback"


async def test_filler_words_cover_a_slow_first_sentence() -> None:
    call = make_call(
        filler_words_enabled=True,
        filler_words=["Let me check."],
        utterances=("Is it in stock?",),
        replies=["Yes, it is."],
        llm_first_token_s=2.5,
    )
    await run_call(call, hang_up_after(("say", 0.6), ("silence", 10)))
    assert [text for text, _ in call.tts.requests] == ["Let me check.", "Yes, it is."]


async def test_no_filler_when_the_answer_is_quick() -> None:
    call = make_call(
        filler_words_enabled=True,
        filler_words=["Let me check."],
        utterances=("Is it in stock?",),
        replies=["Yes, it is."],
    )
    await run_call(call, hang_up_after(("say", 0.6), ("silence", 10)))
    assert [text for text, _ in call.tts.requests] == ["Yes, it is."]


async def test_voicemail_message_is_left_on_an_answering_machine() -> None:
    call = make_call(
        voicemail_message="Please call Acme back.",
        llm_settings={"welcome_message": "Hi, this is Acme."},
    )

    async def machine(transport: LoopbackTransport) -> None:
        await transport.silence(0.3)
        await transport.answering_machine("machine_end_beep")
        await transport.silence(60)

    await run_call(call, machine)
    assert call.end.reason is EndReason.VOICEMAIL
    assert call.transcript[-1] == ("assistant", "Please call Acme back.", False)
    assert call.transport.hung_up == "voicemail"


async def test_dtmf_digits_are_passed_to_the_llm() -> None:
    call = make_call(replies=["Thanks, I found your account."])

    async def caller(transport: LoopbackTransport) -> None:
        await transport.press("42#")
        await transport.silence(6)
        await transport.hang_up_caller()

    await run_call(call, caller)
    assert call.llm.requests[0].messages[-1].content == "[The caller pressed the keys: 42#]"


async def test_custom_tools_run_as_signed_vapi_style_webhooks() -> None:
    import httpx

    from callwright.engine.replies import runner_for
    from callwright.engine.tools import ToolEndpoint, ToolExecutor, WebhookTool
    from callwright.security.signing import verify_signature

    received: list[httpx.Request] = []

    def tool_server(request: httpx.Request) -> httpx.Response:
        received.append(request)
        body = json.loads(request.content)
        ids = [item["id"] for item in body["message"]["toolCallList"]]
        return httpx.Response(
            200, json={"results": [{"toolCallId": i, "result": "shipped"} for i in ids]}
        )

    parameters = {"type": "object", "properties": {}}
    server = ToolEndpoint("https://tools.example.com/hook", "vapi-secret", 20, {})
    public = {"type": "function", "function": {"name": "order_status", "parameters": parameters}}
    tools = [WebhookTool(ToolSpec("order_status", "Look up an order.", parameters), server, public)]
    executor = ToolExecutor(
        tools,
        signing_secret="org-secret",
        call={"id": "call-1"},
        transport=httpx.MockTransport(tool_server),
    )
    call = make_call(
        custom_tools=executor.specs(),
        run_custom_tools=runner_for(executor),
        utterances=("Where is my order?",),
        replies=[[ToolCall("t1", "order_status", "{}")], "It has shipped."],
    )
    try:
        await run_call(call, hang_up_after(("say", 0.8), ("silence", 8)))
    finally:
        await executor.aclose()
    (request,) = received
    assert request.headers["x-vapi-secret"] == "vapi-secret"
    assert verify_signature(
        "org-secret",
        request.headers["x-callwright-timestamp"],
        request.content,
        request.headers["x-callwright-signature"],
    )
    assert call.llm.requests[0].tools[0].name == "order_status"
    assert call.llm.requests[1].messages[-1].content == "shipped"
    assert call.transcript[-1] == ("assistant", "It has shipped.", False)


async def test_a_barge_in_while_the_model_is_still_thinking_cancels_it_cleanly() -> None:
    call = make_call(
        filler_words_enabled=True,
        filler_words=["Hmm, let me see."],
        interruption_settings={
            "interruption_threshold": 1,
            "min_speaking_time": 0.2,
            "interruption_cooldown": 0,
        },
        utterances=("Is it in stock?", "Actually, never mind.", "Thanks."),
        replies=["Yes, it is.", "No problem.", "Bye."],
        llm_first_token_s=4.0,
    )

    async def caller(transport: LoopbackTransport) -> None:
        await transport.say(speech(0.6))
        await transport.silence(2.0)  # the filler plays from 2.5 s; the model is still busy
        await transport.say(speech(0.9))
        await transport.silence(8)
        await transport.say(speech(0.5))
        await transport.silence(8)
        await transport.hang_up_caller()

    await run_call(call, caller)
    assert call.end.reason is EndReason.CUSTOMER_ENDED_CALL
    assert len(call.of(Interruption)) >= 1
    assert call.transcript[-1] == ("assistant", "Hmm, let me see. Bye.", False)
