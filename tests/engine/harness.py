"""A call on virtual time: the session, a scripted caller on the loopback transport,
and scripted providers. A minute of conversation runs in well under a second."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from callwright.clock import VirtualClock
from callwright.domain.assistants.schemas import AssistantIn
from callwright.engine.config import CallConfig
from callwright.engine.events import (
    AssistantMessage,
    CallEnded,
    EndReason,
    SessionEvent,
    TurnTiming,
    UserMessage,
)
from callwright.engine.lifecycle import EndCallHook
from callwright.engine.replies import Retriever, ToolRunner
from callwright.engine.session import CallSession
from callwright.engine.session_providers import SessionProviders
from callwright.engine.speaking import SpeechCache
from callwright.engine.turns import EndOfTurnPolicy
from callwright.providers.fakes import EnergyVAD, Reply, ScriptedLLM, ScriptedSTT, ToneTTS
from callwright.providers.protocols import (
    LLM,
    STT,
    VAD,
    ChatMessage,
    STTOptions,
    STTStream,
    ToolSpec,
    Transcript,
)
from callwright.transports.loopback import LoopbackTransport

Caller = Callable[[LoopbackTransport], Awaitable[None]]

_STEP_S = 0.01


@dataclass
class Call:
    clock: VirtualClock
    transport: LoopbackTransport
    llm: ScriptedLLM
    stt: ScriptedSTT
    tts: ToneTTS
    session: CallSession
    events: list[SessionEvent] = field(default_factory=list)
    ended_hook: list[EndReason] = field(default_factory=list)
    fallbacks: tuple[LLM, ...] = ()
    providers: SessionProviders | None = None
    voices: tuple[ToneTTS, ...] = ()  # the fallback voices, in order
    fallback_stt: ScriptedSTT | None = None

    def of(self, kind: type[Any]) -> list[Any]:
        return [event for event in self.events if isinstance(event, kind)]

    @property
    def transcript(self) -> list[tuple[str, str, bool]]:
        """The turns taken: the caller's (not their asides over the assistant, which
        ``of(UserMessage)`` lists) and the assistant's, heard text and interrupted."""
        rows: list[tuple[str, str, bool]] = []
        for event in self.events:
            if isinstance(event, UserMessage) and not event.aside:
                rows.append(("user", event.text, False))
            elif isinstance(event, AssistantMessage):
                rows.append(("assistant", event.text, event.interrupted))
        return rows

    @property
    def end(self) -> CallEnded:
        (ended,) = self.of(CallEnded)
        return ended

    @property
    def timings(self) -> list[TurnTiming]:
        return [t for t in self.of(TurnTiming) if t.turn > 0]


