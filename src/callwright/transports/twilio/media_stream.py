"""Twilio Media Streams (bidirectional, ``<Connect><Stream>``) as a ``Transport``.

Twilio sends JSON text frames: ``connected``, ``start`` (stream and call ids, media
format, ``customParameters``), ``media`` (base64 8 kHz μ-law, 20 ms each), ``dtmf``,
``mark`` (a mark we sent has been played) and ``stop``. We send ``media``, ``mark``
and ``clear`` (drop everything buffered: barge-in). Hang-up and transfer are not
stream messages: they go through Twilio's REST API (a ``CallControl``, in production
``control.TwilioCallControl``).

``read_start`` consumes the opening messages; the transport then owns the socket.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from callwright.audio.codec import mulaw_decode, mulaw_encode
from callwright.transports.protocol import (
    AudioReceived,
    CallerHungUp,
    DtmfReceived,
    PlaybackMarked,
    TransportEvent,
)

__all__ = ["CallControl", "StreamStart", "TwilioMediaStream", "read_start"]

_SAMPLE_RATE = 8000
_SERVICE_RESTART = 1012
_INBOUND_TRACKS = ("inbound", "inbound_track")
_JSON = json.JSONDecoder()  # json.loads's own configuration


class CallControl(Protocol):
    """What the carrier's REST API does to a live call."""

    async def hang_up(self) -> None: ...

    async def transfer(self, destination: str) -> None: ...


@dataclass(frozen=True, slots=True)
class StreamStart:
    """The ``start`` message: whose stream this is and what the TwiML passed along."""

    stream_sid: str
    call_sid: str
    account_sid: str
    custom_parameters: dict[str, str] = field(default_factory=dict)


async def read_start(websocket: WebSocket, max_messages: int = 5) -> StreamStart | None:
    """Read up to the ``start`` message (``connected`` comes first); None if the stream
    ends or says something else first."""
    for _ in range(max_messages):
        try:
            message = json.loads(await websocket.receive_text())
        except (WebSocketDisconnect, ValueError, KeyError):
            return None
        if not isinstance(message, dict):
            return None
        if message.get("event") == "connected":
            continue
        if message.get("event") != "start":
            return None
        start = message.get("start") or {}
        parameters = start.get("customParameters") or {}
        return StreamStart(
            stream_sid=str(message.get("streamSid") or start.get("streamSid") or ""),
            call_sid=str(start.get("callSid") or ""),
            account_sid=str(start.get("accountSid") or ""),
            custom_parameters={str(k): str(v) for k, v in parameters.items()},
        )
    return None


class TwilioMediaStream:
    """One call's Media Stream after ``start``. Outbound audio is μ-law encoded and sent
    as it comes: Twilio buffers and paces it, which is why barge-in sends ``clear``."""

    sample_rate = _SAMPLE_RATE

    def __init__(self, websocket: WebSocket, start: StreamStart, control: CallControl) -> None:
        self._websocket = websocket
        self._stream_sid = start.stream_sid
        # Outbound media messages are this + base64 (never needs escaping) + '"}}',
        # byte for byte what json.dumps of the message dict gives, at a fraction of it.
        self._media_prefix = (
            '{"event":"media","streamSid":' + json.dumps(start.stream_sid) + ',"media":{"payload":"'
        )
        self._control = control
        # Events raised outside the stream (answering-machine detection arrives on a
        # separate webhook); delivered between stream messages, at most 20 ms late.
        self._injected: deque[TransportEvent] = deque(maxlen=16)
        self._hung_up = False
        self.closed_for_shutdown = False

    def inject(self, event: TransportEvent) -> None:
        self._injected.append(event)

    async def events(self) -> AsyncIterator[TransportEvent]:
        while True:
            try:
                text = await self._websocket.receive_text()
            except WebSocketDisconnect as exc:
                # 1012 "service restart": this server is shutting down, not the caller.
                self.closed_for_shutdown = exc.code == _SERVICE_RESTART
                return  # dropped without a stop: the session ends it as dropped
            except RuntimeError:
                return
            while self._injected:
                yield self._injected.popleft()
            event = _parse(text)
            if event is None:
                continue
            yield event
            if isinstance(event, CallerHungUp):
                return

    async def _send(self, message: dict[str, Any]) -> None:
        await self._send_text(json.dumps(message, separators=(",", ":")))

    async def _send_text(self, text: str) -> None:
        if self._websocket.application_state != WebSocketState.CONNECTED:
            return
        # The caller may be gone; the receive side reports it.
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            await self._websocket.send_text(text)

    async def send_audio(self, pcm16: bytes) -> None:
        payload = base64.b64encode(mulaw_encode(pcm16)).decode("ascii")
        await self._send_text(self._media_prefix + payload + '"}}')

    async def clear_audio(self) -> None:
        await self._send({"event": "clear", "streamSid": self._stream_sid})

    async def mark(self, name: str) -> None:
        await self._send({"event": "mark", "streamSid": self._stream_sid, "mark": {"name": name}})

    async def hang_up(self, reason: str) -> None:
        if self._hung_up:
            return
        self._hung_up = True
        await self._control.hang_up()
        if self._websocket.application_state == WebSocketState.CONNECTED:
            await self._websocket.close()

    async def transfer(self, destination: str) -> None:
        await self._control.transfer(destination)


def _load_json(text: str) -> Any:
    """``json.loads(text)``. Twilio's frames are compact JSON with no whitespace around
    them, which the C scanner alone reads: json.loads's Python wrapper (type checks,
    two whitespace regexes) is ~40 % of its time on a media frame. Anything else goes
    through json.loads itself, so what is accepted or refused does not change."""
    try:
        message, end = _JSON.raw_decode(text)
    except ValueError:
        return json.loads(text)
    return message if end == len(text) else json.loads(text)


def _parse(text: str) -> TransportEvent | None:
    try:
        message = _load_json(text)
        kind = message["event"]
        if kind == "media":
            media = message["media"]
            if media.get("track", "inbound") not in _INBOUND_TRACKS:
                return None
            # binascii directly: base64.b64decode only adds a str → bytes copy.
            mulaw = binascii.a2b_base64(media["payload"])
            return AudioReceived(mulaw_decode(mulaw), mulaw)
        if kind == "dtmf":
            return DtmfReceived(str(message["dtmf"]["digit"]))
        if kind == "mark":
            return PlaybackMarked(str(message["mark"]["name"]))
        if kind == "stop":
            return CallerHungUp("customer-ended-call")
    except (ValueError, KeyError, TypeError):
        return None  # a malformed frame is skipped, not fatal
    return None
