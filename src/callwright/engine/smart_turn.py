"""``turn_detection: smart``: at each pause, is the caller done?

Two signals answer, each a probability that the caller has finished:

- the words so far (``engine.smart_turn_words``): "a table for", "and", "um", "my
  number is five five" are unfinished; a question or a short answer is finished;
- the audio (a ``TurnModel``, Smart Turn v3.2 in production): the last 8 s of the
  caller's audio, asked once per pause, answered off the event loop.

The words veto: an unfinished phrase is not a finished turn whatever the pitch says
(on natural speech the model alone still cut callers off after "a table for…"), and a
question or a short answer is finished without waiting for the model. Otherwise the
signals are averaged, except that words leaning unfinished ("my address is twelve")
are never made more done by the audio: the model may only confirm them. Done
(``done_at`` or more) → the turn is taken ``done_wait_s`` after the last speech;
unfinished (``unfinished_at`` or less) → only after ``utterance_end_s`` (or
``silence_threshold_s``, if longer); in between, after ``silence_threshold_s`` as the
silence policy would. While the model's answer is still
out, the short wait is not taken on the words alone.

The pause is judged from ``probe_s`` of silence: the transcriber is asked for its final
then (the turn needs its words), the model is asked, and, the first time the caller
seems done, ``TurnAction.PREPARE`` lets the session start the answer early
(pre-emptive generation; it is dropped if the caller goes on).

``SmartTurnOptions`` selects each signal alone (``text`` / ``audio``) for measuring;
``end_of_turn_policy`` builds any of the ``STRATEGIES`` by name (the session builds
``silence`` or ``smart`` from ``stt_settings.turn_detection``; a benchmark passes the
policy to ``CallSession(end_of_turn=...)``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Final, Literal

from callwright.engine.config import EndpointingConfig
from callwright.engine.smart_turn_words import FINISHED, UNFINISHED, UNKNOWN, TurnWords
from callwright.engine.turns import CallerTurn, EndOfTurnPolicy, SilenceEndOfTurn, TurnAction
from callwright.providers.turn import TurnModel

__all__ = ["STRATEGIES", "SmartEndOfTurn", "SmartTurnOptions", "TurnStrategy", "end_of_turn_policy"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SmartTurnOptions:
    """The smart policy's knobs (not assistant settings: the benchmark's and tests').

    ``text`` / ``audio``: which signals are used (both by default; the audio one only
    when a model is given). ``probe_s``: silence after which a pause is judged.
    ``done_wait_s``: silence after which a finished turn is taken (Pipecat's Smart
    Turn waits the same 0.2 s of silence before asking its model). ``done_at`` /
    ``unfinished_at``: the probability bounds of "done" and "not done".
    ``window_s``: the audio the model hears (Smart Turn v3 takes 8 s).
    ``preempt``: whether a probably finished turn is announced (``PREPARE``).
    """

    text: bool = True
    audio: bool = True
    probe_s: float = 0.2
    done_wait_s: float = 0.2
    done_at: float = 0.6
    unfinished_at: float = 0.3
    window_s: float = 8.0
    preempt: bool = True


class SmartEndOfTurn:
    """The semantic end-of-turn policy (an ``EndOfTurnPolicy`` that also ``heard``
    the caller's audio, frame by frame, at the voice activity detector's rate)."""

    def __init__(
        self,
        endpointing: EndpointingConfig,
        language: str | None,
        model: TurnModel | None = None,
        options: SmartTurnOptions | None = None,
    ) -> None:
        self._endpointing = endpointing
        self.options = options or SmartTurnOptions()
        self._words = TurnWords(language)
        self._model = model if self.options.audio else None
        # The voice activity detector's hangover: a pause is judged from probe_s on
        # (vad_turnoff, 500 ms by default, would hide the first half second of it).
        self.turnoff_s = min(endpointing.vad_turnoff_s, self.options.probe_s)
        self._audio = bytearray()
        self._sample_rate = 16_000
        self._probed = False
        self._prepared = False
        self._final_requested_at: float | None = None
        self._answer: asyncio.Future[float] | None = None
        # What the words were when last read: (interim, number of finals, carried,
        # the last final), compared by identity.
        self._seen: tuple[str | None, int, str | None, str | None] = (None, -1, None, None)
        self._text_done = UNKNOWN
        # What the last pause was judged (for records and tests): the probability and
        # the silence it waited for.
        self.last_done: float | None = None
        self.last_wait_s: float | None = None

    # -- what the hearing tells it ----------------------------------------------------

    def heard(self, pcm16: bytes, sample_rate: int) -> None:
        """One frame of caller audio: kept (the last ``window_s``) for the model."""
        self._sample_rate = sample_rate
        audio = self._audio
        audio += pcm16
        limit = 2 * int(self.options.window_s * sample_rate)
        if len(audio) > 2 * limit:  # trimmed now and then, not on every frame
            del audio[: len(audio) - limit]

    def speech_started(self, now: float) -> None:
        """The caller goes on: the pause is over, and so is any question about it."""
        self._probed = False
        self._prepared = False
        self._final_requested_at = None
        self._withdraw()

    def decide(self, now: float, silence_s: float, turn: CallerTurn) -> TurnAction:
        options = self.options
        if silence_s < options.probe_s:
            return TurnAction.WAIT
        action = TurnAction.WAIT
        if not self._probed:
            self._probed = True
            self._final_requested_at = now
            action = TurnAction.FINALISE
            self._ask_model()
        done, certain = self.done(turn)
        wait = self._wait_for(done, certain)
        self.last_done, self.last_wait_s = done, wait
        said = turn.finals or turn.interim or turn.carried
        if silence_s >= wait - 1e-9 and (
            self._words_in(turn) or (said and self._final_overdue(now))
        ):
            self._probed = False
            self._prepared = False
            self._final_requested_at = None
            self._withdraw()
            return action | TurnAction.COMMIT
        if options.preempt and not self._prepared and certain and done >= options.done_at:
            self._prepared = True
            action |= TurnAction.PREPARE
        return action

    # -- the judgement ------------------------------------------------------------------

    def done(self, turn: CallerTurn) -> tuple[float, bool]:
        """The probability that the caller is done, and whether every signal asked
        has answered (False while the model's answer is out)."""
        signals: list[float] = []
        text_done: float | None = None
        if self.options.text:
            text_done = self._text(turn)
            if text_done <= UNFINISHED or text_done >= FINISHED:
                # A sure reading of the words is not kept waiting for the model (its
                # answer takes 60-300 ms: most of what the short wait saves).
                return text_done, True
            signals.append(text_done)
        certain = True
        answer = self._answer
        if answer is not None:
            if not answer.done():
                certain = False
            elif not answer.cancelled() and answer.exception() is None:
                signals.append(answer.result())
        if not signals:
            return UNKNOWN, certain
        done = sum(signals) / len(signals)
        if text_done is not None and text_done < UNKNOWN:
            # Words that lean unfinished ("my address is twelve") are not outvoted by
            # the audio's "done" (the model hears a voice stopping, not a thought that
            # is missing its street): it may only make them less done.
            done = min(done, text_done)
        return done, certain

    def _text(self, turn: CallerTurn) -> float:
        """The words' reading, redone only when they changed (asked on every silent
        frame: the check allocates nothing)."""
        seen = self._seen
        if (
            turn.interim is not seen[0]
            or len(turn.finals) != seen[1]
            or turn.carried is not seen[2]
            or (turn.finals and turn.finals[-1] is not seen[3])
        ):
            last = turn.finals[-1] if turn.finals else None
            self._seen = (turn.interim, len(turn.finals), turn.carried, last)
            self._text_done = self._words.done(turn.so_far())
        return self._text_done

    def _wait_for(self, done: float, certain: bool) -> float:
        endpointing, options = self._endpointing, self.options
        if done <= options.unfinished_at:
            return max(endpointing.utterance_end_s, endpointing.silence_threshold_s)
        if done >= options.done_at and certain:
            return max(options.probe_s, options.done_wait_s)
        return endpointing.silence_threshold_s

    def _words_in(self, turn: CallerTurn) -> bool:
        """Whether the final asked for at this pause is in (a final from before the
        caller went on does not hold their last words)."""
        requested, final_at = self._final_requested_at, turn.last_final_at
        return requested is not None and final_at is not None and final_at >= requested

    def _final_overdue(self, now: float) -> bool:
        """The final is more than ``utterance_end_s`` late: the turn is taken with the
        words it has (the interim text, or what it carried on from)."""
        requested = self._final_requested_at
        return requested is not None and now - requested >= self._endpointing.utterance_end_s

    # -- the model ----------------------------------------------------------------------

    def _ask_model(self) -> None:
        self._withdraw()
        if self._model is None or not self._audio:
            return
        limit = 2 * int(self.options.window_s * self._sample_rate)
        answer = self._model.predict(bytes(self._audio[-limit:]), self._sample_rate)
        answer.add_done_callback(_log_failure)
        self._answer = answer

    def _withdraw(self) -> None:
        answer, self._answer = self._answer, None
        if answer is not None and not answer.done():
            answer.cancel()


def _log_failure(answer: asyncio.Future[float]) -> None:
    """A model that cannot answer leaves the words (and the silence) to decide."""
    if not answer.cancelled() and (error := answer.exception()) is not None:
        logger.warning("the end-of-turn model did not answer: %s", error)


TurnStrategy = Literal["silence", "smart", "smart-words", "smart-audio"]
"""How the end of a turn is decided: ``silence`` (SilenceEndOfTurn), ``smart`` (the
words and the audio model), ``smart-words`` / ``smart-audio`` (one signal alone)."""

STRATEGIES: Final[tuple[TurnStrategy, ...]] = ("silence", "smart", "smart-words", "smart-audio")


def end_of_turn_policy(
    strategy: TurnStrategy,
    endpointing: EndpointingConfig,
    language: str | None,
    model: TurnModel | None = None,
) -> EndOfTurnPolicy:
    """A new policy (one per call: policies keep the state of the turn) for
    ``strategy``; ``model`` is the audio model of the smart strategies (None: the
    words alone, and ``smart-audio`` then waits on the silence as ``silence`` would)."""
    if strategy == "silence":
        return SilenceEndOfTurn(endpointing)
    options = SmartTurnOptions(text=strategy != "smart-audio", audio=strategy != "smart-words")
    return SmartEndOfTurn(endpointing, language, model, options)
