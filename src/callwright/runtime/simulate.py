"""``callwright simulate``: a call against a stored assistant with a scripted caller.

The caller's lines are synthesised to real speech (Piper, or espeak-ng) and streamed in
20 ms frames in real time over the loopback transport, so the assistant's real VAD,
transcriber, model and voice run exactly as on a phone call. Scripts
(``domain.evaluations.script``) are YAML or JSON::

    {"variables": {"name": "Ada"},
     "steps": [{"say": "What time do you open?"},
               {"say": "And on Sunday?", "interrupt_after_s": 0.6},
               {"dtmf": "12#"}, {"silence_s": 12}, {"hangup": true}]}

``say`` speaks and then waits for the assistant's reply to finish; with
``interrupt_after_s`` it waits for the reply to start and talks over it that many
seconds in. Instead of a script, an ``Improviser`` (an LLM-played caller) may choose
each line from the conversation so far.

The simulation runs on the clock it is given (tests pass a virtual one) and records
both sides, as a call's recording does (``StereoRecording``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, Protocol

from callwright.audio.resample import Resampler
from callwright.clock import Clock, MonotonicClock
from callwright.domain.assistants.service import load_assistant_for_call
from callwright.domain.evaluations.script import Script, Step
from callwright.domain.knowledge.context import KnowledgeContext
from callwright.domain.knowledge.processing import DocumentProcessor
from callwright.domain.knowledge.retrieval import knowledge_retriever_for
from callwright.domain.tools.schemas import CustomTool
from callwright.engine.config import CallConfig
from callwright.engine.events import AssistantMessage, SessionEvent
from callwright.engine.realtime import RealtimeSession
from callwright.engine.replies import Retriever, runner_for
from callwright.engine.session import CallSession
from callwright.engine.tools import ToolExecutor
from callwright.providers.protocols import TTS, TTSOptions
from callwright.runtime.hooks import end_call_url_hook
from callwright.runtime.providers_offline import OfflineProviders
from callwright.runtime.realtime import RealtimeFactory, realtime_session
from callwright.runtime.recorder import StereoRecording
from callwright.runtime.registry import ProviderChoice, ProviderFactory, offline_provider_factory
from callwright.runtime.simulation_result import SimulationResult, simulation_result
from callwright.security.crypto import SecretBox
from callwright.security.outbound import STRICT, OutboundPolicy
from callwright.settings import Settings
from callwright.store.database import create_engine, create_session_factory
from callwright.transports.loopback import LoopbackTransport

__all__ = ["Improviser", "knowledge_retriever", "simulate"]

_ENGINE_RATE = 16_000
_REPLY_WAIT_S = 60.0


class Improviser(Protocol):
    """A caller that makes up its lines (an LLM playing a persona)."""

    async def next_line(self, transcript: Sequence[Mapping[str, Any]]) -> str | None:
        """The caller's next line, given the conversation so far; None hangs up."""
        ...


class _Caller:
    """Plays the script against the session. Like a phone line, it sends audio frames
    all the time (silence while it listens): the session's turn-taking runs on them."""

    def __init__(self, transport: LoopbackTransport, voice: TTS, *, opening: bool) -> None:
        self._transport = transport
        self._voice = voice
        self._opening = opening
        self._assistant_messages = 0
        self._events: list[SessionEvent] = []

    def observe(self, event: SessionEvent) -> None:
        self._events.append(event)
        if isinstance(event, AssistantMessage):
            self._assistant_messages += 1

    async def _speech(self, text: str) -> bytes:
        resampler = Resampler(self._voice.sample_rate, _ENGINE_RATE)
        chunks = [
            resampler.process(chunk) async for chunk in self._voice.synthesize(text, TTSOptions())
        ]
        return b"".join(chunks) + resampler.process(b"", last=True)

    def _messages_beyond(self, count: int) -> bool:
        return self._assistant_messages > count

    def _sent_beyond(self, count: int) -> bool:
        return len(self._transport.sent) > count

    async def _listen_until(self, done: Callable[[], bool]) -> None:
        async with asyncio.timeout(_REPLY_WAIT_S):
            while not done():
                await self._transport.silence(0.1)

    async def _opened(self) -> None:
        # Let the assistant's opening finish before the first line.
        if self._opening:
            await self._listen_until(functools.partial(self._messages_beyond, 0))
        await self._transport.silence(0.5)

    async def improvise(self, improviser: Improviser) -> None:
        """Each line from ``improviser``, given the transcript so far, until it hangs up."""
        await self._opened()
        while (
            line := await improviser.next_line(simulation_result(self._events, []).transcript)
        ) is not None:
            await self._transport.say(await self._speech(line))
            messages = self._assistant_messages
            await self._listen_until(functools.partial(self._messages_beyond, messages))
            await self._transport.silence(0.3)
        await self._transport.hang_up_caller()

    async def play(self, steps: Sequence[Step]) -> None:
        await self._opened()
        for index, step in enumerate(steps):
            following = steps[index + 1] if index + 1 < len(steps) else None
            interrupt_after = following.interrupt_after_s if following else None
            if step.say is not None or step.dtmf is not None:
                speech = await self._speech(step.say) if step.say is not None else b""
                if step.say is not None:
                    await self._transport.say(speech)
                else:
                    await self._transport.press(step.dtmf or "")
                # What the assistant says from now on answers this line.
                messages, sent = self._assistant_messages, len(self._transport.sent)
                if interrupt_after is not None:
                    # The next line talks over this reply, interrupt_after seconds in.
                    await self._listen_until(functools.partial(self._sent_beyond, sent))
                    await self._transport.silence(interrupt_after)
                else:
                    await self._listen_until(functools.partial(self._messages_beyond, messages))
                    await self._transport.silence(0.3)
            elif step.silence_s is not None:
                await self._transport.silence(step.silence_s)
            elif step.hangup:
                break
        await self._transport.hang_up_caller()


