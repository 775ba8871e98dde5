"""Turn-taking rules as small objects: when the caller's turn is over (the
``EndOfTurnPolicy``) and when their speech should stop the assistant (the
``BargeInPolicy``), and the caller's turn in progress that both read.

The session asks; a policy decides and keeps whatever state it needs. Both are asked
on the audio path (once per voice-activity frame at most), so a policy must not block,
await or allocate per frame: a smarter one (a model reading the words so far) runs its
model elsewhere and answers from what it last concluded.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Final, Protocol, runtime_checkable

from callwright.engine.config import EndpointingConfig, InterruptionConfig
from callwright.engine.phrases import PhraseSet, words_of

__all__ = [
    "WORD_WAIT_S",
    "BargeInPolicy",
    "CallerState",
    "CallerTurn",
    "EndOfTurnPolicy",
    "HearsAudio",
    "SilenceEndOfTurn",
    "TurnAction",
]


# How long a barge-in called for by the time test alone waits for the caller's first
# word (``BargeInPolicy``): the rest of a drawn-out one-word backchannel ("mhmm" lasts
# 0.6-0.9 s, the time test fires at 0.5 s) plus the transcriber's delay in reporting
# it (0.1 s in the conversation benchmark, 0.15-0.3 s for streaming services).
WORD_WAIT_S: Final = 0.5


class CallerState(enum.Enum):
    """Where the caller's turn stands.

    ``QUIET`` → ``SPEAKING`` when the voice activity detector hears speech start;
    ``SPEAKING`` → ``PAUSED`` when it stops; ``PAUSED`` → ``SPEAKING`` when it starts
    again. The turn goes back to ``QUIET`` when it is taken (committed), and when its
    speech was a backchannel over the assistant (a final transcript while a reply
    runs: not a turn of its own).
    """

    QUIET = "quiet"
    SPEAKING = "speaking"
    PAUSED = "paused"


@dataclass(slots=True)
class CallerTurn:
    """The caller's turn in progress, as heard so far: ``finals`` (the transcriber's
    final texts, in order), the latest ``interim`` text and its word count, and when
    the last final arrived. ``carried`` is what the caller said before, if they went on
    before hearing any answer to it (the answer was withdrawn): this turn continues it.
    """

    state: CallerState = CallerState.QUIET
    finals: list[str] = field(default_factory=list)
    interim: str = ""
    interim_words: int = 0
    last_final_at: float | None = None
    carried: str = ""

    def heard_interim(self, text: str) -> None:
        self.interim = text
        self.interim_words = len(text.split())

    def heard_final(self, text: str, now: float) -> None:
        self.finals.append(text)
        self.interim, self.interim_words = "", 0
        self.last_final_at = now

    def carry(self, text: str) -> None:
        """``text`` was taken as a turn, but its answer was withdrawn before the caller
        heard any of it: this turn goes on from it."""
        self.carried = f"{text} {self.carried}".strip()

    def backchannel(self) -> None:
        """The caller's speech did not interrupt the assistant: not a turn."""
        self.interim, self.interim_words = "", 0
        self.state = CallerState.QUIET

    def said(self) -> str:
        """The turn's text as taken now: what it carried on from, then the finals,
        else the interim text."""
        said = " ".join(self.finals) or self.interim
        return f"{self.carried} {said}".strip() if self.carried else said

    def so_far(self) -> str:
        """Everything the turn has said so far: what it carried on from, the finals,
        and the interim text after them (the words the next final will hold)."""
        return " ".join(part for part in (self.carried, *self.finals, self.interim) if part)

    def take(self) -> tuple[str, float | None]:
        """The turn's text (``said``) and when its last final arrived; the turn starts
        over, quiet."""
        text = self.said()
        final_at = self.last_final_at
        self.finals, self.interim, self.interim_words = [], "", 0
        self.last_final_at = None
        self.carried = ""
        self.state = CallerState.QUIET
        return text, final_at


class TurnAction(enum.Flag):
    """What an ``EndOfTurnPolicy`` wants done now; ``FINALISE | COMMIT`` asks for both
    (the transcriber's final is requested, then the turn is taken with what is in)."""

    WAIT = 0
    FINALISE = enum.auto()  # ask the transcriber for its final transcript now
    COMMIT = enum.auto()  # the caller's turn is over: take it and answer
    # The turn is probably over: the answer may be prepared on the words so far (it is
    # used if the turn is taken with the same words, dropped if the caller goes on).
    PREPARE = enum.auto()


