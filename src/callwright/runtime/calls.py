"""The call runtime: what happens between a media stream opening and the call's record
being complete, for every kind of call (Twilio in and out, browser).

``CallRuntime.run_call(call_id, transport)``:

1. loads the call and its assistant (overrides merged), its tools, and — with
   ``maintain_context`` — the same caller's previous conversation; marks the call
   in progress;
2. runs the ``CallSession`` on a recording transport, with a ``CallRecorder`` as the
   event sink (appends only: nothing on the audio path touches the database);
3. meanwhile a writer task turns transcript lines and tool calls into webhook events
   (bounded queue; the database is written off the audio path);
4. however the call ends — hang-up, provider failure, dropped socket, cancellation at
   shutdown — writes the finished record, stores the stereo recording and queues the
   end-of-call report.

Capacity is enforced where calls are issued (``check_capacity``): past
``max_concurrent_calls`` new calls are refused with a busy signal, so the calls already
up never degrade.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.clock import MonotonicClock
from callwright.domain.assistants.schemas import AssistantIn
from callwright.domain.assistants.service import load_assistant_for_call, merge_settings
from callwright.domain.calls.repository import placing_principal, previous_conversation
from callwright.domain.knowledge.context import KnowledgeContext
from callwright.domain.knowledge.retrieval import knowledge_retriever_for
from callwright.domain.tools.schemas import CustomTool
from callwright.domain.tools.service import tools_for_call
from callwright.domain.validation import validate_as
from callwright.engine.config import CallConfig
from callwright.engine.events import EndReason, EventSink, SessionEvent
from callwright.engine.replies import Retriever, runner_for
from callwright.engine.session import CallSession
from callwright.engine.tools import ToolExecutor
from callwright.errors import NotFound, ServiceBusy
from callwright.observability import metrics
from callwright.observability.logging import bind_call
from callwright.providers.protocols import ChatMessage
from callwright.runtime.hooks import end_call_url_hook
from callwright.runtime.recorder import CallRecorder, StereoRecording
from callwright.runtime.recordings import RecordingStore
from callwright.runtime.registry import ProviderChoice, ProviderFactory
from callwright.runtime.speech_cache import GreetingCache
from callwright.security.crypto import SecretBox
from callwright.security.outbound import OutboundPolicy
from callwright.settings import Settings
from callwright.store.base import utcnow
from callwright.store.models import Call
from callwright.transports.protocol import Transport

__all__ = ["CallRuntime", "CallWebhooks", "PreparedCall", "ProviderFactory"]

logger = logging.getLogger(__name__)

_WEBHOOK_QUEUE = 256


@dataclass(frozen=True, slots=True)
class PreparedCall:
    """Everything a call needs, loaded before the first frame is answered."""

    call: Call
    settings: dict[str, Any]
    config: CallConfig
    previous: tuple[ChatMessage, ...]
    signing_secret: str
    webhook_url: str | None
    tools: tuple[CustomTool, ...]
    retrieve: Retriever | None = None


class CallWebhooks(Protocol):
    """Queues a call's webhook events (in the outbox, delivered elsewhere; the outbox
    wakes this process's dispatcher when the transaction commits)."""

    async def send(
        self, session: AsyncSession, call: Call, url: str, kind: str, data: Mapping[str, Any]
    ) -> None: ...

    def register_tools(self, call_id: int, tools: Mapping[str, Mapping[str, Any]]) -> None:
        """The call's custom tools (name → definition) for its tool-call messages."""
        ...

    def forget(self, call_id: int) -> None: ...


SigningSecret = Callable[[AsyncSession, int], Awaitable[str]]


@dataclass
class _Active:
    session: CallSession
    transport: Transport
    done: asyncio.Event = field(default_factory=asyncio.Event)


