"""What the engine sees of a call's connection, whatever carries it (Twilio Media
Streams, a browser WebSocket, the loopback simulator). A transport knows nothing of
LLMs: it turns its wire protocol into these events and back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = [
    "AnsweringMachine",
    "AudioReceived",
    "CallerHungUp",
    "DtmfReceived",
    "PlaybackMarked",
    "Transport",
    "TransportEvent",
]


@dataclass(frozen=True, slots=True)
class AudioReceived:
    """Caller audio, already decoded to PCM16 mono at ``Transport.sample_rate``;
    ``mulaw`` is the G.711 μ-law the carrier sent, when it sent μ-law (a realtime model
    that takes μ-law gets those bytes, not an encoding of the decoded audio)."""

    pcm16: bytes
    mulaw: bytes | None = None


@dataclass(frozen=True, slots=True)
class DtmfReceived:
    digit: str


@dataclass(frozen=True, slots=True)
class PlaybackMarked:
    """The far end has played everything sent before the mark named ``name``."""

    name: str


@dataclass(frozen=True, slots=True)
class AnsweringMachine:
    """Answering-machine detection on an outbound call."""

    kind: Literal["machine_start", "machine_end_beep", "machine_end_silence", "human", "fax"]


@dataclass(frozen=True, slots=True)
class CallerHungUp:
    reason: str = "customer-ended-call"


TransportEvent = AudioReceived | DtmfReceived | PlaybackMarked | AnsweringMachine | CallerHungUp


class Transport(Protocol):
    """A call's connection. ``events`` ends after ``CallerHungUp`` or when the
    connection drops. Audio sent is PCM16 mono at ``sample_rate``; the transport
    encodes it for its wire (μ-law for telephony) and paces nothing: pacing and
    buffering are the far end's job, which is why barge-in needs ``clear``."""

    sample_rate: int

    def events(self) -> AsyncIterator[TransportEvent]: ...

    async def send_audio(self, pcm16: bytes) -> None: ...

    async def clear_audio(self) -> None:
        """Drop audio the far end has buffered but not yet played (barge-in)."""
        ...

    async def mark(self, name: str) -> None:
        """Ask to be told (``PlaybackMarked``) when audio sent so far has been played."""
        ...

    async def hang_up(self, reason: str) -> None: ...

    async def transfer(self, destination: str) -> None: ...