# Built once: the policy answers with these on the audio path, never a new one.
_FINALISE_AND_COMMIT = TurnAction.FINALISE | TurnAction.COMMIT


class EndOfTurnPolicy(Protocol):
    """Decides when the caller's turn is over.

    ``speech_started`` is called when the caller starts (or resumes) speaking.
    ``decide`` is called, while a turn is in progress (``turn.state`` is not
    ``QUIET``), on every silent voice-activity frame and whenever a final transcript
    joins the turn; ``silence_s`` is the time since the caller's last speech (0 while
    they speak). It returns ``TurnAction.WAIT`` to let the turn go on. Both run on the
    audio path: no blocking, no awaiting, no allocating.
    """

    def speech_started(self, now: float) -> None: ...

    def decide(self, now: float, silence_s: float, turn: CallerTurn) -> TurnAction: ...


@runtime_checkable
class HearsAudio(Protocol):
    """A policy that judges each pause itself (``engine.smart_turn``): given every
    voice-activity frame (PCM16 at ``sample_rate``) as it is heard, and asked from
    ``turnoff_s`` of silence on (the voice activity detector's hangover, which the
    hearing shortens to it: the policy, not the hangover, decides how long to wait)."""

    turnoff_s: float

    def heard(self, pcm16: bytes, sample_rate: int) -> None: ...


class SilenceEndOfTurn:
    """The default: the turn is over after enough silence, once its words are in.

    ``min_silence_s`` of silence → the transcriber is asked for its final (Deepgram's
    ``Finalize``); ``silence_threshold_s`` of silence and a final transcript → the turn
    is taken. A final more than ``utterance_end_s`` late (after it was asked for) is not
    waited for: the interim text is taken instead, or, when the caller's speech gave no
    words at all, the words the turn carried on from.
    """

    __slots__ = ("_endpointing", "_final_requested_at")

    def __init__(self, endpointing: EndpointingConfig) -> None:
        self._endpointing = endpointing
        self._final_requested_at: float | None = None

    def speech_started(self, now: float) -> None:
        self._final_requested_at = None

    def decide(self, now: float, silence_s: float, turn: CallerTurn) -> TurnAction:
        endpointing = self._endpointing
        finalise = False
        if silence_s >= endpointing.min_silence_s and self._final_requested_at is None:
            self._final_requested_at = now
            finalise = True
        if silence_s >= endpointing.silence_threshold_s and (
            turn.finals or ((turn.interim or turn.carried) and self._final_overdue(now))
        ):
            self._final_requested_at = None
            return _FINALISE_AND_COMMIT if finalise else TurnAction.COMMIT
        return TurnAction.FINALISE if finalise else TurnAction.WAIT

    def _final_overdue(self, now: float) -> bool:
        requested = self._final_requested_at
        return requested is not None and now - requested >= self._endpointing.utterance_end_s


class _Words(enum.Enum):
    """What the caller's words so far say about a barge-in."""

    NONE = "none"  # no words yet (only the voice activity detector has heard them)
    ACKNOWLEDGEMENT = "acknowledgement"  # nothing but backchannels: never interrupts
    INTERRUPTION = "interruption"  # an interrupt word among them: interrupts at once
    OTHER = "other"  # words: the thresholds decide


