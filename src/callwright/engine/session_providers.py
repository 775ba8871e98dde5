"""The providers one pipeline call uses (``SessionProviders``, as the runtime picks
them) and how the session takes them: each kind as one provider that happens to be
several, the assistant's first and the offline ones last (``tts_fallback``,
``stt_fallback``; the LLMs are one in ``llm_fallback``), and the end-of-turn policy
of the call's turn detection, with the turn model it asks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from callwright.clock import Clock
from callwright.engine.config import CallConfig
from callwright.engine.failover import FailoverSink
from callwright.engine.smart_turn import end_of_turn_policy
from callwright.engine.stt_fallback import FallbackSTT
from callwright.engine.tts_fallback import FallbackTTS
from callwright.engine.turns import EndOfTurnPolicy
from callwright.providers.protocols import LLM, STT, TTS, VAD
from callwright.providers.turn import TurnModel

__all__ = ["SessionProviders"]


@dataclass(frozen=True, slots=True)
class SessionProviders:
    """The providers one call uses; ``llms`` is the primary then the fallbacks, and the
    transcriber and the voice have theirs (the offline ones, behind a cloud vendor)."""

    llms: Sequence[LLM]
    stt: STT
    tts: TTS
    vad: VAD
    stt_fallbacks: Sequence[STT] = ()
    tts_fallbacks: Sequence[TTS] = ()
    # The end-of-turn audio model of turn_detection "smart" (None: the words alone).
    turn_model: TurnModel | None = None

    def voice(
        self, clock: Clock, first_audio_timeout_s: float, on_failover: FailoverSink
    ) -> FallbackTTS:
        """The voice and its fallbacks as one (``first_audio_timeout_s`` bounds the
        wait for a sentence's first audio while a later voice remains)."""
        voices = (self.tts, *self.tts_fallbacks)
        return FallbackTTS(voices, clock, first_audio_timeout_s, on_failover)

    def transcriber(self, on_failover: FailoverSink) -> FallbackSTT:
        """The transcriber and its fallbacks as one."""
        return FallbackSTT((self.stt, *self.stt_fallbacks), on_failover)

    def end_of_turn(self, config: CallConfig) -> EndOfTurnPolicy:
        """A new end-of-turn policy (policies keep the state of the turn) for the call's
        turn detection, asking ``turn_model`` where it hears the audio."""
        endpointing = config.endpointing
        return end_of_turn_policy(
            endpointing.turn_detection, endpointing, config.stt.language, self.turn_model
        )
