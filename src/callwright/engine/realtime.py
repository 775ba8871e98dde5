"""A realtime call: a speech-to-speech model replaces the transcriber, the LLM and the
voice for the whole call, and everything else about the call stays (decision 018).

``RealtimeSession`` has ``CallSession``'s outside surface (``run``, ``say``, ``end``,
``end_reason``) and owns one TaskGroup for the call:

- the transport's events: caller audio re-encoded to the model's wire format (μ-law
  for a phone line: the bytes Twilio sent; PCM16 24 kHz for a browser), marks, DTMF
  (sent to the model as text), answering machines, hang-up;
- the model's events: the caller's speech and turns (``realtime_caller``: each turn
  answered, or taken as a barge-in per the assistant's interruption settings), the
  answers' audio and words (``realtime_voice``), function calls (``realtime_tools``),
  errors;
- the lifecycle and watchdogs of ``engine.lifecycle`` (one way to end; idle reprompts
  and max duration), the built-in tools (end call, transfer) and custom tools run by
  the tool runner, their results given back to the model.
"""

from __future__ import annotations

import itertools
import logging
import weakref

from callwright.audio.codec import mulaw_encode
from callwright.audio.resample import Resampler
from callwright.clock import Clock
from callwright.engine.config import CallConfig
from callwright.engine.events import (
    EndReason,
    EventSink,
    TurnTiming,
    UserMessage,
)
from callwright.engine.keypad import Keypad
from callwright.engine.lifecycle import (
    CallState,
    EndCallHook,
    Farewell,
    Lifecycle,
    Watchdogs,
    held_until_ended,
)
from callwright.engine.realtime_caller import RealtimeCaller
from callwright.engine.realtime_tools import RealtimeTools
from callwright.engine.realtime_voice import RealtimeVoice
from callwright.engine.replies import Retriever, ToolRunner
from callwright.engine.tasks import CallTasks, weakly
from callwright.providers.errors import ProviderError
from callwright.providers.realtime.protocol import (
    AppendAudio,
    AudioOut,
    CallerSpeechStarted,
    CallerSpeechStopped,
    CallerText,
    CallerTranscript,
    CallerTurnCommitted,
    RealtimeConnection,
    RealtimeModel,
    RealtimeNotice,
    RealtimeOptions,
    ResponseDone,
    ToolCallRequested,
    TranscriptOut,
    sample_rate_of,
)
from callwright.transports.protocol import (
    AnsweringMachine,
    AudioReceived,
    CallerHungUp,
    DtmfReceived,
    PlaybackMarked,
    Transport,
)

__all__ = ["RealtimeSession"]

logger = logging.getLogger(__name__)


