"""A browser call over one WebSocket (the playground, or any web client).

Both directions carry binary frames of PCM16 little-endian mono at 16 kHz, and JSON
text messages:

- browser → server: ``{"type": "mark", "name"}`` (playback reached a mark we sent),
  ``{"type": "dtmf", "digit"}``, ``{"type": "hangup"}``;
- server → browser: ``{"type": "call-started", "call_id"}``,
  ``{"type": "transcript", "role": "user" | "assistant", "text", "final"}``,
  ``{"type": "mark", "name"}`` (tell me when you have played up to here),
  ``{"type": "clear"}`` (drop queued audio: the caller barged in),
  ``{"type": "call-ended", "reason"}``.

The browser, like Twilio, buffers and plays what it is sent; marks coming back are
what tells the session what the caller actually heard.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from callwright.transports.protocol import (
    AudioReceived,
    CallerHungUp,
    DtmfReceived,
    PlaybackMarked,
    TransportEvent,
)

__all__ = [
    "BROWSER_SAMPLE_RATE",
    "BrowserTransport",
    "CallEndedNotice",
    "PageMessage",
    "TranscriptLine",
]

BROWSER_SAMPLE_RATE = 16_000
_SERVICE_RESTART = 1012
_MAX_FRAME_BYTES = 64_000  # 2 s of audio: anything larger is not a live microphone


@dataclass(frozen=True, slots=True)
class TranscriptLine:
    """A line of the live transcript shown on the page; ``interrupted`` is said of the
    assistant's lines only (the caller barged in and heard part of it)."""

    role: Literal["user", "assistant"]
    text: str
    final: bool
    interrupted: bool | None = None


@dataclass(frozen=True, slots=True)
class CallEndedNotice:
    """The call is over, and why (an end reason's wire value)."""

    reason: str


PageMessage = TranscriptLine | CallEndedNotice
"""What the page is shown beside the call's audio (``BrowserTransport.show``)."""


class BrowserTransport:
    """The session's view of a browser's WebSocket; ``show`` queues live transcript
    messages for the page without blocking the caller, ``pump_transcripts`` sends them."""

    sample_rate = BROWSER_SAMPLE_RATE

    def __init__(self, websocket: WebSocket) -> None:
        self._websocket = websocket
        self._lock = asyncio.Lock()
        # Transcript messages wait here for the sender task (bounded: a page that stops
        # reading loses transcript lines, never stalls the call).
        self._outbox: asyncio.Queue[PageMessage | None] = asyncio.Queue(maxsize=128)
        self.closed_for_shutdown = False

    # -- transport --------------------------------------------------------------------

    async def events(self) -> AsyncIterator[TransportEvent]:
        while True:
            try:
                message = await self._websocket.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect":
                # 1012 "service restart": the server itself is shutting down.
                self.closed_for_shutdown = message.get("code") == _SERVICE_RESTART
                return
            data = message.get("bytes")
            if data is not None:
                if 0 < len(data) <= _MAX_FRAME_BYTES and len(data) % 2 == 0:
                    yield AudioReceived(data)
                continue
            event = _parse(message.get("text"))
            if event is not None:
                yield event
                if isinstance(event, CallerHungUp):
                    return

    async def _send(self, text: str | None = None, data: bytes | None = None) -> None:
        if self._websocket.application_state != WebSocketState.CONNECTED:
            return
        # The page may be gone; the receive side reports it.
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            async with self._lock:
                if data is not None:
                    await self._websocket.send_bytes(data)
                else:
                    await self._websocket.send_text(text or "")

    async def send_json(self, message: dict[str, Any]) -> None:
        await self._send(text=json.dumps(message, separators=(",", ":")))

    async def send_audio(self, pcm16: bytes) -> None:
        await self._send(data=pcm16)

    async def clear_audio(self) -> None:
        await self.send_json({"type": "clear"})

    async def mark(self, name: str) -> None:
        await self.send_json({"type": "mark", "name": name})

    async def hang_up(self, reason: str) -> None:
        self.stop_pump()
        await self.send_json({"type": "call-ended", "reason": reason})
        if self._websocket.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(RuntimeError):
                await self._websocket.close()

    async def close(self) -> None:
        """Close the socket unless it is closed already (by the page, or by
        ``hang_up``)."""
        if self._websocket.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                await self._websocket.close()

    async def transfer(self, destination: str) -> None:
        # A browser cannot be forwarded to a phone number: say so on the page.
        await self.send_json({"type": "transfer", "destination": destination})

    # -- live transcript ----------------------------------------------------------------

    def show(self, message: PageMessage) -> None:
        """Queue ``message`` for the page; dropped if the page has stopped reading."""
        with contextlib.suppress(asyncio.QueueFull):
            self._outbox.put_nowait(message)

    async def pump_transcripts(self) -> None:
        """Send queued transcript messages until the call ends (run beside the call)."""
        while (message := await self._outbox.get()) is not None:
            await self.send_json(_render(message))
            if isinstance(message, CallEndedNotice):
                return

    def stop_pump(self) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self._outbox.put_nowait(None)


def _render(message: PageMessage) -> dict[str, Any]:
    if isinstance(message, CallEndedNotice):
        return {"type": "call-ended", "reason": message.reason}
    rendered: dict[str, Any] = {
        "type": "transcript",
        "role": message.role,
        "text": message.text,
        "final": message.final,
    }
    if message.interrupted is not None:
        rendered["interrupted"] = message.interrupted
    return rendered


def _parse(text: str | None) -> TransportEvent | None:
    if not text:
        return None
    try:
        message = json.loads(text)
        kind = message.get("type")
        if kind == "mark":
            return PlaybackMarked(str(message["name"]))
        if kind == "dtmf":
            digit = str(message["digit"])
            return DtmfReceived(digit) if digit in "0123456789*#ABCD" and len(digit) == 1 else None
        if kind == "hangup":
            return CallerHungUp("customer-ended-call")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return None