class CallRuntime:
    """Runs this process's calls; one per server process."""

    def __init__(
        self,
        *,
        settings: Settings,
        session_factory: async_sessionmaker[AsyncSession],
        secret_box: SecretBox,
        recordings: RecordingStore,
        providers: ProviderFactory,
        signing_secret: SigningSecret,
        webhooks: CallWebhooks | None = None,
        knowledge: KnowledgeContext | None = None,
    ) -> None:
        self._settings = settings
        self._session_factory = session_factory
        self._box = secret_box
        self._recordings = recordings
        self._providers = providers
        self._signing_secret = signing_secret
        self._webhooks = webhooks
        self._knowledge = knowledge
        # Tool servers and end_call_url are users' URLs (security.outbound).
        self._outbound = OutboundPolicy.from_settings(settings)
        self._active: dict[int, _Active] = {}
        # Calls issued but not yet connected hold a place until their token expires.
        self._reserved: dict[int, float] = {}
        # Static first messages, synthesised once per assistant, voice and text.
        self._greetings = GreetingCache()

    # -- capacity and control ---------------------------------------------------------

    @property
    def active_calls(self) -> int:
        return len(self._active)

    def check_capacity(self, call_type: str = "webCall") -> None:
        """Refuse a new call when this process is full (``ServiceBusy``, a 503): calls
        running and calls issued whose stream has not connected yet both count."""
        now = time.monotonic()
        for call_id, expires in list(self._reserved.items()):
            if expires < now:
                del self._reserved[call_id]
        if len(self._active) + len(self._reserved) >= self._settings.max_concurrent_calls:
            metrics.call_refused(call_type)
            raise ServiceBusy(
                f"this server is at its limit of {self._settings.max_concurrent_calls} "
                "concurrent calls; try again shortly"
            )

    def reserve(self, call_id: int) -> None:
        """Hold a place for an issued call until its stream connects (or its token
        expires), so a burst of new calls cannot overshoot the limit."""
        self._reserved[call_id] = time.monotonic() + self._settings.stream_token_ttl_s

    def session_of(self, call_id: int) -> CallSession | None:
        """The live session of a call running in this process, if any."""
        active = self._active.get(call_id)
        return active.session if active is not None else None

    def transport_of(self, call_id: int) -> Transport | None:
        """The transport of a call running in this process (the carrier's own)."""
        active = self._active.get(call_id)
        return active.transport if active is not None else None

    async def end_all(self, reason: EndReason, timeout_s: float = 10.0) -> None:
        """End every call in this process (shutdown) and wait for their records."""
        for active in list(self._active.values()):
            active.session.end(reason)
        waits = [active.done.wait() for active in list(self._active.values())]
        if waits:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    await asyncio.gather(*waits)

    # -- one call ---------------------------------------------------------------------

    async def prepare(self, call_id: int) -> PreparedCall:
        """Load the call, its assistant (overrides merged) and what the session needs;
        mark it in progress."""
        async with self._session_factory() as db:
            call = await db.get(Call, call_id)
            if call is None or call.assistant_id is None:
                raise NotFound(f"call {call_id} not found")
            stored = await load_assistant_for_call(db, self._box, call.assistant_id)
            document = stored.settings.model_dump(mode="json")
            if call.overrides:
                merged = merge_settings(AssistantIn, document, call.overrides)
                document = validate_as(AssistantIn, merged).model_dump(mode="json")
            customer = call.to_number if call.type == "outboundPhoneCall" else call.from_number
            variables = {
                "customer": {"number": customer},
                "call": {"id": str(call.id), "type": call.type},
                **call.variables,
            }
            config = CallConfig.from_settings(document, variables, assistant_id=call.assistant_id)
            previous: list[ChatMessage] = []
            if config.maintain_context:
                for line in await previous_conversation(db, call, customer):
                    if line.get("text"):
                        previous.append(ChatMessage(line["role"], line["text"]))
            secret = await self._signing_secret(db, call.organization_id)
            if call.overrides:
                stored = replace(stored, settings=validate_as(AssistantIn, document))
            # With the overrides merged: tools named for this call only act too.
            call_tools = await tools_for_call(
                db, self._box, stored, placed_by=placing_principal(call)
            )
            tools = call_tools.tools
            call.tools_left_out = [
                {"tool_id": left.tool_id, "reason": left.reason} for left in call_tools.left_out
            ]
            for left in call_tools.left_out:
                logger.warning(
                    "call %s of assistant %s: stored tool %s left out: %s",
                    call.id,
                    call.assistant_id,
                    left.tool_id,
                    left.reason,
                )
            call.status = "in-progress"
            call.started_at = utcnow()
            call.updated_at = call.started_at
            webhook_url = document.get("webhook_url")
            if self._webhooks is not None and webhook_url:
                await self._webhooks.send(db, call, webhook_url, "status-update", {})
            await db.commit()
        retrieve = None
        if self._knowledge is not None:
            # Reconciles the documents with rag_settings and warms index and embedder.
            retrieve = await knowledge_retriever_for(self._knowledge, stored)
        return PreparedCall(
            call, document, config, tuple(previous), secret, webhook_url, tuple(tools), retrieve
        )

    async def run_call(
        self, call_id: int, transport: Transport, *, extra_sink: EventSink | None = None
    ) -> EndReason:
        """Run a call whose media stream is open on ``transport`` until it ends, then
        write its record. ``extra_sink`` also hears every session event (the browser's
        live transcript). Returns why it ended. The call's reserved place is held until
        its session is registered as active, so a call still starting (its record read,
        its providers set up) is never counted nowhere."""
        try:
            with bind_call(call_id):
                return await self._run_call(call_id, transport, extra_sink)
        finally:
            self._reserved.pop(call_id, None)

    async def _run_call(
        self, call_id: int, transport: Transport, extra_sink: EventSink | None
    ) -> EndReason:
        try:
            prepared = await self.prepare(call_id)
            providers, choices = await self._providers(
                prepared.settings, prepared.call.organization_id, transport.sample_rate
            )
        except Exception as exc:
            # No session could start (assistant gone, no provider can serve it): the
            # line is hung up and the record still ends with the reason.
            logger.exception("call %s could not start", call_id)
            with contextlib.suppress(Exception):
                await transport.hang_up(EndReason.PIPELINE_ERROR.value)
            await self.end_unstarted(
                call_id, EndReason.PIPELINE_ERROR, f"{type(exc).__name__}: {exc}"
            )
            return EndReason.PIPELINE_ERROR
        call, config, tools = prepared.call, prepared.config, prepared.tools
        clock = MonotonicClock()
        recording = StereoRecording(transport)
        queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue(_WEBHOOK_QUEUE)

        def notify(kind: str, data: dict[str, Any]) -> None:
            if prepared.webhook_url and self._webhooks is not None:
                try:
                    queue.put_nowait((kind, data))
                except asyncio.QueueFull:
                    logger.warning("call %s: webhook queue full, %s event dropped", call_id, kind)

        recorder = CallRecorder(started_at=clock.now(), notify=notify)

        def sink(event: SessionEvent) -> None:
            recorder(event)
            if extra_sink is not None:
                extra_sink(event)

        call_info = {"id": str(call.id), "type": call.type, "assistantId": call.assistant_id}
        executor = (
            ToolExecutor(
                [tool.for_call() for tool in tools],
                signing_secret=prepared.signing_secret,
                call=call_info,
                outbound=self._outbound,
            )
            if tools
            else None
        )
        session = CallSession(
            config,
            providers,
            recording,
            clock,
            sink,
            on_end=end_call_url_hook(
                config.end_call_url,
                call_info,
                signing_secret=prepared.signing_secret,
                outbound=self._outbound,
            ),
            custom_tools=executor.specs() if executor else (),
            run_custom_tools=runner_for(executor) if executor else None,
            previous_conversation=prepared.previous,
            retrieve=prepared.retrieve,
            speech_cache=self._greetings,
        )
        if self._webhooks is not None:
            self._webhooks.register_tools(call_id, {t.name: t.public_config() for t in tools})
        active = self._active[call_id] = _Active(session, transport)
        self._reserved.pop(call_id, None)  # counted as active from here
        metrics.call_started(call.type)
        reason = EndReason.PIPELINE_ERROR
        try:
            async with asyncio.TaskGroup() as group:
                writer = group.create_task(self._write_webhooks(call_id, prepared, queue))
                try:
                    reason = await session.run()
                finally:
                    with contextlib.suppress(asyncio.QueueFull):
                        queue.put_nowait(None)
                    if not writer.done():
                        await asyncio.wait({writer}, timeout=5.0)
                    writer.cancel()
        finally:
            self._shutdown_drop(recorder, transport)
            del self._active[call_id]
            if executor is not None:
                await executor.aclose()
            # Shielded: a cancellation (shutdown) must not lose the record.
            await asyncio.shield(
                self._finish(call_id, prepared, recorder, recording, choices, clock.now())
            )
            if self._webhooks is not None:
                self._webhooks.forget(call_id)
            self._observe(call.type, recorder, providers.llms[0].name if providers.llms else None)
            active.done.set()
        return recorder.end_reason or reason

    @staticmethod
    def _observe(call_type: str, recorder: CallRecorder, lead_llm: str | None) -> None:
        """The finished call in the process metrics: its end, its turns, every provider
        that failed during it, and the turns a fallback LLM answered (``lead_llm``: the
        name of the LLM asked first)."""
        reason = recorder.end_reason or EndReason.PIPELINE_ERROR
        metrics.call_ended(call_type, reason.value)
        for row in recorder.turns:
            metrics.turn_recorded(row)
            for failed in row.get("llm_errors") or ():
                metrics.provider_error("llm", failed["provider"])
            answered = row.get("llm_provider")
            if lead_llm and answered and answered != lead_llm:
                metrics.llm_fallback(lead_llm, answered)
        for failover in recorder.failovers:
            metrics.provider_error(failover["kind"], failover["requested"])
        if reason is EndReason.PIPELINE_ERROR and recorder.end_detail:
            provider, _, _ = recorder.end_detail.partition(":")
            metrics.provider_error("call", provider.strip()[:40] or "unknown")

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
        self._reserved.pop(call_id, None)
        async with self._session_factory() as db:
            call = await db.get(Call, call_id)
            if call is None or call.status == "ended":
                return
            now = utcnow()
            call.status = "ended"
            call.ended_at = now
            call.updated_at = now
            call.end_reason = reason.value
            call.end_detail = detail
            call.stream_nonce = None
            webhook_url = await self._webhook_url_of(db, call)
            if self._webhooks is not None and webhook_url:
                await self._webhooks.send(db, call, webhook_url, "status-update", {})
                await self._webhooks.send(db, call, webhook_url, "end-of-call-report", {})
            await db.commit()

    async def _webhook_url_of(self, db: AsyncSession, call: Call) -> str | None:
        if call.assistant_id is None:
            return None
        try:
            stored = await load_assistant_for_call(db, self._box, call.assistant_id)
        except NotFound:
            return None
        url = call.overrides.get("webhook_url") or stored.settings.webhook_url
        return str(url) if url else None

    async def _write_webhooks(
        self,
        call_id: int,
        prepared: PreparedCall,
        queue: asyncio.Queue[tuple[str, dict[str, Any]] | None],
    ) -> None:
        """Turn the call's transcript lines and tool calls into webhook events until the
        sentinel ``None`` (nothing after it is written). Whatever piled up while the
        last batch was written goes in one transaction: a burst costs one commit."""
        if self._webhooks is None or not prepared.webhook_url:
            return
        while True:
            batch, ended = await self._next_webhook_batch(queue)
            if batch:
                await self._write_webhook_batch(
                    call_id, self._webhooks, prepared.webhook_url, batch
                )
            if ended:
                return

    @staticmethod
    async def _next_webhook_batch(
        queue: asyncio.Queue[tuple[str, dict[str, Any]] | None],
    ) -> tuple[list[tuple[str, dict[str, Any]]], bool]:
        """The events queued so far, oldest first (waiting for the first), and whether
        the sentinel came after them."""
        batch: list[tuple[str, dict[str, Any]]] = []
        item = await queue.get()
        while item is not None:
            batch.append(item)
            try:
                item = queue.get_nowait()
            except asyncio.QueueEmpty:
                return batch, False
        return batch, True

    async def _write_webhook_batch(
        self,
        call_id: int,
        webhooks: CallWebhooks,
        url: str,
        batch: Sequence[tuple[str, dict[str, Any]]],
    ) -> None:
        """Queue ``batch`` in order, in one session and one commit. An event that cannot
        be made is skipped and the rest still go; a failed commit loses the batch and is
        logged, since a webhook must never take the call down."""
        try:
            async with self._session_factory() as db:
                call = await db.get(Call, call_id)
                if call is None:
                    return
                for kind, data in batch:
                    try:
                        await webhooks.send(db, call, url, kind, data)
                    except Exception:
                        logger.exception("call %s: could not queue the %s webhook", call_id, kind)
                await db.commit()
        except Exception:
            kinds = ", ".join(kind for kind, _ in batch)
            logger.exception("call %s: could not queue the webhooks %s", call_id, kinds)

    async def _finish(
        self,
        call_id: int,
        prepared: PreparedCall,
        recorder: CallRecorder,
        recording: StereoRecording,
        choices: Sequence[ProviderChoice],
        now: float,
    ) -> None:
        recording_key: str | None = None
        try:
            wav = await asyncio.to_thread(recording.to_wav)
            recording_key = f"{prepared.call.organization_id}/{call_id}.wav"
            await self._recordings.put(recording_key, wav, "audio/wav")
        except Exception:
            logger.exception("call %s: the recording could not be stored", call_id)
            recording_key = None
        chosen = {choice.kind: choice.chosen for choice in choices}
        async with self._session_factory() as db:
            call = await db.get(Call, call_id)
            if call is None:
                return
            ended = utcnow()
            call.status = "ended"
            call.ended_at = ended
            call.updated_at = ended
            if call.started_at is not None:
                call.duration_seconds = round((ended - call.started_at).total_seconds(), 3)
            call.end_reason = (recorder.end_reason or EndReason.PIPELINE_ERROR).value
            call.end_detail = recorder.end_detail
            call.messages = recorder.messages
            call.tool_calls = recorder.tool_calls
            call.knowledge = recorder.knowledge
            call.turns = recorder.turns
            call.usage = recorder.usage(
                stt_seconds=recording.caller_seconds,
                llm=chosen.get("llm", "unknown"),
                stt=chosen.get("stt", "unknown"),
                tts=chosen.get("tts", "unknown"),
            )
            # What served each kind at the start, then each mid-call failover.
            call.providers = [
                {"kind": c.kind, "requested": c.requested, "chosen": c.chosen, "reason": c.reason}
                for c in choices
            ] + recorder.failovers
            call.recording_key = recording_key
            call.stream_nonce = None
            if self._webhooks is not None and prepared.webhook_url:
                await self._webhooks.send(db, call, prepared.webhook_url, "status-update", {})
                await self._webhooks.send(db, call, prepared.webhook_url, "end-of-call-report", {})
            await db.commit()