class BargeInPolicy:
    """Whether caller speech over the assistant is an interruption.

    Never within ``cooldown_s`` of the last barge-in. Otherwise: never when the
    caller's words so far are only acknowledgement phrases (a backchannel: "mhmm",
    "yeah, okay"), at once when they hold an interruption phrase ("stop", "wait"), and
    else when the caller has said at least ``min_words`` words or spoken for at least
    ``min_speaking_s`` seconds (whichever comes first; a zero disables that test, both
    zero means any speech).

    With ``word_wait_s``, the time test alone does not interrupt while no word has been
    transcribed: a drawn-out "mhmm" outlasts ``min_speaking_s`` before the transcriber
    reports it, and stopping then would cut the assistant off for a backchannel. The
    barge-in is held (``held_until``): the first words decide it (``transcribed``:
    an interrupt word or words that are no backchannel interrupt at once,
    acknowledgements never), and if none come within ``word_wait_s`` it interrupts
    anyway (``waited_out``: a transcriber without interim results, or a noise). Zero
    (the default) interrupts on time at once: the realtime engine, whose transcript
    of the caller only comes once the turn is over.
    """

    __slots__ = (
        "_acknowledgements",
        "_classified",
        "_held_at",
        "_held_words",
        "_interruptions",
        "_word_wait_s",
        "_words",
        "config",
        "last_barge_in_at",
    )

    def __init__(self, config: InterruptionConfig, *, word_wait_s: float = 0.0) -> None:
        self.config = config
        self.last_barge_in_at: float | None = None
        self._acknowledgements = PhraseSet(config.acknowledgement_phrases)
        self._interruptions = PhraseSet(config.interruption_phrases)
        self._word_wait_s = word_wait_s
        # A barge-in held for the words: since when, and what the words said since (a
        # final transcript empties the interim text, not what it said).
        self._held_at: float | None = None
        self._held_words = _Words.NONE
        # The last text classified and what it said: asked once per voice-activity
        # frame, the words change only a few times a second.
        self._classified = ""
        self._words = _Words.NONE

    @property
    def held_until(self) -> float | None:
        """When a barge-in held for the caller's words stops waiting for them (None:
        none is held)."""
        held_at = self._held_at
        return None if held_at is None else held_at + self._word_wait_s

    def should_interrupt(
        self, *, now: float, speaking_s: float, words: int, text: str = ""
    ) -> bool:
        if (
            self.last_barge_in_at is not None
            and now - self.last_barge_in_at < self.config.cooldown_s
        ):
            return False
        said = self._classify(text)
        if self._held_at is not None:
            if said is _Words.NONE:
                said = self._held_words
            else:
                self._held_words = said
            if said is _Words.OTHER:
                return True  # held, the time test was met: words decide at once
        if said is _Words.INTERRUPTION:
            return True
        if said is _Words.ACKNOWLEDGEMENT:
            return False
        by_words = self.config.min_words > 0 and words >= self.config.min_words
        by_time = self.config.min_speaking_s > 0 and speaking_s >= self.config.min_speaking_s
        if by_time and said is _Words.NONE and self._word_wait_s > 0:
            return self._waited(now)
        anything = (
            self.config.min_words == 0
            and self.config.min_speaking_s == 0
            and (speaking_s > 0 or words > 0)
        )
        return by_words or by_time or anything

    def transcribed(self, text: str) -> bool:
        """The transcriber reported ``text`` for the caller's speech (an interim, or a
        final): whether it makes the barge-in held for the words one. Held, the time
        test was met, so any words but acknowledgements interrupt."""
        if self._held_at is None:
            return False
        said = self._classify(text)
        if said is not _Words.NONE:
            self._held_words = said
        return said is _Words.INTERRUPTION or said is _Words.OTHER

    def waited_out(self, now: float) -> bool:
        """The hold for the words is over (``held_until`` has passed): whether to
        interrupt anyway — no word came. The hold ends either way."""
        held_until = self.held_until
        if held_until is None or now < held_until - 1e-9:
            return False
        no_words = self._held_words is _Words.NONE
        self._release()
        return no_words

    def _waited(self, now: float) -> bool:
        """The time test met with no words yet: hold, until ``word_wait_s`` is up."""
        if self._held_at is None:
            self._held_at = now
        held_until = self.held_until
        return held_until is not None and now >= held_until - 1e-9

    def _release(self) -> None:
        self._held_at = None
        self._held_words = _Words.NONE

    def is_backchannel(self, text: str) -> bool:
        """Whether ``text`` (a final transcript) is nothing but acknowledgement phrases,
        and no interruption phrase."""
        words = words_of(text)
        return not self._interruptions.occurs_in(words) and self._acknowledgements.covers(words)

    def _classify(self, text: str) -> _Words:
        """What the words so far (an interim transcript, still growing) say."""
        if text is self._classified or text == self._classified:
            return self._words
        words = words_of(text)
        if not words:
            said = _Words.NONE
        elif self._interruptions.occurs_in(words):
            said = _Words.INTERRUPTION
        elif self._acknowledgements.covers(words, unfinished=True):
            said = _Words.ACKNOWLEDGEMENT
        else:
            said = _Words.OTHER
        self._classified, self._words = text, said
        return said

    def record(self, now: float) -> None:
        self.last_barge_in_at = now
        self._release()
