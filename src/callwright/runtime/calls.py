"""The call runtime: what happens between a media stream opening and the call's record
being complete, for every kind of call (Twilio in and out, browser).

``CallRuntime.run_call(call_id, transport)``:

1. loads the call and its assistant (overrides merged), its tools, and — with
   ``maintain_context`` — the same caller's previous conversation; marks the call
   in progress (``preparation``);
2. runs the ``CallSession`` (or realtime session) on a recording transport, with a
   ``CallRecorder`` as the event sink (appends only: nothing on the audio path touches
   the database) — the parts are built by ``call_parts``;
3. meanwhile a writer task turns transcript lines and tool calls into webhook events
   (``webhook_writer``: a bounded queue, the database written off the audio path), and
   another saves the record so far after each turn (``progress``: a crash loses at
   most the turn in flight);
4. however the call ends — hang-up, provider failure, dropped socket, cancellation at
   shutdown — writes the finished record, stores the stereo recording, queues the
   end-of-call report and counts the call in the metrics (``call_metrics``); with an
   ``analysis_plan`` it queues the analysis job and holds the report for it, at most
   ``analysis_wait_s`` (``domain.analysis``, run by ``runtime.analysis``).

Capacity is enforced where calls are issued (``check_capacity``, ``capacity``): past
``max_concurrent_calls`` new calls are refused with a busy signal, so the calls already
up never degrade. Every write of the call row goes through ``domain.calls.repository``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.domain.calls.control import CallCommand, CommandOutcome
from callwright.domain.calls.queries import load_call
from callwright.domain.calls.repository import calls_no_longer_waiting, end_call
from callwright.domain.knowledge.context import KnowledgeContext
from callwright.engine.events import EndReason, EventSink
from callwright.engine.lifecycle import Farewell
from callwright.engine.tasks import drop_cancellation
from callwright.errors import ServiceBusy
from callwright.observability import metrics
from callwright.observability.logging import bind_call
from callwright.providers.realtime.protocol import RealtimeModel
from callwright.runtime.call_metrics import observe_finished_call
from callwright.runtime.call_parts import LiveSession, PartsKit, assemble_call
from callwright.runtime.capacity import CallPlaces
from callwright.runtime.control import ControlRelay
from callwright.runtime.ended_reports import EndedReports
from callwright.runtime.preparation import PreparedCall, SigningSecret, prepare_call
from callwright.runtime.realtime import RealtimeFactory
from callwright.runtime.recorder import CallRecorder
from callwright.runtime.recordings import RecordingSpool, RecordingStore
from callwright.runtime.records import RecordWriter
from callwright.runtime.registry import ProviderChoice, ProviderFactory
from callwright.runtime.speech_cache import GreetingCache
from callwright.runtime.webhook_writer import CallWebhooks
from callwright.security.crypto import SecretBox
from callwright.security.outbound import OutboundPolicy
from callwright.settings import Settings
from callwright.store.call_status import CallStatus
from callwright.transports.protocol import Transport

__all__ = ["CallRuntime"]

logger = logging.getLogger(__name__)

# How long the end of a call waits for its last webhook events to be written.
_WEBHOOK_DRAIN_S = 5.0


@dataclass
class _Active:
    session: LiveSession
    transport: Transport
    done: asyncio.Event = field(default_factory=asyncio.Event)


class CallRuntime:
    """Runs this process's calls; one per server process."""

    def __init__(
        self,
        *,
        settings: Settings,
        session_factory: async_sessionmaker[AsyncSession],
        node_id: str,
        secret_box: SecretBox,
        recordings: RecordingStore,
        providers: ProviderFactory,
        signing_secret: SigningSecret,
        webhooks: CallWebhooks | None = None,
        knowledge: KnowledgeContext | None = None,
        relay: ControlRelay | None = None,
        realtime: RealtimeFactory | None = None,
    ) -> None:
        # This process's node (runtime.nodes): the calls it issues and holds name it.
        self.node_id = node_id
        self._session_factory = session_factory
        self._box = secret_box
        # Live calls' recordings as they grow: what a crash leaves (runtime.recordings).
        self._spool = RecordingSpool(settings.data_dir / "recordings-spool")
        # The finished record, written once (runtime.records).
        self._records = RecordWriter(
            session_factory, recordings, webhooks, settings, spool=self._spool
        )
        self._providers = providers
        self._signing_secret = signing_secret
        self._webhooks = webhooks
        # The closing webhooks of calls ended without a session (unstarted, swept).
        self.ended_reports = EndedReports(
            secret_box, webhooks, recordings=recordings, spool=self._spool
        )
        self._knowledge = knowledge
        # Commands for calls held by other nodes (None without Redis: none reachable).
        self._relay = relay
        self._realtime = realtime  # realtime assistants' models (none: refused)
        # Tool servers and end_call_url are users' URLs (security.outbound).
        self._outbound = OutboundPolicy.from_settings(settings)
        self._active: dict[int, _Active] = {}
        self._places = CallPlaces(settings.max_concurrent_calls, settings.stream_token_ttl_s)
        # What every call's parts are built with (runtime.call_parts); the greeting
        # cache holds static first messages, synthesised once per assistant and voice.
        self._kit = PartsKit(
            session_factory, webhooks, self._spool, self._outbound, GreetingCache()
        )
        # Set by the drain (runtime.drain): new calls are refused, calls up go on.
        self.draining = False

    # -- capacity and control ---------------------------------------------------------

    @property
    def active_calls(self) -> int:
        return len(self._active)

    def check_capacity(self, call_type: str = "webCall") -> None:
        """Refuse a new call when this process is full (``ServiceBusy``, a 503): calls
        running and calls issued whose stream has not connected yet both count. A
        draining process refuses every new call."""
        if self.draining:
            metrics.call_refused(call_type, "draining")
            raise ServiceBusy(
                "this server is shutting down and takes no new calls; try again shortly"
            )
        self._places.check(len(self._active), call_type)

    def reserve(self, call_id: int) -> None:
        """Hold a place for an issued call until its stream connects (or its token
        expires), so a burst of new calls cannot overshoot the limit."""
        self._places.reserve(call_id)

    async def settle_places(self) -> int:
        """Give back the reserved places of issued calls whose stream connected to
        another process (or that ended there): with several workers on one port, the
        stream of a call issued here often reaches a sibling, and its place here would
        otherwise stay held until its token expires. Run after each heartbeat; returns
        how many places were given back."""
        reserved = self._places.reserved()
        if not reserved:
            return 0
        async with self._session_factory() as session:
            settled = await calls_no_longer_waiting(session, reserved)
        for call_id in settled:
            if call_id not in self._active:
                self._places.release(call_id)
        return len(settled)

    def session_of(self, call_id: int) -> LiveSession | None:
        """The live session of a call running in this process, if any."""
        active = self._active.get(call_id)
        return active.session if active is not None else None

    def transport_of(self, call_id: int) -> Transport | None:
        """The transport of a call running in this process (the carrier's own)."""
        active = self._active.get(call_id)
        return active.transport if active is not None else None

    async def command(
        self, node_id: str | None, call_id: int, command: CallCommand
    ) -> CommandOutcome:
        """Carry out ``command`` on a live call held by ``node_id``: here, or on that
        node through the relay. What came of it, never a guess."""
        if node_id == self.node_id:
            return self.act(call_id, command)
        if node_id is None or self._relay is None:
            return CommandOutcome.UNREACHABLE
        return await self._relay.send(node_id, call_id, command)

    def act(self, call_id: int, command: CallCommand) -> CommandOutcome:
        """Carry out ``command`` on a call of this process (or say it is not live)."""
        session = self.session_of(call_id)
        if session is None or session.end_reason is not None:
            return CommandOutcome.NOT_LIVE
        if command.kind == "say":
            session.say(command.message, end_after=command.end_after)
        else:
            session.end(EndReason.MANUALLY_CANCELED, "ended through the API")
        return CommandOutcome.DONE

    async def end_all(self, reason: EndReason, timeout_s: float = 10.0) -> None:
        """End every call in this process (shutdown) and wait for their records."""
        for active in list(self._active.values()):
            active.session.end(reason)
        waits = [active.done.wait() for active in list(self._active.values())]
        if waits:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    await asyncio.gather(*waits)

    async def wait_idle(self) -> None:
        """Wait until no call runs in this process (the drain: calls up finish)."""
        while self._active:
            await asyncio.gather(*(active.done.wait() for active in list(self._active.values())))

    async def close_all(self, reason: EndReason, detail: str, timeout_s: float) -> None:
        """End every call politely: each says its assistant's end-call message, then
        hangs up with ``reason``; a call still up after ``timeout_s`` is cut at once.
        Returns once their records are written (``end_all`` bounds the last wait)."""
        for active in list(self._active.values()):
            session = active.session
            session.end(reason, detail, farewell=Farewell(session.config.end_call_message))
        waits = [active.done.wait() for active in list(self._active.values())]
        if waits:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    await asyncio.gather(*waits)
        for active in list(self._active.values()):
            active.session.end(reason, detail)
        await self.end_all(reason)

    # -- one call ---------------------------------------------------------------------

    async def prepare(self, call_id: int) -> PreparedCall:
        """Load the call, its assistant (overrides merged) and what the session needs;
        mark it in progress."""
        return await prepare_call(
            self._session_factory,
            self._box,
            call_id,
            signing_secret=self._signing_secret,
            webhooks=self._webhooks,
            knowledge=self._knowledge,
        )

    async def run_call(
        self,
        call_id: int,
        transport: Transport,
        *,
        extra_sink: EventSink | None = None,
        session_over: Callable[[], Awaitable[None]] | None = None,
    ) -> EndReason:
        """Run a call whose media stream is open on ``transport`` until it ends, then
        write its record. ``extra_sink`` also hears every session event (the browser's
        live transcript); ``session_over`` is awaited once the conversation is over and
        before the record is written (the carrier's socket is closed then: with the
        database away the record may wait, the caller must not). Returns why it ended.
        The call's reserved place is held until its session is registered as active, so
        a call still starting (its record read, its providers set up) is never counted
        nowhere."""
        try:
            with bind_call(call_id):
                return await self._run_call(call_id, transport, extra_sink, session_over)
        finally:
            self._places.release(call_id)

    async def _run_call(
        self,
        call_id: int,
        transport: Transport,
        extra_sink: EventSink | None,
        session_over: Callable[[], Awaitable[None]] | None = None,
    ) -> EndReason:
        realtime, providers = None, None
        try:
            prepared = await self.prepare(call_id)
            document = prepared.assistant.settings.model_dump(mode="json")
            organization_id = prepared.call.organization_id
            if prepared.assistant.settings.mode == "realtime":
                realtime, choices = await self._realtime_model(document, organization_id)
            else:
                providers, choices = await self._providers(
                    document, organization_id, transport.sample_rate
                )
            # A realtime assistant with no model, and no offline one: it ends at once.
            detail = choices[0].reason if realtime is None and providers is None else None
        except Exception as exc:
            # No session could start (assistant gone, no provider can serve it).
            logger.exception("call %s could not start", call_id)
            detail = f"{type(exc).__name__}: {exc}"
        if detail is not None:
            # The line is hung up and the record still ends with the reason.
            with contextlib.suppress(Exception):
                await transport.hang_up(EndReason.PIPELINE_ERROR.value)
            await self.end_unstarted(call_id, EndReason.PIPELINE_ERROR, detail)
            return EndReason.PIPELINE_ERROR
        parts = assemble_call(
            self._kit,
            prepared,
            transport,
            document,
            providers=providers,
            realtime=realtime,
            extra_sink=extra_sink,
        )
        call, tools = prepared.call, prepared.tools
        session, recorder, writer = parts.session, parts.recorder, parts.writer
        if self._webhooks is not None:
            self._webhooks.register_tools(call_id, {t.name: t.public_config() for t in tools})
        active = self._active[call_id] = _Active(session, transport)
        self._places.release(call_id)  # counted as active from here
        metrics.call_started(call.type)
        reason = EndReason.PIPELINE_ERROR
        try:
            async with asyncio.TaskGroup() as group:
                writing = group.create_task(writer.run()) if writer is not None else None
                saving = group.create_task(parts.progress.run())
                # Cancelled at the end: their frames (a save cut short inside the
                # database driver) must not stay in a cycle with their CancelledError.
                for task in (writing, saving):
                    if task is not None:
                        task.add_done_callback(drop_cancellation)
                try:
                    reason = await session.run()
                finally:
                    # The final record is written below, in full.
                    saving.cancel()
                    if writer is not None and writing is not None:
                        writer.close()
                        if not writing.done():
                            await asyncio.wait({writing}, timeout=_WEBHOOK_DRAIN_S)
                        writing.cancel()
        finally:
            self._shutdown_drop(recorder, transport)
            del self._active[call_id]
            if parts.executor is not None:
                await parts.executor.aclose()
            if session_over is not None:
                with contextlib.suppress(Exception):
                    await session_over()
            # Shielded: a cancellation (shutdown) must not lose the record. Webhook
            # events the database did not take in time go with it.
            leftover = writer.leftover() if writer is not None else []
            await asyncio.shield(
                self._records.finish(
                    call_id, prepared, recorder, parts.recording, choices, leftover
                )
            )
            if self._webhooks is not None:
                self._webhooks.forget(call_id)
            observe_finished_call(call.type, recorder, parts.lead_llm)
            active.done.set()
        return recorder.end_reason or reason

    async def _realtime_model(
        self, document: dict[str, Any], organization_id: int
    ) -> tuple[tuple[RealtimeModel, str] | None, list[ProviderChoice]]:
        """A realtime assistant's model and its label, or None (the choice says why)."""
        if self._realtime is None:
            why = "realtime: realtime calls are not enabled in this process"
            return None, [ProviderChoice("realtime", "none", "none", why)]
        model, label, choice = await self._realtime(document, organization_id)
        return ((model, label) if model is not None else None), [choice]

    @staticmethod
    def _shutdown_drop(recorder: CallRecorder, transport: Transport) -> None:
        """A socket closed by this server's own shutdown ends the call for that reason,
        not as a dropped connection."""
        if recorder.end_reason is EndReason.TRANSPORT_DROPPED and getattr(
            transport, "closed_for_shutdown", False
        ):
            recorder.end_reason = EndReason.SERVER_SHUTDOWN
            recorder.end_detail = "the server shut down during the call"

    async def end_unstarted(self, call_id: int, reason: EndReason, detail: str | None) -> None:
        """Finish the record of a call that never had a session (not answered, busy,
        refused, or failed before its first frame); a no-op for a finished call."""
        self._places.release(call_id)
        async with self._session_factory() as db:
            call = await load_call(db, call_id)
            if call is None or call.status == CallStatus.ENDED:
                return
            end_call(call, reason.value, detail)
            await self.ended_reports.send(db, call)
            await db.commit()
