"""Turn-taking rules as small objects: when the caller is speaking, and when their
speech should stop the assistant (barge-in)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from callwright.engine.config import InterruptionConfig

__all__ = ["BargeInPolicy", "SpeechDetector"]

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


@dataclass(slots=True)
class BargeInPolicy:
    """Whether caller speech over the assistant is an interruption.

    It is when the caller has said at least ``min_words`` words, or spoken for at least
    ``min_speaking_s`` seconds (whichever comes first; a zero disables that test, both
    zero means any speech), and the last barge-in was at least ``cooldown_s`` ago.
    """

    config: InterruptionConfig
    last_barge_in_at: float | None = None

    def should_interrupt(self, *, now: float, speaking_s: float, words: int) -> bool:
        if (
            self.last_barge_in_at is not None
            and now - self.last_barge_in_at < self.config.cooldown_s
        ):
            return False
        by_words = self.config.min_words > 0 and words >= self.config.min_words
        by_time = self.config.min_speaking_s > 0 and speaking_s >= self.config.min_speaking_s
        anything = (
            self.config.min_words == 0
            and self.config.min_speaking_s == 0
            and (speaking_s > 0 or words > 0)
        )
        return by_words or by_time or anything

    def record(self, now: float) -> None:
        self.last_barge_in_at = now
