"""What the text-to-speech vendor fakes share: fault switches, a record of what each
request carried, real audio (a sine tone as PCM16 or G.711 μ-law) and raw-ASGI
plumbing for refusing a request, streaming, and noticing a client that hangs up.

The fakes are plain ASGI apps, so any ASGI server runs them (the tests use uvicorn's
``websockets-sansio`` protocol, which supports WebSocket denial responses). A "drop"
returns from the app without finishing, which makes the server cut the TCP connection:
no WebSocket close frame, no final HTTP chunk — what a crashed vendor looks like.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import numpy as np

__all__ = [
    "Faults",
    "HttpExchange",
    "Received",
    "WebSocketPeer",
    "audio_chunks",
    "mulaw_encode",
    "speech_seconds",
    "tone",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

CHUNK_MS = 100


@dataclass
class Faults:
    """Switches a test flips to make a fake misbehave."""

    status: int | None = None  # refuse every request with this status (WebSocket: handshake)
    retry_after: str | None = None  # Retry-After header on that refusal
    drop_after_chunks: int | None = None  # cut the connection after this many audio chunks
    first_byte_delay_s: float = 0.0  # wait this long before the first audio
    chunk_interval_s: float = 0.0  # pause between audio chunks: a long, slow stream


@dataclass
class Received:
    """One request as a fake saw it."""

    path: str
    raw_path: str  # as sent, percent-escapes kept
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    messages: list[Any] = field(default_factory=list)  # WebSocket: JSON decoded, binary kept
    body: bytes = b""  # HTTP request body
    chunks_sent: int = 0
    finished: bool = False  # every audio chunk was sent
    client_closed: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def from_scope(cls, scope: Scope) -> Received:
        return cls(
            path=scope["path"],
            raw_path=(scope.get("raw_path") or scope["path"].encode()).decode(),
            query=dict(parse_qsl(scope["query_string"].decode(), keep_blank_values=True)),
            headers={name.decode().lower(): value.decode() for name, value in scope["headers"]},
        )


def speech_seconds(text: str) -> float:
    """How long the fakes "speak" ``text``: 50 ms a character, within 0.2–3 s."""
    return min(max(0.05 * len(text.strip()), 0.2), 3.0)


def tone(sample_rate: int, seconds: float, frequency: float = 440.0) -> bytes:
    """A half-scale sine tone as PCM16 little-endian mono."""
    t = np.arange(round(sample_rate * seconds)) / sample_rate
    samples = np.round(16000 * np.sin(2 * np.pi * frequency * t)).astype("<i2")
    return samples.tobytes()


def mulaw_encode(pcm16: bytes) -> bytes:
    """G.711 μ-law, written out from the standard (not callwright's own table), so a
    decoding bug in an adapter cannot cancel out against the same bug here."""
    samples = np.frombuffer(pcm16, dtype="<i2").astype(np.int32)
    sign = np.where(samples < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(samples), 32635) + 0x84
    exponent = np.clip(np.floor(np.log2(magnitude)).astype(np.int32) - 7, 0, 7)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    encoded: bytes = (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()
    return encoded


def audio_chunks(audio: bytes, bytes_per_second: int) -> list[bytes]:
    """``audio`` cut into ``CHUNK_MS`` pieces, as vendors stream it."""
    size = bytes_per_second * CHUNK_MS // 1000
    return [audio[start : start + size] for start in range(0, len(audio), size)]


async def _wait(event: asyncio.Event, seconds: float) -> bool:
    """Sleep up to ``seconds``, waking early (True) when ``event`` is set."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
    return event.is_set()


async def _paced(chunks: list[bytes], faults: Faults, record: Received) -> AsyncIterator[bytes]:
    """Yield audio chunks with the faults applied; stops early when the client hangs
    up (the caller then sees ``record.chunks_sent`` below the total)."""
    if faults.first_byte_delay_s and await _wait(record.client_closed, faults.first_byte_delay_s):
        return
    for number, chunk in enumerate(chunks):
        if record.client_closed.is_set():
            return
        if faults.drop_after_chunks is not None and number >= faults.drop_after_chunks:
            raise _Drop
        if number and faults.chunk_interval_s:
            await _wait(record.client_closed, faults.chunk_interval_s)
            if record.client_closed.is_set():
                return
        yield chunk
        record.chunks_sent += 1
    record.finished = True


class _Drop(Exception):
    """Cut the connection here (handled by the exchange, never escapes the app)."""


class WebSocketPeer:
    """One accepted WebSocket: incoming messages are recorded and queued by a reader
    task, so a fake notices the client closing even while it is busy streaming."""

    def __init__(self, receive: Receive, send: Send, record: Received, faults: Faults) -> None:
        self._receive = receive
        self._send = send
        self.record = record
        self.faults = faults
        self._inbox: asyncio.Queue[Any] = asyncio.Queue()

    @staticmethod
    async def refuse(send: Send, status: int, body: Any, headers: dict[str, str]) -> None:
        """Answer the handshake with an HTTP error (the denial-response extension)."""
        encoded = json.dumps(body).encode()
        raw_headers = [(b"content-type", b"application/json")]
        raw_headers += [(name.encode(), value.encode()) for name, value in headers.items()]
        await send(
            {"type": "websocket.http.response.start", "status": status, "headers": raw_headers}
        )
        await send({"type": "websocket.http.response.body", "body": encoded})

    async def run(self, protocol: Callable[[WebSocketPeer], Awaitable[None]]) -> None:
        """Accept, run ``protocol`` with the reader alongside; a drop ends without a
        close frame (the server then cuts the TCP connection)."""
        await self._send({"type": "websocket.accept"})
        async with asyncio.TaskGroup() as group:
            reader = group.create_task(self._read())
            try:
                await protocol(self)
            except _Drop:
                pass
            finally:
                reader.cancel()

    async def _read(self) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "websocket.disconnect":
                self.record.client_closed.set()
                self._inbox.put_nowait(None)
                return
            if message.get("text") is not None:
                try:
                    decoded: Any = json.loads(message["text"])
                except ValueError:
                    decoded = message["text"]
            else:
                decoded = message.get("bytes")
            self.record.messages.append(decoded)
            self._inbox.put_nowait(decoded)

    async def next_message(self) -> Any:
        """The client's next message, or None once it has gone."""
        return await self._inbox.get()

    async def send_json(self, payload: Any) -> bool:
        return await self._send_safely({"type": "websocket.send", "text": json.dumps(payload)})

    async def send_bytes(self, payload: bytes) -> bool:
        return await self._send_safely({"type": "websocket.send", "bytes": payload})

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self._send_safely({"type": "websocket.close", "code": code, "reason": reason})

    async def stream(self, chunks: list[bytes], send: Callable[[bytes], Awaitable[bool]]) -> None:
        """Send audio chunks through ``send`` with the faults applied."""
        async for chunk in _paced(chunks, self.faults, self.record):
            if not await send(chunk):
                return

    async def _send_safely(self, message: Message) -> bool:
        if self.record.client_closed.is_set():
            return False
        try:
            await self._send(message)
        except (OSError, RuntimeError):  # the client went away meanwhile
            self.record.client_closed.set()
            return False
        return True


class HttpExchange:
    """One HTTP request: read its body, then refuse it or stream a response, noticing
    the client hanging up (``http.disconnect``) while streaming."""

    def __init__(self, scope: Scope, receive: Receive, send: Send, faults: Faults) -> None:
        self.record = Received.from_scope(scope)
        self.faults = faults
        self._receive = receive
        self._send = send

    async def read_body(self) -> bytes:
        body = bytearray()
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self.record.client_closed.set()
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        self.record.body = bytes(body)
        return self.record.body

    async def respond(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        encoded = json.dumps(body).encode() if not isinstance(body, bytes) else body
        raw_headers = [(b"content-type", b"application/json")]
        raw_headers += [(name.encode(), value.encode()) for name, value in (headers or {}).items()]
        await self._send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await self._send({"type": "http.response.body", "body": encoded})

    async def stream(self, chunks: list[bytes], content_type: str) -> None:
        """A 200 whose chunked body is the audio, with the faults applied. Headers go
        out only with the first chunk, so a slow first byte is slow headers too."""
        started = False
        async with asyncio.TaskGroup() as group:
            watcher = group.create_task(self._watch_disconnect())
            try:
                async for chunk in _paced(chunks, self.faults, self.record):
                    if not started:
                        started = True
                        await self._send(
                            {
                                "type": "http.response.start",
                                "status": 200,
                                "headers": [(b"content-type", content_type.encode())],
                            }
                        )
                    await self._send(
                        {"type": "http.response.body", "body": chunk, "more_body": True}
                    )
                if not self.record.client_closed.is_set():
                    await self._send({"type": "http.response.body", "body": b""})
            except _Drop:
                pass  # return mid-body: the server cuts the connection
            except OSError:
                self.record.client_closed.set()
            finally:
                watcher.cancel()

    async def _watch_disconnect(self) -> None:
        while (await self._receive())["type"] != "http.disconnect":
            pass
        self.record.client_closed.set()