async def simulate(
    settings: Mapping[str, Any],
    script: Script,
    offline: OfflineProviders,
    *,
    assistant_id: int | None = None,
    organization_id: int = 0,
    providers: ProviderFactory | None = None,
    tools: Sequence[CustomTool] = (),
    signing_secret: str | None = None,
    retrieve: Retriever | None = None,
    outbound: OutboundPolicy = STRICT,
    clock: Clock | None = None,
    caller_voice: TTS | None = None,
    improviser: Improviser | None = None,
    realtime: RealtimeFactory | None = None,
) -> SimulationResult:
    """Run one simulated call in real time; returns its transcript, end and timings.
    ``providers`` picks the call's providers as the server does (``cloud_provider_factory``:
    the keys of the assistant, of ``organization_id``, of the environment); without it
    everything runs offline. The caller's voice is always an offline one. ``tools``
    (inline and stored custom tools) run as signed webhooks; ``retrieve``
    (``knowledge_retriever``) adds knowledge-base passages to each turn. Tool servers
    and ``end_call_url`` are checked by ``outbound``, the operator's policy. ``clock``
    is real time unless given; ``caller_voice`` is the caller's (an offline one unless
    given); with ``improviser`` the caller makes up its lines and ``script`` gives only
    the variables. A realtime assistant runs on the model ``realtime`` gives
    (``runtime.realtime``); with none, the call ends at once with the reason, as on the
    server."""
    clock = clock or MonotonicClock()
    transport = LoopbackTransport(clock, sample_rate=_ENGINE_RATE)
    recording = StereoRecording(transport)
    session_providers = None
    if settings.get("mode") == "realtime":
        model, label, choice = (
            await realtime(settings, organization_id)
            if realtime is not None
            else (None, "", ProviderChoice("realtime", "none", "none", "realtime: no factory"))
        )
        choices = [choice]
        if model is None:
            return SimulationResult([], "pipeline-error", [], choices)
        voice = caller_voice or offline.tts("espeak")  # the caller's voice only
    else:
        build = providers or offline_provider_factory(offline)
        session_providers, choices = await build(settings, organization_id, _ENGINE_RATE)
        voice = caller_voice or offline.tts(
            "piper" if session_providers.tts.name == "piper" else "espeak"
        )
        # Only the offline models this call uses: a cloud call must not wait for llama.cpp.
        await offline.warm_up_for(session_providers, voice)
    config = CallConfig.from_settings(settings, script.variables, assistant_id=assistant_id)
    opening = config.first_message_mode != "assistant-waits-for-user" and (
        config.first_message is not None
        or config.first_message_mode == "assistant-speaks-first-with-model-generated-message"
    )
    caller = _Caller(transport, voice, opening=opening)
    events: list[SessionEvent] = []

    def sink(event: SessionEvent) -> None:
        events.append(event)
        caller.observe(event)

    on_end = end_call_url_hook(
        config.end_call_url,
        {"assistantId": assistant_id, "type": "simulated"},
        signing_secret=signing_secret,
        outbound=outbound,
    )
    call_info = {"id": "simulated", "type": "simulated", "assistantId": assistant_id}
    executor = (
        ToolExecutor(
            [tool.for_call() for tool in tools],
            signing_secret=signing_secret or "unsigned",
            call=call_info,
            outbound=outbound,
        )
        if tools
        else None
    )
    custom_tools = executor.specs() if executor else ()
    run_custom_tools = runner_for(executor) if executor else None
    session: CallSession | RealtimeSession
    if session_providers is None:
        assert model is not None
        session = realtime_session(
            config,
            settings,
            model,
            label,
            recording,
            clock,
            sink,
            on_end=on_end,
            custom_tools=custom_tools,
            run_custom_tools=run_custom_tools,
            retrieve=retrieve,
        )
    else:
        session = CallSession(
            config,
            session_providers,
            recording,
            clock,
            sink,
            on_end=on_end,
            custom_tools=custom_tools,
            run_custom_tools=run_custom_tools,
            retrieve=retrieve,
        )
    try:
        async with asyncio.TaskGroup() as group:
            call = group.create_task(session.run())
            play = group.create_task(
                caller.improvise(improviser) if improviser else caller.play(script.steps)
            )
            await asyncio.wait({call})
            play.cancel()
    finally:
        if executor is not None:
            await executor.aclose()
    result = simulation_result(events, choices)
    result.recording_wav = await asyncio.to_thread(recording.to_wav)
    return result


@contextlib.asynccontextmanager
async def knowledge_retriever(
    settings: Settings, assistant_id: int
) -> AsyncIterator[Retriever | None]:
    """The assistant's knowledge-base retriever for a simulated call (None when
    ``rag_settings.enabled`` is off). Documents waiting to be processed are processed
    here first, so a simulation right after an upload works without a server running."""
    engine = create_engine(settings.resolved_database_url)
    box = SecretBox(settings.resolved_secret_key())
    context = KnowledgeContext(
        create_session_factory(engine),
        box,
        settings=settings,
        outbound=OutboundPolicy.from_settings(settings),
    )
    try:
        async with context.session_factory() as session:
            assistant = await load_assistant_for_call(session, box, assistant_id)
        if assistant.settings.rag_settings.enabled:
            await DocumentProcessor(context).process_due()
        yield await knowledge_retriever_for(context, assistant)
    finally:
        context.indexes.close()
        await context.embedders.aclose()
        await engine.dispose()
