"""The caller's side of a call: their audio in, their turns out.

Caller audio (at the transport's rate) is resampled to the voice activity detector's
rate (none on a phone line: 8 kHz both) and cut into its frames; each frame's speech
probability drives a ``SpeechDetector`` (speech started / stopped) and, in a pause,
the call's ``EndOfTurnPolicy``. The same audio goes to the transcriber (through the
noise suppressor with ``audio_denoising``), resampled only when the transcriber takes
another rate; its interim words count towards a barge-in and its finals make up the
turn. What the hearing learns goes to a ``CallerListener``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from callwright.audio.denoise import NoiseSuppressor
from callwright.audio.framing import FrameSplitter
from callwright.audio.resample import Resampler
from callwright.clock import Clock
from callwright.engine.config import CallConfig
from callwright.engine.events import (
    EventSink,
    SpeechStarted,
    SpeechStopped,
    TranscriptFinal,
    TranscriptPartial,
    TurnTiming,
)
from callwright.engine.lifecycle import Spawn
from callwright.engine.stt_fallback import FallbackSTT, FallbackSTTStream
from callwright.engine.turns import (
    CallerState,
    CallerTurn,
    EndOfTurnPolicy,
    HearsAudio,
    TurnAction,
)
from callwright.providers.protocols import VAD

__all__ = ["CallerListener", "Hearing", "SpeechDetector"]

SpeechChange = Literal["started", "stopped"]


@dataclass(slots=True)
class SpeechDetector:
    """Turns per-frame speech probabilities into speech segments.

    Speech starts after ``start_s`` of frames above ``start_threshold`` and stops after
    ``turnoff_s`` of frames below ``stop_threshold`` (hysteresis keeps a breath or a
    quiet syllable from splitting a sentence).
    """

    turnoff_s: float
    start_s: float = 0.064
    start_threshold: float = 0.5
    stop_threshold: float = 0.35
    speaking: bool = False
    speech_started_at: float | None = None
    last_speech_at: float | None = None
    _candidate_since: float | None = None

    def update(self, probability: float, frame_end: float, frame_s: float) -> SpeechChange | None:
        frame_start = frame_end - frame_s
        if probability >= self.start_threshold or (
            self.speaking and probability >= self.stop_threshold
        ):
            self.last_speech_at = frame_end
            if self.speaking:
                return None
            if self._candidate_since is None:
                self._candidate_since = frame_start
            if frame_end - self._candidate_since >= self.start_s - 1e-9:
                self.speaking = True
                self.speech_started_at = self._candidate_since
                self._candidate_since = None
                return "started"
            return None
        self._candidate_since = None
        if (
            self.speaking
            and self.last_speech_at is not None
            and frame_end - self.last_speech_at >= self.turnoff_s - 1e-9
        ):
            self.speaking = False
            return "stopped"
        return None

    def silence_s(self, now: float) -> float:
        """Seconds since the last speech frame (infinite before any speech)."""
        if self.speaking or self.last_speech_at is None:
            return 0.0 if self.speaking else float("inf")
        return now - self.last_speech_at

    def speech_duration(self, now: float) -> float:
        """Seconds of the current speech segment, not counting the silence hangover."""
        started = self.speech_started_at
        if started is None:
            return 0.0
        return (self.last_speech_at or now) - started


class CallerListener(Protocol):
    """What the hearing tells the rest of the session (all called on the audio path)."""

    def caller_active(self, now: float) -> None:
        """The caller is speaking (each voiced frame): the call is not idle."""
        ...

    def caller_started(self, now: float, started_at: float) -> None:
        """The caller started speaking at ``started_at`` (detected at ``now``)."""
        ...

    def caller_speaking(self, now: float, speaking_s: float, words: int, text: str) -> None:
        """The caller has spoken ``speaking_s`` seconds and ``words`` words so far
        (``text``, the transcriber's interim): a barge-in, if the assistant is speaking
        and the policy says so."""
        ...

    async def caller_transcribed(self, text: str, now: float) -> bool:
        """The transcriber reported ``text`` (an interim or a final) for the caller's
        speech: what a barge-in held for the words waits for, even once the caller has
        fallen quiet. True when they made it one (the words are then a turn), once the
        reply it cut has been recorded."""
        ...

    def caller_aside(self, text: str, now: float) -> None:
        """The caller said ``text`` over the assistant without interrupting it."""
        ...

    def caller_turn(self, text: str, timing: TurnTiming, *, continues: bool = False) -> None:
        """The caller's turn is over: ``text`` is what they said. With ``continues``,
        it goes on from their previous turn (whose answer was withdrawn) and holds it."""
        ...

    def assistant_replying(self) -> bool:
        """Whether a reply is in progress (caller speech then is a barge-in or a
        backchannel, never a turn of its own)."""
        ...

    def caller_probably_done(self, text: str, now: float) -> None:
        """The end-of-turn policy thinks the caller has finished saying ``text`` (the
        turn is not taken yet): the answer may be prepared."""
        ...


class Hearing:
    """Caller audio → speech edges, transcripts and the caller's turns.

    ``hear`` takes each chunk of caller audio (the receiving task);
    ``follow_transcripts`` reads the transcriber (a task of its own). Both run on the
    call's event loop, so the turn they share changes only between awaits.
    """

    def __init__(
        self,
        config: CallConfig,
        vad: VAD,
        stt: FallbackSTT,
        transport_rate: int,
        clock: Clock,
        emit: EventSink,
        policy: EndOfTurnPolicy,
        *,
        listener: CallerListener,
        spawn: Spawn,
    ) -> None:
        self._config = config
        self._vad = vad
        self._stt = stt
        self._clock = clock
        self._emit = emit
        self._policy = policy
        # A policy that judges the audio too hears every frame (engine.smart_turn).
        self._policy_hears = policy if isinstance(policy, HearsAudio) else None
        self._listener = listener
        self._spawn = spawn
        self._stream: FallbackSTTStream | None = None
        self._frame_s = vad.frame_samples / vad.sample_rate
        self._to_vad = Resampler(transport_rate, vad.sample_rate)
        self._vad_frames = FrameSplitter(vad.frame_samples * 2)
        # A transcriber built for the line's rate hears the VAD's audio as it is: no
        # resampler on its path (decision 028); one that takes only 16 kHz gets it.
        self._to_stt = (
            Resampler(vad.sample_rate, stt.sample_rate)
            if stt.sample_rate != vad.sample_rate
            else None
        )
        # stt_settings.audio_denoising: only the transcriber hears the cleaned audio.
        # The VAD keeps the raw audio: turn-taking and barge-in must not wait the
        # suppressor's 16 ms, nor lose a quiet first syllable to a noise estimate that
        # has not yet seen a pause (Silero is trained on noisy speech anyway).
        self._denoise = NoiseSuppressor(vad.sample_rate) if config.audio_denoising else None
        turnoff_s = config.endpointing.vad_turnoff_s
        if self._policy_hears is not None:
            turnoff_s = min(turnoff_s, self._policy_hears.turnoff_s)
        self._detector = SpeechDetector(turnoff_s=turnoff_s)
        self._turn = CallerTurn()

    @property
    def speaking(self) -> bool:
        """Whether the caller is speaking now (by the voice activity detector)."""
        return self._detector.speaking

    async def open(self) -> None:
        self._stream = await self._stt.open_stream(self._config.stt)

    async def aclose(self) -> None:
        if self._stream is not None:
            await self._stream.aclose()

    # -- audio ------------------------------------------------------------------------

    async def hear(self, pcm16: bytes) -> None:
        """One chunk of caller audio at the transport's rate."""
        assert self._stream is not None
        at_vad_rate = self._to_vad.process(pcm16)
        for_stt = at_vad_rate if self._denoise is None else self._denoise.process(at_vad_rate)
        if self._to_stt is not None:
            for_stt = self._to_stt.process(for_stt)
        await self._stream.push_audio(for_stt)
        for frame in self._vad_frames.push(at_vad_rate):
            if self._policy_hears is not None:
                self._policy_hears.heard(frame, self._vad.sample_rate)
            self._on_frame(await self._vad.probability(frame))

    def _on_frame(self, probability: float) -> None:
        now = self._clock.now()
        detector = self._detector
        change = detector.update(probability, now, self._frame_s)
        turn = self._turn
        if change == "started":
            self._emit(SpeechStarted(now))
            turn.state = CallerState.SPEAKING
            self._policy.speech_started(now)
            self._listener.caller_started(now, detector.speech_started_at or now)
        elif change == "stopped":
            self._emit(SpeechStopped(now))
            if turn.state is CallerState.SPEAKING:
                turn.state = CallerState.PAUSED
        if detector.speaking:
            self._listener.caller_active(now)
            self._listener.caller_speaking(
                now, detector.speech_duration(now), turn.interim_words, turn.interim
            )
            return
        if turn.state is CallerState.QUIET:
            # A transcriber that re-reads its whole utterance (whisper) forgets the
            # silence between turns; for the others this is a no-op.
            assert self._stream is not None
            self._stream.discard_utterance()
            return
        self._consider_end_of_turn(now)

    # -- transcripts ------------------------------------------------------------------

    async def follow_transcripts(self) -> None:
        """Read the transcriber until its stream ends."""
        assert self._stream is not None
        async for transcript in self._stream.transcripts():
            now = self._clock.now()
            text = transcript.text
            if not text.strip():
                continue
            if not transcript.is_final:
                self._turn.heard_interim(text)
                self._emit(TranscriptPartial(text, now))
                if self._detector.speaking:
                    turn = self._turn
                    self._listener.caller_speaking(
                        now, self._detector.speech_duration(now), turn.interim_words, turn.interim
                    )
                await self._listener.caller_transcribed(text, now)
                continue
            self._emit(TranscriptFinal(text, now))
            # Before it is taken as an aside: words that make a held barge-in one end
            # the reply, and then they are the caller's turn.
            barged_in = await self._listener.caller_transcribed(text, now)
            if not barged_in and self._listener.assistant_replying():
                # Caller speech that did not interrupt (a backchannel): not a turn, but
                # kept (the transcript, and the LLM with the next turn).
                self._turn.backchannel()
                self._listener.caller_aside(text.strip(), now)
                continue
            self._turn.heard_final(text.strip(), now)
            self._consider_end_of_turn(now)

    # -- the end of the turn ----------------------------------------------------------

    def quiet_for(self, now: float) -> float:
        """Seconds since the caller last spoke (0 while they speak)."""
        return self._detector.silence_s(now)

    def words_in_progress(self) -> str:
        """What the caller's turn in progress has said so far (finals, then interim)."""
        turn = self._turn
        return " ".join((*turn.finals, turn.interim)).strip()

    def drop_turn(self) -> str:
        """The caller's speech in progress is no turn (a false interruption): it starts
        over, quiet. Returns what it had said."""
        text, _ = self._turn.take()
        return text

    def carry(self, text: str) -> None:
        """The caller's last turn, ``text``, was not answered after all (they went on
        before hearing the answer): the turn in progress continues it."""
        self._turn.carry(text)

    def _consider_end_of_turn(self, now: float) -> None:
        if self._turn.state is CallerState.QUIET:
            return
        action = self._policy.decide(now, self._detector.silence_s(now), self._turn)
        if action is TurnAction.WAIT:
            return
        if TurnAction.FINALISE in action:
            assert self._stream is not None
            self._spawn(self._stream.end_utterance())
        if TurnAction.PREPARE in action and TurnAction.COMMIT not in action:
            self._listener.caller_probably_done(self._turn.so_far(), now)
        if TurnAction.COMMIT in action:
            self._commit(now)

    def _commit(self, now: float) -> None:
        continues = bool(self._turn.carried)
        text, final_at = self._turn.take()
        timing = TurnTiming(
            0,  # numbered by the session, with the turns the caller typed (DTMF)
            user_stopped_at=self._detector.last_speech_at,
            end_of_turn_at=now,
            stt_final_at=final_at,
            stt_provider=self._stream.provider if self._stream else None,
        )
        self._listener.caller_turn(text, timing, continues=continues)
