"""One conversation: caller audio in, assistant speech out, every setting acting.

``CallSession`` puts the call's concerns together and owns one TaskGroup for the
whole call:

- the hearing (``engine.hearing``): caller audio → VAD frames and the transcriber →
  the caller's turns, ended when the ``EndOfTurnPolicy`` (``engine.turns``) says so;
- the speaking (``engine.speaking``): one reply at a time, LLM → sentences → TTS →
  transport, and what the caller heard of it; caller speech cuts a reply short when
  the ``BargeInPolicy`` says so (``engine.barge_in``);
- the lifecycle (``engine.lifecycle``): one way to end, ``end(reason)``, at once or
  after a farewell; the idle and duration watchdogs;
- here: the transport's events (audio, marks, DTMF, answering machine, hang-up), the
  caller's turns answered by the LLM (tools, knowledge), DTMF, and the API's live
  control (``say``, ``end``).

Provider faults do not end the call: the LLMs, voices and transcribers are each used
as one provider that happens to be several (``llm_fallback``, ``tts_fallback``,
``stt_fallback``), and a reply no LLM could give becomes error_message (``faults``).

Nothing here blocks: provider calls are async, audio work is per-frame numpy.
"""

from __future__ import annotations

import functools
import itertools
import weakref
from collections.abc import Sequence

from callwright.clock import Clock
from callwright.engine.answering import Answerer
from callwright.engine.barge_in import BargeIns
from callwright.engine.builtin_tools import offered_tools
from callwright.engine.config import CallConfig
from callwright.engine.events import (
    EndReason,
    EventSink,
    TurnTiming,
    UserMessage,
)
from callwright.engine.failover import failover_events
from callwright.engine.hearing import Hearing
from callwright.engine.keypad import Keypad
from callwright.engine.lifecycle import (
    CallState,
    EndCallHook,
    Farewell,
    Lifecycle,
    Watchdogs,
    held_until_ended,
)
from callwright.engine.preemption import Preemptor
from callwright.engine.replies import (
    Retriever,
    ToolRunner,
)
from callwright.engine.session_providers import SessionProviders
from callwright.engine.speaking import Speaker, SpeechCache
from callwright.engine.tasks import CallTasks, weakly
from callwright.engine.turns import EndOfTurnPolicy
from callwright.providers.protocols import ChatMessage, ToolSpec
from callwright.transports.protocol import (
    AnsweringMachine,
    AudioReceived,
    CallerHungUp,
    DtmfReceived,
    PlaybackMarked,
    Transport,
)

__all__ = ["CallSession"]