def make_call(
    *,
    utterances: tuple[str, ...] = (),
    replies: list[Reply] | None = None,
    variables: dict[str, Any] | None = None,
    fallback_replies: list[Reply] | None = None,
    custom_tools: tuple[ToolSpec, ...] = (),
    run_custom_tools: ToolRunner | None = None,
    llm_first_token_s: float = 0.2,
    first_token_timeout_s: float = 3.0,
    end_hook: Callable[[CallConfig], EndCallHook | None] | None = None,
    previous_conversation: tuple[ChatMessage, ...] = (),
    retrieve: Retriever | None = None,
    wrap_stt: Callable[[ScriptedSTT], STT] | None = None,
    fallback_voices: tuple[str, ...] = (),
    fallback_transcriber: tuple[str, ...] | None = None,
    first_audio_timeout_s: float = 5.0,
    vad: VAD | None = None,
    end_of_turn: EndOfTurnPolicy | None = None,
    speech_cache: SpeechCache | None = None,
    assistant_id: int | None = None,
    transport_rate: int = 16_000,
    stt_rate: int = 16_000,
    **settings: Any,
) -> Call:
    settings.setdefault("idle_timeout", None)
    settings.setdefault("max_duration_seconds", None)
    document = AssistantIn(name="test", **settings).model_dump(mode="json")
    config = CallConfig.from_settings(document, variables or {}, assistant_id=assistant_id)
    clock = VirtualClock()
    transport = LoopbackTransport(clock, sample_rate=transport_rate)
    llm = ScriptedLLM(clock, list(replies or []), first_token_s=llm_first_token_s)
    fallbacks: tuple[LLM, ...] = ()
    if fallback_replies is not None:
        fallbacks = (ScriptedLLM(clock, list(fallback_replies), name="fallback"),)
    stt = ScriptedSTT.saying(clock, *utterances, sample_rate=stt_rate)
    tts = ToneTTS(clock)
    voices = tuple(ToneTTS(clock, name=name) for name in fallback_voices)
    fallback_stt = None
    if fallback_transcriber is not None:
        fallback_stt = ScriptedSTT.saying(clock, *fallback_transcriber)
        fallback_stt.name = "offline-stt"
    events: list[SessionEvent] = []
    ended: list[EndReason] = []

    async def record_end(reason: EndReason) -> None:
        ended.append(reason)

    on_end = (end_hook(config) if end_hook else None) or record_end

    providers = SessionProviders(
        llms=(llm, *fallbacks),
        stt=wrap_stt(stt) if wrap_stt else stt,
        tts=tts,
        vad=vad or EnergyVAD(),
        stt_fallbacks=(fallback_stt,) if fallback_stt is not None else (),
        tts_fallbacks=voices,
    )
    session = CallSession(
        config,
        providers,
        transport,
        clock,
        events.append,
        on_end=on_end,
        first_token_timeout_s=first_token_timeout_s,
        first_audio_timeout_s=first_audio_timeout_s,
        custom_tools=custom_tools,
        run_custom_tools=run_custom_tools,
        previous_conversation=previous_conversation,
        retrieve=retrieve,
        end_of_turn=end_of_turn,
        speech_cache=speech_cache,
    )
    return Call(
        clock,
        transport,
        llm,
        stt,
        tts,
        session,
        events,
        ended,
        fallbacks,
        providers,
        voices,
        fallback_stt,
    )


async def run_call(call: Call, caller: Caller, *, limit_s: float = 300.0) -> Call:
    """Run the session and the caller until the call ends (or ``limit_s`` passes)."""
    async with asyncio.TaskGroup() as group:
        session = group.create_task(call.session.run())
        script = group.create_task(caller(call.transport))
        while not session.done() and call.clock.now() < limit_s:
            await call.clock.advance(_STEP_S)
        script.cancel()
        if not session.done():
            session.cancel()
            raise AssertionError(f"the call did not end within {limit_s} s: {call.transcript}")
    return call


class _KeepingStream:
    """The scripted transcriber's stream, keeping each chunk pushed to it (the objects
    themselves, so that a test can tell a pass-through from a copy)."""

    def __init__(self, inner: STTStream, pushed: list[bytes]) -> None:
        self._inner = inner
        self._pushed = pushed

    async def push_audio(self, pcm16: bytes) -> None:
        self._pushed.append(pcm16)
        await self._inner.push_audio(pcm16)

    async def end_utterance(self) -> None:
        await self._inner.end_utterance()

    def discard_utterance(self) -> None:
        self._inner.discard_utterance()

    async def end_of_audio(self) -> None:
        await self._inner.end_of_audio()

    def transcripts(self) -> AsyncIterator[Transcript]:
        return self._inner.transcripts()

    async def aclose(self) -> None:
        await self._inner.aclose()


@dataclasses.dataclass
class KeepingSTT:
    """The scripted transcriber at its own rate, keeping what the session pushed."""

    inner: ScriptedSTT
    pushed: list[bytes] = dataclasses.field(default_factory=list)
    name: str = "keeping-stt"

    @property
    def sample_rate(self) -> int:
        return self.inner.sample_rate

    async def open_stream(self, options: STTOptions) -> STTStream:
        return _KeepingStream(await self.inner.open_stream(options), self.pushed)
