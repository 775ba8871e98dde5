"""End-of-turn models: how likely the caller is done, from the audio of their turn.

``TurnModel`` is what the engine's smart end-of-turn policy (``engine.smart_turn``)
asks; the implementations load heavy packages, so the runtime imports the one it uses
(``callwright.providers.turn.smart_turn_v3``) and the session gets it injected, like
the voice activity detector.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

__all__ = ["TurnModel"]


class TurnModel(Protocol):
    """The probability that a speaker has finished their turn, from its last seconds
    of audio. ``predict`` is called on the event loop and must not block: it queues
    the work and returns a future the model resolves later (on the same loop) with a
    probability in [0, 1], or with a ``ProviderError`` when it cannot answer
    (overloaded, not loaded). Cancelling the future withdraws the question."""

    name: str

    def predict(self, pcm16: bytes, sample_rate: int) -> asyncio.Future[float]: ...