class RealtimeSession:
    """One realtime call. ``label`` names the model in the record (``openai:gpt-realtime``)."""

    def __init__(
        self,
        config: CallConfig,
        model: RealtimeModel,
        options: RealtimeOptions,
        transport: Transport,
        clock: Clock,
        sink: EventSink,
        *,
        label: str,
        on_end: EndCallHook | None = None,
        run_custom_tools: ToolRunner | None = None,
        retrieve: Retriever | None = None,
    ) -> None:
        if options.audio == "pcmu" and transport.sample_rate != sample_rate_of("pcmu"):
            raise ValueError("μ-law realtime audio needs an 8 kHz transport")
        self.config = config
        self._label = label
        self._model = model
        self._options = options
        self._transport = transport
        self._clock = clock
        self._emit = sink
        # As in ``engine.session``: the parts call back weakly and spawn into
        # ``CallTasks``, so a finished call is freed by reference counting.
        self._tasks = CallTasks()
        spawn = self._tasks.spawn
        me: RealtimeSession = weakref.proxy(self)
        self._connection: RealtimeConnection | None = None
        self._voice = RealtimeVoice(
            config,
            options.audio,
            transport,
            clock,
            sink,
            spawn=spawn,
            listener=me,
            label=label,
        )
        self._tools = RealtimeTools(
            config,
            self._voice,
            transport,
            clock,
            sink,
            spawn=spawn,
            call=me,
            active=lambda: me._lifecycle.state is CallState.ACTIVE,
            run_custom=run_custom_tools,
            offered=options.tools,
            send_dtmf=lambda digits: me._keypad.press(digits),
            search_knowledge=retrieve,
        )
        self._voice.on_answered = weakly(self._tools.answered)
        self._lifecycle = Lifecycle(self._voice, spawn, transport, clock, sink, on_end)
        self._watchdogs = Watchdogs(
            config,
            self._lifecycle,
            clock,
            sink,
            busy=lambda: me._voice.replying or me._caller.speaking,
            reprompt=self._voice.say,
        )
        self._to_model = (
            Resampler(transport.sample_rate, sample_rate_of("pcm24"))
            if options.audio == "pcm24"
            else None
        )
        self._turns = itertools.count(1)
        self._caller = RealtimeCaller(
            config,
            self._voice,
            self._watchdogs,
            clock,
            sink,
            spawn=spawn,
            call=me,
            turns=self._turns,
            label=label,
        )
        self._keypad = Keypad(
            transport, clock, spawn, touch=self._watchdogs.touch, turn=weakly(self._keys_pressed)
        )

    @property
    def end_reason(self) -> EndReason | None:
        return self._lifecycle.reason

    # -- running ------------------------------------------------------------------------

    async def run(self) -> EndReason:
        """Hold the call until it ends; returns why."""
        return await held_until_ended(self._converse, self._lifecycle, "realtime call")

    async def _converse(self) -> None:
        connection = self._connection = await self._model.connect(self._options)
        self._voice.attach(connection)
        self._tools.attach(connection)
        try:
            await self._tasks.hold(lambda: self._open(connection), self._lifecycle.ended)
        finally:
            await connection.aclose()

    def _open(self, connection: RealtimeConnection) -> None:
        spawn = self._tasks.spawn
        spawn(self._receive())
        spawn(self._follow(connection))
        spawn(self._watchdogs.watch_idle())
        if self.config.max_duration_s:
            spawn(self._watchdogs.watch_duration(self.config.max_duration_s))
        mode = self.config.first_message_mode
        if mode == "assistant-speaks-first" and self.config.first_message:
            self._voice.say(self.config.first_message)
        elif mode == "assistant-speaks-first-with-model-generated-message":
            self._voice.start(TurnTiming(0))

    async def _receive(self) -> None:
        assert self._connection is not None
        async for event in self._transport.events():
            if isinstance(event, AudioReceived):
                if self._to_model is not None:
                    audio = self._to_model.process(event.pcm16)
                else:
                    # The carrier's own bytes; encoded only from a far end without them.
                    audio = event.mulaw if event.mulaw is not None else mulaw_encode(event.pcm16)
                if audio:
                    await self._connection.send(AppendAudio(audio))
            elif isinstance(event, PlaybackMarked):
                self._voice.on_mark(event.name)
            elif isinstance(event, DtmfReceived):
                self._keypad.pressed(event.digit)
            elif isinstance(event, AnsweringMachine):
                if event.kind not in ("human", "machine_start"):
                    farewell = Farewell(self.config.voicemail_message)
                    self.end(EndReason.VOICEMAIL, farewell=farewell)
            elif isinstance(event, CallerHungUp):
                self.end(EndReason.CUSTOMER_ENDED_CALL, event.reason)
                return
        self.end(EndReason.TRANSPORT_DROPPED, "the connection closed")

    async def _follow(self, connection: RealtimeConnection) -> None:
        async for event in connection.events():
            now = self._clock.now()
            if isinstance(event, AudioOut):
                await self._voice.audio(event.item_id, event.audio)
            elif isinstance(event, TranscriptOut):
                self._voice.words(event.item_id, event.text)
            elif isinstance(event, CallerSpeechStarted):
                self._caller.speech_started(now)
            elif isinstance(event, CallerSpeechStopped):
                self._caller.speech_stopped(now)
            elif isinstance(event, CallerTurnCommitted):
                self._caller.committed(event.item_id, event.answer_id, now)
            elif isinstance(event, CallerTranscript):
                self._caller.transcript(event.item_id, event.text, now)
            elif isinstance(event, ToolCallRequested):
                self._tools.requested(event, now)
            elif isinstance(event, ResponseDone):
                self._voice.response_done(event.input_tokens, event.output_tokens, event.item_id)
            elif isinstance(event, RealtimeNotice):
                logger.warning("realtime model: %s", event.message)
        raise ProviderError(self._model.name, "the model's connection ended")

    # -- what the voice reports (speaking.AssistantListener) ------------------------------

    def assistant_active(self, now: float) -> None:
        self._watchdogs.touch(now)

    # -- live control, DTMF ---------------------------------------------------------------

    def say(self, text: str, *, end_after: bool = False) -> None:
        """Speak ``text`` now, cutting off the answer in progress; with ``end_after``,
        hang up once it has been played."""
        if not self._tasks.running or self._lifecycle.state is not CallState.ACTIVE:
            return
        if end_after:
            self.end(EndReason.ASSISTANT_ENDED_CALL, farewell=Farewell(text))
        else:
            self._voice.say(text)

    def end(
        self,
        reason: EndReason = EndReason.MANUALLY_CANCELED,
        detail: str | None = None,
        *,
        farewell: Farewell | None = None,
    ) -> None:
        """End the call (``engine.lifecycle``: at once, or after ``farewell``)."""
        self._lifecycle.end(reason, detail, farewell=farewell)

    def _keys_pressed(self, text: str, timing: TurnTiming) -> None:
        """The caller's keys (gathered by the keypad) as a turn: told to the model."""
        now = timing.end_of_turn_at if timing.end_of_turn_at is not None else self._clock.now()
        self._tasks.spawn(self._tell_keys(text, now))

    async def _tell_keys(self, text: str, now: float) -> None:
        if self._connection is None:
            return
        self._emit(UserMessage(text, now))
        self._watchdogs.caller_took_turn()
        await self._connection.send(CallerText(text))
        self._voice.start(TurnTiming(next(self._turns), end_of_turn_at=now))