class CallSession:
    """One call's conversation. ``run`` holds it until it ends; ``say`` and ``end``
    steer it from outside. ``end_of_turn`` replaces the silence-based end-of-turn
    decision (``SilenceEndOfTurn``) with another ``EndOfTurnPolicy``; ``speech_cache``
    keeps a static first message's audio between calls (the runtime's, in-process)."""

    def __init__(
        self,
        config: CallConfig,
        providers: SessionProviders,
        transport: Transport,
        clock: Clock,
        sink: EventSink,
        *,
        first_token_timeout_s: float = 3.0,
        first_audio_timeout_s: float = 5.0,
        filler_after_s: float = 1.2,
        on_end: EndCallHook | None = None,
        custom_tools: tuple[ToolSpec, ...] = (),
        run_custom_tools: ToolRunner | None = None,
        previous_conversation: Sequence[ChatMessage] = (),
        retrieve: Retriever | None = None,
        end_of_turn: EndOfTurnPolicy | None = None,
        speech_cache: SpeechCache | None = None,
    ) -> None:
        self.config = config
        self._transport = transport
        self._clock = clock
        self._emit = sink
        # The parts below are the session's; they call it back weakly (``weakly``, a
        # weak proxy) and spawn into ``CallTasks``, so a finished call holds no
        # reference cycle and is freed by reference counting (``engine.tasks``).
        self._tasks = CallTasks()
        spawn = self._tasks.spawn
        me: CallSession = weakref.proxy(self)

        self.history: list[ChatMessage] = []
        if config.llm.system_prompt:
            self.history.append(ChatMessage("system", config.llm.system_prompt))
        if config.maintain_context:
            # The same caller's earlier call(s), as the runtime found them.
            self.history.extend(m for m in previous_conversation if m.role != "system")

        # Each kind as one provider that happens to be several (the offline ones last).
        failed_over = failover_events(sink, clock)
        tts = providers.voice(clock, first_audio_timeout_s, failed_over)
        stt = providers.transcriber(failed_over)
        self._speaker = Speaker(
            config,
            tts,
            transport,
            clock,
            sink,
            self.history,
            spawn=spawn,
            listener=me,
            cache=speech_cache,
        )
        speaker = self._speaker
        lifecycle = self._lifecycle = Lifecycle(speaker, spawn, transport, clock, sink, on_end)
        self._hearing = Hearing(
            config,
            providers.vad,
            stt,
            transport.sample_rate,
            clock,
            sink,
            end_of_turn or providers.end_of_turn(config),
            listener=me,
            spawn=spawn,
        )
        hearing = self._hearing
        self._watchdogs = Watchdogs(
            config,
            self._lifecycle,
            clock,
            sink,
            busy=lambda: speaker.replying or hearing.speaking,
            reprompt=speaker.say,
        )
        self._turns = itertools.count(1)
        # The caller's last turn as the history holds it, until it is answered.
        self._unanswered: ChatMessage | None = None
        # What the caller said over the assistant without interrupting it, for the LLM
        # with their next turn.
        self._asides: list[str] = []
        self._barge_ins = BargeIns(
            config.interruption,
            hearing,
            speaker,
            clock,
            spawn,
            active=lambda: lifecycle.state is CallState.ACTIVE,
            aside=weakly(self.caller_aside),
        )
        end_call = config.end_call_tool
        self._answerer = Answerer(
            config,
            providers.llms,
            self.history,
            self._speaker,
            clock,
            sink,
            tool_specs=offered_tools(config, custom_tools, can_search=retrieve is not None),
            end_call=lambda: me.end(
                EndReason.ASSISTANT_ENDED_CALL, farewell=Farewell(end_call.message)
            ),
            transfer=weakly(self._transfer),
            send_dtmf=lambda digits: me._keypad.press(digits),
            run_custom_tools=run_custom_tools,
            retrieve=retrieve,  # rag_settings: passages for each user turn
            first_token_timeout_s=first_token_timeout_s,
            filler_after_s=filler_after_s,
        )
        self._keypad = Keypad(
            transport, clock, spawn, touch=self._watchdogs.touch, turn=weakly(self.caller_turn)
        )
        # Pre-emptive generation: a turn's request sent when the policy finds the
        # caller probably done (TurnAction.PREPARE), used if the turn is taken as is.
        self._preemptor = Preemptor(
            config, providers.llms, clock, spawn, first_token_timeout_s, self._answerer
        )

    @property
    def end_reason(self) -> EndReason | None:
        """Why the call ended (None while it goes on)."""
        return self._lifecycle.reason

    # -- running ----------------------------------------------------------------------

    async def run(self) -> EndReason:
        """Hold the conversation until it ends; returns why it ended."""
        return await held_until_ended(self._converse, self._lifecycle, "call")

    async def _converse(self) -> None:
        await self._hearing.open()
        try:
            await self._tasks.hold(self._open, self._lifecycle.ended)
        finally:
            await self._hearing.aclose()

    def _open(self) -> None:
        spawn = self._tasks.spawn
        spawn(self._receive())
        spawn(self._hearing.follow_transcripts())
        spawn(self._watchdogs.watch_idle())
        if self.config.max_duration_s:
            spawn(self._watchdogs.watch_duration(self.config.max_duration_s))
        mode = self.config.first_message_mode
        if mode == "assistant-speaks-first" and self.config.first_message:
            self._speaker.greet(self.config.first_message, static=self.config.static_first_message)
        elif mode == "assistant-speaks-first-with-model-generated-message":
            self._answerer.start(TurnTiming(0))

    async def _receive(self) -> None:
        async for event in self._transport.events():
            if isinstance(event, AudioReceived):
                await self._hearing.hear(event.pcm16)
            elif isinstance(event, PlaybackMarked):
                self._speaker.on_mark(event.name)
            elif isinstance(event, DtmfReceived):
                self._keypad.pressed(event.digit)
            elif isinstance(event, AnsweringMachine):
                self._on_answering_machine(event)
            elif isinstance(event, CallerHungUp):
                self.end(EndReason.CUSTOMER_ENDED_CALL, event.reason)
                return
        self.end(EndReason.TRANSPORT_DROPPED, "the connection closed")

    # -- what the hearing and the speaking report (their listener protocols) ----------

    def caller_active(self, now: float) -> None:
        self._watchdogs.touch(now)

    def assistant_active(self, now: float) -> None:
        self._watchdogs.touch(now)

    def assistant_replying(self) -> bool:
        return self._speaker.replying

    def caller_probably_done(self, text: str, now: float) -> None:
        """Pre-emptive generation: the request the caller's turn would make, sent now.
        Not while a reply runs (the words are a barge-in's) nor when each turn's
        request carries passages retrieved for its final words."""
        if (
            self._speaker.replying
            or self._answerer.retrieves
            or self._lifecycle.state is not CallState.ACTIVE
            or not text
        ):
            return
        self._preemptor.start(self.history, self._asides, text)

    def caller_started(self, now: float, started_at: float) -> None:
        """The caller speaks again before hearing any of the answer to their turn: the
        answer is withdrawn and their turn goes on (one turn, answered once). A request
        sent early on their words so far is dropped: they went on."""
        self._preemptor.drop()
        if not self._speaker.withdraw(now, started_at):
            return
        unanswered = self._unanswered
        # Unless the answer got as far as a tool call (the history holds its round).
        if unanswered is not None and unanswered.content and self.history[-1] is unanswered:
            self.history.pop()
            self._hearing.carry(unanswered.content)
        self._unanswered = None

    def caller_speaking(self, now: float, speaking_s: float, words: int, text: str) -> None:
        """Caller speech while the assistant speaks: a barge-in if the policy says so."""
        self._barge_ins.speaking(now, speaking_s, words, text)

    async def caller_transcribed(self, text: str, now: float) -> bool:
        """Words for a barge-in held for them (``engine.barge_in``)."""
        return await self._barge_ins.transcribed(text, now)

    def caller_aside(self, text: str, now: float) -> None:
        """Said over the assistant without interrupting it: in the transcript now, and
        given to the LLM with the caller's next turn."""
        self._emit(UserMessage(text, now, aside=True))
        self._asides.append(text)

    def caller_turn(self, text: str, timing: TurnTiming, *, continues: bool = False) -> None:
        """A turn of the caller's (spoken or typed): answered, unless it ends the call.
        With ``continues``, it replaces their previous turn, whose answer was withdrawn.
        Just after a barge-in that may be false, a turn of acknowledgements only is an
        aside: the assistant is about to resume."""
        if self._barge_ins.aside_after_barge_in(text):
            self._preemptor.drop()
            self.caller_aside(text, self._clock.now())
            return
        timing.turn = next(self._turns)
        now = self._clock.now()
        self._emit(UserMessage(text, now, continues=continues))
        self.history.extend(ChatMessage("user", aside) for aside in self._asides)
        self._asides.clear()
        message = self._unanswered = ChatMessage("user", text)
        self.history.append(message)
        self._watchdogs.caller_took_turn()
        trigger = self.config.end_call_trigger_phrase
        if trigger and trigger in text.lower():
            self._preemptor.drop()
            self._preemptor.settle(timing)
            farewell = Farewell(self.config.end_call_message)
            self.end(EndReason.CUSTOMER_SAID_END_CALL_PHRASE, farewell=farewell)
            return
        early = self._preemptor.take(self.history, timing)
        self._preemptor.settle(timing)
        self._answerer.start(timing, query=text, opened=early)

    # -- answering --------------------------------------------------------------------

    def _transfer(self, destination: str) -> None:
        numbers = self.config.transfer_tool.numbers
        target = destination if destination in numbers else numbers[0]
        hand_over = functools.partial(self._transport.transfer, target)
        farewell = Farewell(self.config.transfer_tool.message, then=hand_over)
        self.end(EndReason.ASSISTANT_FORWARDED_CALL, target, farewell=farewell)

    # -- live control (the API's end and say) -----------------------------------------

    def say(self, text: str, *, end_after: bool = False) -> None:
        """Speak ``text`` now, cutting off whatever the assistant was saying; with
        ``end_after``, hang up once it has been played."""
        if not self._tasks.running or self._lifecycle.state is not CallState.ACTIVE:
            return
        if end_after:
            self.end(EndReason.ASSISTANT_ENDED_CALL, farewell=Farewell(text))
        else:
            self._speaker.say(text)

    def end(
        self,
        reason: EndReason = EndReason.MANUALLY_CANCELED,
        detail: str | None = None,
        *,
        farewell: Farewell | None = None,
    ) -> None:
        """End the call, the one way every ending takes: at once (the reply in
        progress is cut off and the transport hung up with ``reason``), or after
        ``farewell`` (see ``engine.lifecycle``)."""
        self._lifecycle.end(reason, detail, farewell=farewell)

    def _on_answering_machine(self, event: AnsweringMachine) -> None:
        if event.kind == "human":
            return
        if event.kind == "machine_start":
            return  # wait for the beep or the silence after the greeting
        self.end(EndReason.VOICEMAIL, farewell=Farewell(self.config.voicemail_message))
