"""A realtime call: a speech-to-speech model replaces the transcriber, the LLM and the
voice for the whole call, and everything else about the call stays (decision 018).

``RealtimeSession`` has ``CallSession``'s outside surface (``run``, ``say``, ``end``,
``end_reason``) and owns one TaskGroup for the call:

- the transport's events: caller audio re-encoded to the model's wire format (μ-law
  for a phone line: the bytes Twilio sent; PCM16 24 kHz for a browser), marks, DTMF
  (sent to the model as text), answering machines, hang-up;
- the model's events: the caller's turns as its turn detection commits them (answered
  at once, or once the transcript is in when an end-call trigger phrase must be
  checked first), the caller's transcript, the answers' audio and words
  (``realtime_voice``), function calls, errors;
- the lifecycle and watchdogs of ``engine.lifecycle`` (one way to end; idle reprompts
  and max duration), the built-in tools (end call, transfer) and custom tools run by
  the tool runner, their results given back to the model.

Barge-in follows the assistant's interruption settings, never within the cooldown:
caller speech over an answer interrupts it once it has lasted ``min_speaking_time``;
the words are known only from the model's transcript of the caller's turn, so
``interruption_threshold``, the interruption phrases and (when no time test decides
first) the acknowledgement phrases are applied to that transcript: speech over an
answer still playing that reaches the threshold or holds an interruption phrase cuts
it off then, and the caller's turn is answered. The time test is not held for the
words here as ``CallSession`` holds it (``BargeInPolicy(word_wait_s=...)``): the model
transcribes the caller only once it has committed their turn, after their speech, so a
wait for the first word would always run out and only delay every barge-in.
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
from callwright.engine.phrases import words_of
from callwright.engine.realtime_tools import RealtimeTools
from callwright.engine.realtime_voice import RealtimeVoice
from callwright.engine.replies import Retriever, ToolRunner
from callwright.engine.tasks import CallTasks, weakly
from callwright.engine.turns import BargeInPolicy
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
            busy=lambda: me._voice.replying or me._caller_speaking,
            reprompt=self._voice.say,
        )
        self._barge_in = BargeInPolicy(config.interruption)  # no wait for words: see above
        self._to_model = (
            Resampler(transport.sample_rate, sample_rate_of("pcm24"))
            if options.audio == "pcm24"
            else None
        )
        self._turns = itertools.count(1)
        self._caller_speaking = False
        self._speech_started_at = 0.0
        self._turn = TurnTiming(0)
        # Caller items said over an answer → the answer the model began, their timing.
        self._backchannel: dict[str, tuple[str | None, TurnTiming]] = {}
        self._awaiting_transcript: dict[str, TurnTiming] = {}
        self._transcribing: dict[str, TurnTiming] = {}  # turns whose transcript is due
        # Caller turns awaiting their transcript → the answer the model began by itself.
        self._vendor_answers: dict[str, str] = {}
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
                self._speech_started(now)
            elif isinstance(event, CallerSpeechStopped):
                self._caller_speaking = False
                self._turn.user_stopped_at = now
                self._watchdogs.touch(now)
            elif isinstance(event, CallerTurnCommitted):
                self._committed(event.item_id, event.answer_id, now)
            elif isinstance(event, CallerTranscript):
                self._transcript(event.item_id, event.text, now)
            elif isinstance(event, ToolCallRequested):
                self._tools.requested(event, now)
            elif isinstance(event, ResponseDone):
                self._voice.response_done(event.input_tokens, event.output_tokens, event.item_id)
            elif isinstance(event, RealtimeNotice):
                logger.warning("realtime model: %s", event.message)
        raise ProviderError(self._model.name, "the model's connection ended")

    # -- the caller's turns ---------------------------------------------------------------

    def _speech_started(self, now: float) -> None:
        self._caller_speaking = True
        self._speech_started_at = now
        self._turn = TurnTiming(0)
        self._watchdogs.touch(now)
        if self._voice.interruptible:
            self._tasks.spawn(self._maybe_interrupt(now))

    async def _maybe_interrupt(self, started_at: float) -> None:
        wait = self.config.interruption.min_speaking_s
        if wait:
            await self._clock.sleep(wait)
        if not wait and self.config.interruption.min_words:
            return  # only the words decide: counted once the transcript is in
        now = self._clock.now()
        still = self._caller_speaking and self._speech_started_at == started_at
        if not (still and self._voice.interruptible):
            return
        # Without a word test either, any speech is enough.
        speaking_s = max(now - started_at, wait, 1e-3)
        if self._barge_in.should_interrupt(now=now, speaking_s=speaking_s, words=0):
            self._barge_in.record(now)
            self._voice.interrupt(now)

    def _committed(self, item_id: str, answer_id: str | None, now: float) -> None:
        if self._voice.replying:
            # Said over an answer that went on: not answered, whatever the model began,
            # unless its words interrupt after all (``_spoken_over``).
            self._turn.end_of_turn_at = now
            self._backchannel[item_id] = (answer_id, self._turn)
            return
        timing = self._numbered(self._turn, now)
        self._transcribing[item_id] = timing
        if self.config.end_call_trigger_phrase:
            self._awaiting_transcript[item_id] = timing  # checked before it is answered
            if answer_id is not None:
                self._vendor_answers[item_id] = answer_id
        else:
            self._voice.start(timing)

    def _numbered(self, timing: TurnTiming, ended_at: float) -> TurnTiming:
        """``timing`` as the call's next answered turn, which ended at ``ended_at``."""
        timing.turn = next(self._turns)
        timing.end_of_turn_at = ended_at
        timing.stt_provider = self._label
        return timing

    def _spoken_over(self, item_id: str, text: str, now: float) -> bool:
        """The words of a turn said over an answer (``_committed``): when they reach
        ``interruption_threshold`` or hold an interruption phrase while the answer
        still plays, it is cut off and the turn answered. True when it was."""
        answer_id, timing = self._backchannel.pop(item_id)
        words = len(words_of(text))
        if not (
            words
            and self._voice.interruptible
            and self._barge_in.should_interrupt(now=now, speaking_s=0.0, words=words, text=text)
        ):
            self._voice.unwanted(answer_id)
            return False
        self._barge_in.record(now)
        self._emit(UserMessage(text, now))
        trigger = self.config.end_call_trigger_phrase
        if trigger and trigger in text.lower():
            self._voice.unwanted(answer_id)  # the farewell replaces any answer
            self._tasks.spawn(self._cut_then(now, None))
            return True
        timing = self._numbered(timing, timing.end_of_turn_at or now)
        timing.stt_final_at = now
        self._watchdogs.caller_took_turn()
        self._tasks.spawn(self._cut_then(now, timing))
        return True

    async def _cut_then(self, now: float, timing: TurnTiming | None) -> None:
        """Cut the answer spoken over, then answer the caller's turn (``timing``), or
        with none say the farewell: the end-call trigger phrase was in it."""
        await self._voice.interrupt_and_settle(now)
        if timing is not None:
            self._voice.start(timing)
        else:
            farewell = Farewell(self.config.end_call_message)
            self.end(EndReason.CUSTOMER_SAID_END_CALL_PHRASE, farewell=farewell)

    def _transcript(self, item_id: str, text: str, now: float) -> None:
        text = text.strip()
        if item_id in self._backchannel:
            if self._spoken_over(item_id, text, now):
                return
            text = ""  # a backchannel: not the caller's turn
        if not text:
            self._transcribing.pop(item_id, None)
            if item_id in self._awaiting_transcript:
                self._voice.start(self._awaiting_transcript.pop(item_id))
            return
        self._emit(UserMessage(text, now))
        self._watchdogs.caller_took_turn()
        transcribed = self._transcribing.pop(item_id, None)
        if transcribed is not None:
            transcribed.stt_final_at = now
        timing = self._awaiting_transcript.pop(item_id, None)
        answer_id = self._vendor_answers.pop(item_id, None)
        trigger = self.config.end_call_trigger_phrase
        if trigger and trigger in text.lower():
            self._voice.unwanted(answer_id)  # the farewell replaces the model's answer
            farewell = Farewell(self.config.end_call_message)
            self.end(EndReason.CUSTOMER_SAID_END_CALL_PHRASE, farewell=farewell)
        elif timing is not None:
            self._voice.start(timing)

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
