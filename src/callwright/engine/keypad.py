"""The keypads of a call. The caller's keys (DTMF the transport heard) are gathered
until ``#`` or a quiet spell and become one caller turn; the keys the model presses
(the ``send_dtmf`` tool) are played as touch tones into the call's audio, since a
carrier's media stream has no other way to send them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from callwright.audio.dtmf import dtmf_audio
from callwright.clock import Clock
from callwright.engine.events import TurnTiming
from callwright.transports.protocol import Transport

__all__ = ["Keypad"]

# How long after the caller's last key the keys pressed so far are taken as a turn.
_QUIET_S = 1.5


class Keypad:
    """``pressed`` for each key the caller presses; ``press`` for the model's keys.
    ``touch`` marks the caller active (the idle watchdog); ``turn`` answers the keys
    as a caller turn."""

    def __init__(
        self,
        transport: Transport,
        clock: Clock,
        spawn: Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]],
        *,
        touch: Callable[[float], None],
        turn: Callable[[str, TurnTiming], None],
    ) -> None:
        self._transport = transport
        self._clock = clock
        self._spawn = spawn
        self._touch = touch
        self._turn = turn
        self._keys: list[str] = []
        self._quiet: asyncio.Task[None] | None = None

    def pressed(self, digit: str) -> None:
        self._keys.append(digit)
        self._touch(self._clock.now())
        if self._quiet is not None:
            self._quiet.cancel()
        if digit == "#":
            self._flush()
        else:
            self._quiet = self._spawn(self._after_quiet())

    async def press(self, digits: str) -> None:
        """Play ``digits`` as tones (``ValueError`` for a key that does not exist)."""
        await self._transport.send_audio(dtmf_audio(digits, self._transport.sample_rate))

    async def _after_quiet(self) -> None:
        await self._clock.sleep(_QUIET_S)
        self._flush()

    def _flush(self) -> None:
        digits, self._keys = "".join(self._keys), []
        if digits:
            self._turn(
                f"[The caller pressed the keys: {digits}]",
                TurnTiming(0, end_of_turn_at=self._clock.now()),
            )
