"""A fake Cartesia TTS WebSocket (``/tts/websocket``), as Cartesia documents it.

Authentication: the ``X-API-Key`` header (or ``Authorization: Bearer``, or the
``api_key``/``access_token`` query parameter) and an API version in ``Cartesia-Version``
or ``cartesia_version``; without them the handshake is refused (401 / 400). Each
generation request — ``{"model_id", "transcript", "voice": {"mode": "id", "id"},
"output_format": {"container": "raw", "encoding", "sample_rate"}, "context_id", ...}``
— is answered with ``{"type": "chunk", "data": <base64>, "done": false, "status_code":
206, "step_time", "context_id"}`` messages and ``{"type": "done", "done": true, ...}``;
a bad request with ``{"type": "error", "done": true, "status_code": 400, "title",
"message", "error_code", "context_id"}``. ``{"context_id", "cancel": true}`` stops a
context. The connection stays open for further requests until the client closes it.
``in_band_error`` makes every request fail in-band with that status.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from tests.vendor_fakes.tts_support import (
    Faults,
    Receive,
    Received,
    Scope,
    Send,
    WebSocketPeer,
    audio_chunks,
    mulaw_encode,
    speech_seconds,
    tone,
)

__all__ = ["SAMPLE_RATES", "CartesiaFake"]

SAMPLE_RATES = (8000, 16000, 22050, 24000, 44100, 48000)
_ENCODINGS = ("pcm_s16le", "pcm_mulaw")


@dataclass
class CartesiaFake:
    """The ASGI app (call it) plus what it received and its fault switches."""

    api_key: str = "sk_car_test"
    faults: Faults = field(default_factory=Faults)
    in_band_error: int | None = None
    received: list[Received] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            return
        record = Received.from_scope(scope)
        self.received.append(record)
        await receive()  # websocket.connect
        if scope["path"] != "/tts/websocket":
            await WebSocketPeer.refuse(send, 404, {"error": "not found"}, {})
            return
        if self.faults.status is not None:
            headers = {"retry-after": self.faults.retry_after} if self.faults.retry_after else {}
            await WebSocketPeer.refuse(send, self.faults.status, {"error": "fake refusal"}, headers)
            return
        bearer = record.headers.get("authorization", "").removeprefix("Bearer ")
        keys = {record.headers.get("x-api-key"), bearer, *_query_keys(record)}
        if self.api_key not in keys:
            await WebSocketPeer.refuse(send, 401, {"error": "Invalid API key"}, {})
            return
        if not (record.headers.get("cartesia-version") or record.query.get("cartesia_version")):
            await WebSocketPeer.refuse(send, 400, {"error": "Cartesia-Version is required"}, {})
            return
        await WebSocketPeer(receive, send, record, self.faults).run(self._serve)

    async def _serve(self, peer: WebSocketPeer) -> None:
        while (request := await peer.next_message()) is not None:
            if isinstance(request, dict) and request.get("cancel"):
                continue  # nothing is generating between requests
            if not await self._generate(peer, request):
                return

    async def _generate(self, peer: WebSocketPeer, request: Any) -> bool:
        context_id = request.get("context_id") if isinstance(request, dict) else None
        if self.in_band_error is not None:
            return await _error(peer, context_id, self.in_band_error, "fake in-band error")
        if problem := _problem(request):
            return await _error(peer, context_id, 400, problem)
        output = request["output_format"]
        rate, mulaw = output["sample_rate"], output["encoding"] == "pcm_mulaw"
        audio = tone(rate, speech_seconds(request["transcript"]))
        if mulaw:
            audio = mulaw_encode(audio)
        chunks = audio_chunks(audio, rate * (1 if mulaw else 2))

        async def send_chunk(chunk: bytes) -> bool:
            return await peer.send_json(
                {
                    "type": "chunk",
                    "data": base64.b64encode(chunk).decode(),
                    "done": False,
                    "status_code": 206,
                    "step_time": 12.5,
                    "context_id": context_id,
                }
            )

        await peer.stream(chunks, send_chunk)
        if not peer.record.finished:
            return False
        done = {"type": "done", "done": True, "status_code": 206, "context_id": context_id}
        return await peer.send_json(done)


def _query_keys(record: Received) -> list[str | None]:
    return [record.query.get("api_key"), record.query.get("access_token")]


def _problem(request: Any) -> str | None:
    """What is wrong with a generation request, if anything."""
    if not isinstance(request, dict):
        return "requests are JSON objects"
    for name in ("model_id", "transcript", "voice", "output_format", "context_id"):
        if name not in request:
            return f"{name} is required"
    voice, output = request["voice"], request["output_format"]
    if not isinstance(voice, dict) or voice.get("mode") != "id" or not voice.get("id"):
        return "voice must be {'mode': 'id', 'id': ...}"
    if not isinstance(output, dict) or output.get("container") != "raw":
        return "this fake streams the raw container only"
    if output.get("encoding") not in _ENCODINGS or output.get("sample_rate") not in SAMPLE_RATES:
        return f"unsupported output format {output!r}"
    if not isinstance(request["transcript"], str) or not request["transcript"].strip():
        return "transcript must be non-empty text"
    return None


async def _error(peer: WebSocketPeer, context_id: Any, status: int, message: str) -> bool:
    await peer.send_json(
        {
            "type": "error",
            "done": True,
            "status_code": status,
            "title": "Invalid request" if status == 400 else "Error",
            "message": message,
            "error_code": "invalid_request" if status == 400 else "fake_error",
            "context_id": context_id,
        }
    )
    return True
