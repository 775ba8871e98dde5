"""A fake of AssemblyAI's Universal-Streaming WebSocket (``/v3/ws``) for contract tests.

It speaks the protocol as AssemblyAI's Streaming API reference, "Message Sequence" and
"Common session errors and closures" pages document it: ``Authorization: <api key>``
on the handshake, settings as query parameters (``speech_model`` and ``sample_rate``
required), ``Begin`` first, binary PCM16 audio in messages of 50–1000 ms (anything
else is closed with 3007 "Input duration violation"), ``Turn`` messages, the
``ForceEndpoint`` / ``Terminate`` / ``KeepAlive`` / ``UpdateConfiguration`` client
messages, ``Termination`` and a 1000 close at the end; failures are an ``Error`` frame
(``error_code``, ``error``) and then a close with that code. It does not police the
real-time pace of the audio (AssemblyAI closes with 3007 when audio comes faster).

It recognises no speech: audio louder than ``energy_threshold`` (RMS per 10 ms) starts
a turn; ``ForceEndpoint``, ``min_end_of_turn_silence_when_confident`` ms of silence or
``Terminate`` ends it, and its words are the next text of ``script``, revealed one word
per ``partial_every_s`` of audio (the newest word not yet final).

Switches: ``refuse`` (HTTP statuses for the handshake, consumed per connection),
``fail_with`` (an ``(error_code, error)`` sent right after accepting, instead of
``Begin``), ``begin_delay_s``, ``drop_after_s`` (audio seconds after which the
connection is cut without a close frame reason: 1011). Each connection is recorded in
``sessions``.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

__all__ = ["AssemblyAIStreamFake", "StreamingSession"]

_FRAME_S = 0.01


@dataclass
class StreamingSession:
    """One connection as the fake saw it."""

    headers: dict[str, str]
    query: dict[str, str]
    control: list[dict[str, Any]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    chunk_ms: list[float] = field(default_factory=list)  # duration of each audio message
    close_code: int | None = None  # how the fake closed it
    client_closed: asyncio.Event = field(default_factory=asyncio.Event)

    def control_types(self) -> list[str]:
        return [str(message.get("type")) for message in self.control]


class _Turns:
    """Turn detection and scripted words for one session."""

    def __init__(self, fake: AssemblyAIStreamFake, session: StreamingSession) -> None:
        self.fake = fake
        self.sample_rate = int(session.query["sample_rate"])
        self.format_turns = session.query.get("format_turns") == "true"
        silence_ms = session.query.get("min_end_of_turn_silence_when_confident", "400")
        self.end_silence_s = int(silence_ms) / 1000
        self.now = 0.0
        self.turn_order = 0
        self.start: float | None = None
        self.last_voiced = 0.0
        self.next_partial = 0.0
        self.revealed = 0
        self.leftover = b""

    def audio(self, chunk: bytes) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        data = self.leftover + chunk
        frame = 2 * int(self.sample_rate * _FRAME_S)
        whole = len(data) - len(data) % frame
        self.leftover = data[whole:]
        samples = np.frombuffer(data[:whole], dtype="<i2").astype(np.float64)
        for frame_samples in samples.reshape(-1, frame // 2):
            voiced = float(np.sqrt(np.mean(frame_samples**2))) > self.fake.energy_threshold
            if voiced and self.start is None:
                self.start, self.next_partial, self.revealed = self.now, self.now, 0
            self.now += _FRAME_S
            if voiced:
                self.last_voiced = self.now
            if self.start is None:
                continue
            if not voiced and self.now - self.last_voiced >= self.end_silence_s:
                out += self.end_turn()
            elif self.now >= self.next_partial:
                self.next_partial = self.now + self.fake.partial_every_s
                self.revealed += 1
                out.append(self._turn(end_of_turn=False))
        return out

    def end_turn(self) -> list[dict[str, Any]]:
        if self.start is None:
            return []
        self.revealed = 10**6
        out = [self._turn(end_of_turn=True)]
        if self.format_turns:
            out.append(self._turn(end_of_turn=True, formatted=True))
        self.fake.script_index += 1
        self.turn_order += 1
        self.start = None
        return out

    def _turn(self, *, end_of_turn: bool, formatted: bool = False) -> dict[str, Any]:
        script = self.fake.script
        tokens = script[self.fake.script_index % len(script)].split()
        shown = tokens[: min(len(tokens), self.revealed)]
        assert self.start is not None
        end = self.last_voiced if end_of_turn else self.now
        step = (end - self.start) / max(1, len(shown))
        words = [
            {
                "start": round(1000 * (self.start + i * step)),
                "end": round(1000 * (self.start + (i + 1) * step)),
                "text": token if formatted else re.sub(r"[^\w']", "", token).lower(),
                "confidence": 0.91,
                "word_is_final": end_of_turn or i < len(shown) - 1,
            }
            for i, token in enumerate(shown)
        ]
        final_words = [w["text"] for w in words if w["word_is_final"]]
        return {
            "turn_order": self.turn_order,
            "turn_is_formatted": formatted,
            "end_of_turn": end_of_turn,
            "transcript": " ".join(final_words),
            "end_of_turn_confidence": 0.93 if end_of_turn else 0.01,
            "words": words,
            "utterance": " ".join(final_words) if end_of_turn else "",
            "type": "Turn",
        }


class AssemblyAIStreamFake:
    """The fake's state and switches; ``app`` is the ASGI application."""

    def __init__(
        self,
        *,
        api_key: str = "aai-test-key",
        script: Sequence[str] = ("Hello there.",),
        energy_threshold: float = 300.0,
        partial_every_s: float = 0.25,
    ) -> None:
        self.api_key = api_key
        self.script = list(script)
        self.script_index = 0
        self.energy_threshold = energy_threshold
        self.partial_every_s = partial_every_s
        self.refuse: list[int] = []
        self.fail_with: tuple[int, str] | None = None
        self.begin_delay_s = 0.0
        self.garbled_begin: str | None = None  # sent as the first frame instead of Begin
        self.drop_after_s: float | None = None
        self.sessions: list[StreamingSession] = []
        self.url = ""  # where a test serves it
        self.app = Starlette(routes=[WebSocketRoute("/v3/ws", self._stream)])

    async def _stream(self, websocket: WebSocket) -> None:
        session = StreamingSession(
            headers={k.lower(): v for k, v in websocket.headers.items()},
            query=dict(websocket.query_params.items()),
        )
        self.sessions.append(session)
        if self.refuse:
            status = self.refuse.pop(0)
            body = {"error": f"refused with {status}"}
            await websocket.send_denial_response(JSONResponse(body, status))
            return
        await websocket.accept()
        failure = self.fail_with or self._invalid(session)
        if failure is not None:
            await self._fail(websocket, session, *failure)
            return
        if self.begin_delay_s:
            await asyncio.sleep(self.begin_delay_s)
        if self.garbled_begin is not None:
            await websocket.send_text(self.garbled_begin)
            await websocket.receive()  # the client's close
            session.client_closed.set()
            return
        started = time.monotonic()
        await self._send(
            websocket,
            session,
            {"type": "Begin", "id": str(uuid.uuid4()), "expires_at": int(time.time()) + 10800},
        )
        turns = _Turns(self, session)
        bytes_per_ms = 2 * turns.sample_rate / 1000
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    session.client_closed.set()
                    return
                if message.get("bytes") is not None:
                    chunk_ms = len(message["bytes"]) / bytes_per_ms
                    session.chunk_ms.append(chunk_ms)
                    if not 50 <= chunk_ms <= 1000:
                        reason = (
                            f"Input duration violation: {chunk_ms:.0f} ms. "
                            "Expected between 50 and 1000 ms"
                        )
                        await self._fail(websocket, session, 3007, reason)
                        return
                    for turn in turns.audio(message["bytes"]):
                        await self._send(websocket, session, turn)
                    if self.drop_after_s is not None and turns.now >= self.drop_after_s:
                        session.close_code = 1011
                        await websocket.close(1011)
                        return
                    continue
                control = json.loads(message.get("text") or "null")
                session.control.append(control)
                kind = control.get("type") if isinstance(control, dict) else None
                if kind == "ForceEndpoint":
                    for turn in turns.end_turn():
                        await self._send(websocket, session, turn)
                elif kind == "Terminate":
                    for turn in turns.end_turn():
                        await self._send(websocket, session, turn)
                    termination = {
                        "type": "Termination",
                        "audio_duration_seconds": round(turns.now, 2),
                        "session_duration_seconds": round(time.monotonic() - started, 2),
                    }
                    await self._send(websocket, session, termination)
                    session.close_code = 1000
                    await websocket.close(1000)
                    return
                elif kind not in ("KeepAlive", "UpdateConfiguration"):
                    await self._fail(websocket, session, 3006, f"Invalid Message Type: {kind}")
                    return
        except WebSocketDisconnect:
            session.client_closed.set()

    def _invalid(self, session: StreamingSession) -> tuple[int, str] | None:
        if session.headers.get("authorization") != self.api_key:
            return 1008, "Unauthorized Connection: Invalid API key"
        query = session.query
        if not query.get("speech_model"):
            return 3006, "Invalid query parameter: speech_model is required"
        if not query.get("sample_rate", "").isdigit():
            return 3006, "Invalid query parameter: sample_rate"
        if query.get("encoding", "pcm_s16le") not in ("pcm_s16le", "pcm_mulaw"):
            return 3006, "Invalid query parameter: encoding"
        if "keyterms_prompt" in query:
            terms = json.loads(query["keyterms_prompt"])
            if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
                return 3006, "Invalid query parameter: keyterms_prompt"
        return None

    async def _send(self, websocket: WebSocket, session: StreamingSession, message: Any) -> None:
        session.sent.append(message)
        await websocket.send_text(json.dumps(message))

    async def _fail(
        self, websocket: WebSocket, session: StreamingSession, code: int, error: str
    ) -> None:
        await self._send(websocket, session, {"type": "Error", "error_code": code, "error": error})
        session.close_code = code
        reason = error if len(error.encode()) <= 123 else "See Error message for details"
        await websocket.close(code, reason)
