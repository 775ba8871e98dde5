"""A realtime call end to end on the loopback far end, against the OpenAI Realtime
fake: the welcome said by the model, a question answered, a barge-in that cancels and
truncates to what was heard, a custom tool run and answered, the end-call tool, DTMF."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from callwright.clock import MonotonicClock
from callwright.domain.assistants.schemas import AssistantIn
from callwright.engine.config import CallConfig
from callwright.engine.events import (
    AssistantMessage,
    CallEnded,
    EndReason,
    Interruption,
    SessionEvent,
    ToolAnswered,
    ToolCalled,
    TurnTiming,
    UserMessage,
)
from callwright.engine.realtime import RealtimeSession
from callwright.providers.fakes import speech
from callwright.providers.protocols import ToolCall, ToolSpec
from callwright.providers.realtime.openai import OpenAIRealtime
from callwright.providers.realtime.protocol import RealtimeOptions
from callwright.transports.loopback import LoopbackTransport
from tests.vendor_fakes import Reply, ScriptedCall, serve
from tests.vendor_fakes.openai_realtime import OpenAIRealtimeFake

KEY = "sk-test-realtime"
WELCOME = "Hello, thanks for calling the bakery."
LONG = "We bake bread every morning and " * 8
WEATHER = ToolSpec("get_weather", "The weather.", {"type": "object", "properties": {}})


@pytest.fixture
async def fake() -> AsyncIterator[OpenAIRealtimeFake]:
    fake = OpenAIRealtimeFake(
        api_key=KEY, heard=("When do you open?", "Stop, what is the weather?")
    )
    async with serve(fake.app) as url:
        fake.url = url + "/v1"
        yield fake


def config_of(**settings: Any) -> CallConfig:
    document = AssistantIn(name="Bakery", **settings).model_dump(mode="json")
    return CallConfig.from_settings(document)


class Call:
    def __init__(
        self, fake: OpenAIRealtimeFake, config: CallConfig, key: str = KEY, **options: Any
    ) -> None:
        self.clock = MonotonicClock()
        self.transport = LoopbackTransport(self.clock, sample_rate=8000)
        self.events: list[SessionEvent] = []
        # Not through ``self``: the session would hold this call in a reference cycle.
        tool_runs: list[Sequence[ToolCall]] = []
        self.tool_runs = tool_runs

        async def run_tools(calls: Sequence[ToolCall]) -> list[tuple[str, str]]:
            tool_runs.append(calls)
            return [(call.id, '{"sky": "sunny"}') for call in calls]

        self.session = RealtimeSession(
            config,
            OpenAIRealtime(key, base_url=fake.url),
            RealtimeOptions(
                instructions=config.llm.system_prompt, audio="pcmu", tools=(WEATHER,), **options
            ),
            self.transport,
            self.clock,
            self.events.append,
            label="openai:gpt-realtime",
            run_custom_tools=run_tools,
        )

    def of(self, kind: type) -> list[Any]:
        return [event for event in self.events if isinstance(event, kind)]

    async def until(self, done: Any, limit_s: float = 15.0) -> None:
        """Keep the caller quiet until ``done()`` (the limit only catches a hang)."""
        async with asyncio.timeout(limit_s):
            while not done():
                await self.transport.silence(0.1)


def welcome_to_end_call(fake: OpenAIRealtimeFake) -> Call:
    """A call whose model answers the first question at length (to be talked over),
    then calls a tool, then the end-call tool."""
    fake.chunk_delay_s = 0.06  # faster than real time, but still talking when cut off
    fake.script(
        Reply((LONG,)),
        Reply(calls=(ScriptedCall("get_weather", {}, id="call_7"),)),
        Reply(("It is sunny. Goodbye!",), calls=(ScriptedCall("end_call", {}, id="call_8"),)),
    )
    config = config_of(
        llm_settings={"welcome_message": WELCOME, "system_prompt": "You run a bakery."},
        interruption_settings={"min_speaking_time": 0.3, "interruption_cooldown": 0},
        tools_settings={"end_call": {"enabled": True}},
    )
    return Call(fake, config)


async def test_a_realtime_call_from_welcome_to_end_call(fake: OpenAIRealtimeFake) -> None:
    call = welcome_to_end_call(fake)
    running = asyncio.create_task(call.session.run())

    # The welcome, said by the model from the session's instructions.
    await call.until(lambda: call.of(AssistantMessage))
    assert call.of(AssistantMessage)[0].text == WELCOME
    create = next(e for e in fake.last.received if e["type"] == "response.create")
    assert WELCOME in create["response"]["instructions"]
    assert fake.last.config["instructions"] == "You run a bakery."

    # A question, answered at length; the caller talks over the answer.
    welcome_frames = len(call.transport.sent)
    await call.transport.say(speech(0.6, 8000))
    await call.until(lambda: len(call.transport.sent) > welcome_frames + 5)  # answering
    assert call.of(UserMessage)[0].text == "When do you open?"
    await call.transport.silence(0.5)
    await call.transport.say(speech(0.8, 8000))
    await call.until(lambda: len(call.of(AssistantMessage)) >= 2)
    interruption = call.of(Interruption)[0]
    answer = call.of(AssistantMessage)[1]
    assert answer.interrupted
    # What the model said before it was cancelled, of which the caller heard the start.
    assert " ".join(LONG.split()).startswith(answer.intended)
    assert answer.text
    assert answer.intended.startswith(answer.text)
    assert len(answer.text) < len(answer.intended)
    assert interruption.heard == answer.text
    # The model was told to forget what the caller did not hear.
    assert len(fake.last.truncated) == 1
    item_id, heard_ms = fake.last.truncated[0]
    assert 0 < heard_ms < fake.last.audio_ms[item_id]
    assert call.transport.cleared_at
    assert "response.cancel" in fake.last.types()
    cancelled = [e for e in fake.last.sent if e["type"] == "response.done"][1]
    assert cancelled["response"]["status"] == "cancelled"

    # The interrupting turn asks for the weather: the tool runs, its result goes back,
    # the model answers and ends the call.
    await call.until(lambda: running.done())
    assert call.tool_runs == [[ToolCall("call_7", "get_weather", "{}")]]
    assert fake.last.tool_outputs == [("call_7", '{"sky": "sunny"}')]
    assert [e.name for e in call.of(ToolCalled)] == ["get_weather", "end_call"]
    assert call.of(ToolAnswered)[0].result == '{"sky": "sunny"}'
    assert [m.text for m in call.of(UserMessage)] == [
        "When do you open?",
        "Stop, what is the weather?",
    ]
    assert call.of(AssistantMessage)[-1].text == "It is sunny. Goodbye!"
    assert running.result() is EndReason.ASSISTANT_ENDED_CALL
    assert call.of(CallEnded)[0].reason is EndReason.ASSISTANT_ENDED_CALL
    assert call.transport.hung_up == EndReason.ASSISTANT_ENDED_CALL.value
    answered = next(t for t in call.of(TurnTiming) if t.turn == 1)
    assert answered.llm_provider == answered.stt_provider == "openai:gpt-realtime"
    assert answered.stt_final_at is not None
    assert answered.end_of_turn_at is not None
    assert answered.first_frame_out_at is not None
    assert answered.first_frame_out_at >= answered.end_of_turn_at


async def test_keys_pressed_reach_the_model_as_text(fake: OpenAIRealtimeFake) -> None:
    fake.script(Reply(("You pressed one two.",)))
    call = Call(fake, config_of(first_message_mode="assistant-waits-for-user"))
    running = asyncio.create_task(call.session.run())
    await call.until(lambda: bool(fake.sessions) and bool(fake.last.config))
    await call.transport.press("12#")
    await call.until(lambda: bool(call.of(AssistantMessage)))
    assert fake.last.texts == ["[The caller pressed the keys: 12#]"]
    assert call.of(AssistantMessage)[0].text == "You pressed one two."
    await call.transport.hang_up_caller()
    assert await running is EndReason.CUSTOMER_ENDED_CALL


async def test_a_refused_key_ends_the_call_at_once(fake: OpenAIRealtimeFake) -> None:
    call = Call(fake, config_of(), key="sk-wrong")
    reason = await call.session.run()
    assert reason is EndReason.PIPELINE_ERROR
    ended = call.of(CallEnded)[0]
    assert ended.detail is not None
    assert "HTTP 401" in ended.detail
    assert call.transport.hung_up == EndReason.PIPELINE_ERROR.value


async def test_a_browser_call_speaks_pcm_at_24_khz_resampled_both_ways(
    fake: OpenAIRealtimeFake,
) -> None:
    fake.script(Reply(("Hi.",)))
    config = config_of(llm_settings={"welcome_message": WELCOME})
    clock = MonotonicClock()
    transport = LoopbackTransport(clock, sample_rate=16_000)
    events: list[SessionEvent] = []
    session = RealtimeSession(
        config,
        OpenAIRealtime(KEY, base_url=fake.url),
        RealtimeOptions(audio="pcm24"),
        transport,
        clock,
        events.append,
        label="openai:gpt-realtime",
    )
    running = asyncio.create_task(session.run())
    async with asyncio.timeout(15):  # only catches a hang
        while not any(isinstance(e, AssistantMessage) for e in events):
            await transport.silence(0.1)
    before_ms = fake.last.caller_audio_ms
    welcome_s = sum(len(a.pcm16) for a in transport.sent) / 2 / 16_000
    await transport.say(speech(0.5, 16_000))
    await transport.silence(1.0)
    await transport.hang_up_caller()
    assert await running is EndReason.CUSTOMER_ENDED_CALL
    async with asyncio.timeout(10):  # only catches a hang
        await fake.last.closed.wait()
    assert fake.last.wire_format == "audio/pcm"
    # What the model sent, resampled to the page's 16 kHz: as long as it said.
    welcome_item = next(iter(fake.last.audio_ms))
    assert welcome_s == pytest.approx(fake.last.audio_ms[welcome_item] / 1000, abs=0.01)
    # And the caller's 16 kHz audio reached it at 24 kHz: 1.5 s of it (less the
    # resampler's few milliseconds of delay).
    assert fake.last.caller_audio_ms - before_ms == pytest.approx(1500, abs=20)
