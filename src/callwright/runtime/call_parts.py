"""One call's working parts, put together once its providers are chosen: the session
(pipeline or realtime) on a recording transport, the recorder as its event sink, the
per-turn progress writer, the webhook writer and the tool executor.

Split from ``runtime.calls``, which owns the call's life (its place, its run, its
record): this module only builds, and nothing here touches the database or the
network until the call runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.clock import MonotonicClock
from callwright.engine.events import EventSink, SessionEvent, TurnTiming
from callwright.engine.realtime import RealtimeSession
from callwright.engine.replies import runner_for
from callwright.engine.session import CallSession
from callwright.engine.session_providers import SessionProviders
from callwright.engine.tools import ToolExecutor
from callwright.providers.realtime.protocol import RealtimeModel
from callwright.runtime.hooks import end_call_url_hook
from callwright.runtime.preparation import PreparedCall
from callwright.runtime.progress import ProgressWriter, SpooledRecording
from callwright.runtime.realtime import realtime_session
from callwright.runtime.recorder import CallRecorder, StereoRecording
from callwright.runtime.recordings import RecordingSpool
from callwright.runtime.speech_cache import GreetingCache
from callwright.runtime.webhook_writer import CallWebhooks, WebhookWriter
from callwright.security.outbound import OutboundPolicy
from callwright.transports.protocol import Transport

__all__ = ["CallParts", "LiveSession", "PartsKit", "assemble_call"]

LiveSession = CallSession | RealtimeSession


@dataclass(frozen=True, slots=True)
class PartsKit:
    """What the runtime lends every call it builds (one per process)."""

    session_factory: async_sessionmaker[AsyncSession]
    webhooks: CallWebhooks | None
    spool: RecordingSpool
    outbound: OutboundPolicy
    greetings: GreetingCache


@dataclass(frozen=True, slots=True)
class CallParts:
    """A call ready to run: ``session.run()`` while ``progress`` (and ``writer``, if
    the call has a webhook) run beside it; ``recorder`` and ``recording`` make the
    record; ``executor`` is closed when the call ends."""

    session: LiveSession
    recorder: CallRecorder
    recording: StereoRecording
    progress: ProgressWriter
    writer: WebhookWriter | None
    executor: ToolExecutor | None
    # The call's first-choice model, for the metrics.
    lead_llm: str | None


def assemble_call(
    kit: PartsKit,
    prepared: PreparedCall,
    transport: Transport,
    document: Mapping[str, Any],
    *,
    providers: SessionProviders | None,
    realtime: tuple[RealtimeModel, str] | None,
    extra_sink: EventSink | None,
) -> CallParts:
    """Build the call's parts: a realtime session when ``realtime`` is given, else a
    pipeline session on ``providers``. ``extra_sink`` also hears every event."""
    call, config, tools = prepared.call, prepared.config, prepared.tools
    clock = MonotonicClock()
    recording = StereoRecording(transport)
    writer = None
    if kit.webhooks is not None and prepared.webhook_url:
        writer = WebhookWriter(call.id, kit.webhooks, prepared.webhook_url, kit.session_factory)
    recorder = CallRecorder(
        started_at=clock.now(), notify=writer.notify if writer is not None else None
    )
    progress = ProgressWriter(
        call.id,
        recorder,
        kit.session_factory,
        spooled=SpooledRecording(recording, kit.spool, call.organization_id),
    )

    def sink(event: SessionEvent) -> None:
        recorder(event)
        if isinstance(event, TurnTiming):
            progress.turn_ended()  # the record so far is saved, off the audio path
        if extra_sink is not None:
            extra_sink(event)

    call_info = {"id": str(call.id), "type": call.type, "assistantId": call.assistant_id}
    executor = (
        ToolExecutor(
            [tool.for_call() for tool in tools],
            signing_secret=prepared.signing_secret,
            call=call_info,
            outbound=kit.outbound,
        )
        if tools
        else None
    )
    on_end = end_call_url_hook(
        config.end_call_url,
        call_info,
        signing_secret=prepared.signing_secret,
        outbound=kit.outbound,
    )
    custom_tools = executor.specs() if executor else ()
    session: LiveSession
    lead_llm: str | None
    if realtime is not None:
        model, lead_llm = realtime
        session = realtime_session(
            config,
            document,
            model,
            lead_llm,
            recording,
            clock,
            sink,
            on_end=on_end,
            custom_tools=custom_tools,
            run_custom_tools=runner_for(executor) if executor else None,
            retrieve=prepared.retrieve,
            previous_conversation=prepared.previous,
        )
    else:
        assert providers is not None
        lead_llm = providers.llms[0].name if providers.llms else None
        session = CallSession(
            config,
            providers,
            recording,
            clock,
            sink,
            on_end=on_end,
            custom_tools=custom_tools,
            run_custom_tools=runner_for(executor) if executor else None,
            previous_conversation=prepared.previous,
            retrieve=prepared.retrieve,
            speech_cache=kit.greetings,
        )
    return CallParts(session, recorder, recording, progress, writer, executor, lead_llm)
