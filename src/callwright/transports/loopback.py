"""A simulated call: the far end is code. It plays what the session sends in real time
(on the session's clock), echoes marks when playback reaches them, honours ``clear``,
and offers the caller's side: speak, stay silent, press keys, hang up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from callwright.clock import Clock
from callwright.transports.protocol import (
    AnsweringMachine,
    AudioReceived,
    CallerHungUp,
    DtmfReceived,
    PlaybackMarked,
    TransportEvent,
)

__all__ = ["LoopbackTransport", "SentAudio"]

_FRAME_S = 0.02


@dataclass(frozen=True, slots=True)
class SentAudio:
    at: float
    pcm16: bytes


@dataclass
class LoopbackTransport:
    clock: Clock
    sample_rate: int = 16_000
    sent: list[SentAudio] = field(default_factory=list)
    cleared_at: list[float] = field(default_factory=list)
    marks_sent: list[str] = field(default_factory=list)
    hung_up: str | None = None
    transferred_to: str | None = None

    def __post_init__(self) -> None:
        # None: the connection dropped (no hang-up message).
        self._inbound: asyncio.Queue[TransportEvent | None] = asyncio.Queue(maxsize=1024)
        self._cursor_end = 0.0
        self._pending_marks: list[tuple[float, str]] = []
        self._closed = asyncio.Event()

    # -- the session's side -------------------------------------------------------

    async def events(self) -> AsyncIterator[TransportEvent]:
        while (event := await self._inbound.get()) is not None:
            yield event
            if isinstance(event, CallerHungUp):
                return

    async def send_audio(self, pcm16: bytes) -> None:
        now = self.clock.now()
        self.sent.append(SentAudio(now, pcm16))
        self._cursor_end = max(now, self._cursor_end) + len(pcm16) / 2 / self.sample_rate

    async def clear_audio(self) -> None:
        self.cleared_at.append(self.clock.now())
        self._cursor_end = self.clock.now()
        self._pending_marks.clear()

    async def mark(self, name: str) -> None:
        self.marks_sent.append(name)
        self._pending_marks.append((self._cursor_end, name))

    async def hang_up(self, reason: str) -> None:
        self.hung_up = reason
        self._closed.set()

    async def transfer(self, destination: str) -> None:
        self.transferred_to = destination

    # -- the far end ----------------------------------------------------------------

    @property
    def playing_until(self) -> float:
        return self._cursor_end

    async def _tick(self, seconds: float) -> None:
        """Let ``seconds`` pass on the clock, echoing marks whose audio has played."""
        end = self.clock.now() + seconds
        while True:
            due = [m for m in self._pending_marks if m[0] <= end]
            if not due:
                break
            at, name = min(due)
            await self.clock.sleep(max(0.0, at - self.clock.now()))
            if (at, name) in self._pending_marks:  # a clear may have dropped it
                self._pending_marks.remove((at, name))
                await self._inbound.put(PlaybackMarked(name))
        await self.clock.sleep(max(0.0, end - self.clock.now()))

    async def say(self, pcm16: bytes) -> None:
        """Speak ``pcm16`` in real time, 20 ms frames."""
        step = int(self.sample_rate * _FRAME_S) * 2
        for offset in range(0, len(pcm16), step):
            await self._inbound.put(AudioReceived(pcm16[offset : offset + step]))
            await self._tick(_FRAME_S)

    async def silence(self, seconds: float) -> None:
        await self.say(bytes(int(seconds * self.sample_rate) * 2))

    async def press(self, digits: str) -> None:
        for digit in digits:
            await self._inbound.put(DtmfReceived(digit))
            await self.silence(0.1)

    async def answering_machine(self, kind: str = "machine_end_beep") -> None:
        await self._inbound.put(AnsweringMachine(kind))  # type: ignore[arg-type]

    async def hang_up_caller(self) -> None:
        await self._inbound.put(CallerHungUp())

    async def drop(self) -> None:
        """The connection breaks without a hang-up."""
        await self._inbound.put(None)

    async def wait_closed(self) -> None:
        await self._closed.wait()
