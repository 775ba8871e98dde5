"""The caller's side of a realtime call: their speech and turns as the model reports
them, answered or taken as barge-ins (decision 018).

The model's turn detection commits the caller's turns; each is answered at once, or
once its transcript is in when an end-call trigger phrase must be checked first. A turn
committed while an answer plays is not answered, whatever the model began for it,
unless its words interrupt (below); else it is a backchannel.

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

from collections.abc import Iterator

from callwright.clock import Clock
from callwright.engine.config import CallConfig
from callwright.engine.events import EndReason, EventSink, TurnTiming, UserMessage
from callwright.engine.lifecycle import Farewell, Spawn, Watchdogs
from callwright.engine.phrases import words_of
from callwright.engine.realtime_voice import RealtimeVoice
from callwright.engine.speaking import AssistantListener
from callwright.engine.turns import BargeInPolicy

__all__ = ["RealtimeCaller"]


class RealtimeCaller:
    """One realtime call's caller: ``speech_started`` / ``speech_stopped``,
    ``committed`` and ``transcript`` as the model reports them. ``turns`` numbers the
    call's answered turns (the session's keypad turns take numbers from it too);
    ``call`` is the session, to end the call through (an end-call trigger phrase)."""

    def __init__(
        self,
        config: CallConfig,
        voice: RealtimeVoice,
        watchdogs: Watchdogs,
        clock: Clock,
        emit: EventSink,
        *,
        spawn: Spawn,
        call: AssistantListener,
        turns: Iterator[int],
        label: str,
    ) -> None:
        self._config = config
        self._voice = voice
        self._watchdogs = watchdogs
        self._clock = clock
        self._emit = emit
        self._spawn = spawn
        self._call = call
        self._turns = turns
        self._label = label
        self._barge_in = BargeInPolicy(config.interruption)  # no wait for words: see above
        self._speaking = False
        self._speech_started_at = 0.0
        self._turn = TurnTiming(0)
        # Caller items said over an answer → the answer the model began, their timing.
        self._backchannel: dict[str, tuple[str | None, TurnTiming]] = {}
        self._awaiting_transcript: dict[str, TurnTiming] = {}
        self._transcribing: dict[str, TurnTiming] = {}  # turns whose transcript is due
        # Caller turns awaiting their transcript → the answer the model began by itself.
        self._vendor_answers: dict[str, str] = {}

    @property
    def speaking(self) -> bool:
        """Whether the caller is speaking now (as the model's voice activity detection
        hears them)."""
        return self._speaking

    # -- the caller's speech --------------------------------------------------------------

    def speech_started(self, now: float) -> None:
        self._speaking = True
        self._speech_started_at = now
        self._turn = TurnTiming(0)
        self._watchdogs.touch(now)
        if self._voice.interruptible:
            self._spawn(self._maybe_interrupt(now))

    def speech_stopped(self, now: float) -> None:
        self._speaking = False
        self._turn.user_stopped_at = now
        self._watchdogs.touch(now)

    async def _maybe_interrupt(self, started_at: float) -> None:
        wait = self._config.interruption.min_speaking_s
        if wait:
            await self._clock.sleep(wait)
        if not wait and self._config.interruption.min_words:
            return  # only the words decide: counted once the transcript is in
        now = self._clock.now()
        still = self._speaking and self._speech_started_at == started_at
        if not (still and self._voice.interruptible):
            return
        # Without a word test either, any speech is enough.
        speaking_s = max(now - started_at, wait, 1e-3)
        if self._barge_in.should_interrupt(now=now, speaking_s=speaking_s, words=0):
            self._barge_in.record(now)
            self._voice.interrupt(now)

    # -- the caller's turns ---------------------------------------------------------------

    def committed(self, item_id: str, answer_id: str | None, now: float) -> None:
        """The model committed the caller's turn ``item_id`` (and began ``answer_id``)."""
        if self._voice.replying:
            # Said over an answer that went on: not answered, whatever the model began,
            # unless its words interrupt after all (``_spoken_over``).
            self._turn.end_of_turn_at = now
            self._backchannel[item_id] = (answer_id, self._turn)
            return
        timing = self._numbered(self._turn, now)
        self._transcribing[item_id] = timing
        if self._config.end_call_trigger_phrase:
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

    def transcript(self, item_id: str, text: str, now: float) -> None:
        """The model's transcript of the caller's turn ``item_id``."""
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
        trigger = self._config.end_call_trigger_phrase
        if trigger and trigger in text.lower():
            self._voice.unwanted(answer_id)  # the farewell replaces the model's answer
            self._said_goodbye()
        elif timing is not None:
            self._voice.start(timing)

    def _spoken_over(self, item_id: str, text: str, now: float) -> bool:
        """The words of a turn said over an answer (``committed``): when they reach
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
        trigger = self._config.end_call_trigger_phrase
        if trigger and trigger in text.lower():
            self._voice.unwanted(answer_id)  # the farewell replaces any answer
            self._spawn(self._cut_then(now, None))
            return True
        timing = self._numbered(timing, timing.end_of_turn_at or now)
        timing.stt_final_at = now
        self._watchdogs.caller_took_turn()
        self._spawn(self._cut_then(now, timing))
        return True

    async def _cut_then(self, now: float, timing: TurnTiming | None) -> None:
        """Cut the answer spoken over, then answer the caller's turn (``timing``), or
        with none say the farewell: the end-call trigger phrase was in it."""
        await self._voice.interrupt_and_settle(now)
        if timing is not None:
            self._voice.start(timing)
        else:
            self._said_goodbye()

    def _said_goodbye(self) -> None:
        """The caller said the end-call trigger phrase: the call ends after a farewell."""
        farewell = Farewell(self._config.end_call_message)
        self._call.end(EndReason.CUSTOMER_SAID_END_CALL_PHRASE, farewell=farewell)
