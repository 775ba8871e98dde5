"""A fake Deepgram streaming text-to-speech WebSocket (``/v1/speak``), as Deepgram
documents it.

The handshake needs ``Authorization: Token <key>`` (else 401, with a ``dg-error``
header) and valid ``model``/``encoding``/``sample_rate`` query parameters (else 400).
After ``Metadata``, the client sends ``{"type": "Speak", "text"}``; ``{"type": "Flush"}``
turns the buffered text into binary audio frames (linear16 or mulaw of a sine tone)
followed by ``{"type": "Flushed", "sequence_id"}``; ``{"type": "Clear"}`` empties the
buffer (``Cleared``); ``{"type": "Close"}`` ends the session with close code 1000.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

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

__all__ = ["SAMPLE_RATES", "DeepgramSpeakFake"]

# encoding -> the sample rates Deepgram accepts for it
SAMPLE_RATES = {"linear16": (8000, 16000, 24000, 32000, 48000), "mulaw": (8000, 16000)}
_DEFAULTS = {"model": "aura-asteria-en", "encoding": "linear16", "sample_rate": "24000"}


@dataclass
class DeepgramSpeakFake:
    """The ASGI app (call it) plus what it received and its fault switches."""

    api_key: str = "dg-test-key"
    faults: Faults = field(default_factory=Faults)
    received: list[Received] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            return
        record = Received.from_scope(scope)
        self.received.append(record)
        await receive()  # websocket.connect
        if scope["path"] != "/v1/speak":
            await WebSocketPeer.refuse(send, 404, {"err_msg": "not found"}, {})
            return
        if self.faults.status is not None:
            headers = {"retry-after": self.faults.retry_after} if self.faults.retry_after else {}
            await WebSocketPeer.refuse(send, self.faults.status, _error("FAKE"), headers)
            return
        if record.headers.get("authorization") != f"Token {self.api_key}":
            body = _error("INVALID_AUTH", "Invalid credentials.")
            await WebSocketPeer.refuse(send, 401, body, {"dg-error": "Invalid credentials."})
            return
        if problem := _problem(record.query):
            await WebSocketPeer.refuse(send, 400, _error("Bad Request", problem), {})
            return
        await WebSocketPeer(receive, send, record, self.faults).run(self._serve)

    async def _serve(self, peer: WebSocketPeer) -> None:
        query = {**_DEFAULTS, **peer.record.query}
        model = query["model"]
        await peer.send_json(
            {
                "type": "Metadata",
                "request_id": str(uuid.uuid4()),
                "model_name": model,
                "model_version": "2025-04-07.0",
                "model_uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, model)),
            }
        )
        rate, mulaw = int(query["sample_rate"]), query["encoding"] == "mulaw"
        buffered, sequence = "", 0
        while (message := await peer.next_message()) is not None:
            kind = message.get("type") if isinstance(message, dict) else None
            if kind == "Speak" and isinstance(message.get("text"), str):
                buffered += message["text"]
            elif kind == "Flush":
                audio = tone(rate, speech_seconds(buffered))
                buffered = ""
                if mulaw:
                    audio = mulaw_encode(audio)
                await peer.stream(audio_chunks(audio, rate * (1 if mulaw else 2)), peer.send_bytes)
                if not peer.record.finished:
                    return
                await peer.send_json({"type": "Flushed", "sequence_id": sequence})
                sequence += 1
            elif kind == "Clear":
                buffered = ""
                await peer.send_json({"type": "Cleared", "sequence_id": sequence})
            elif kind == "Close":
                await peer.close(1000)
                return
            else:
                await peer.send_json(
                    {"type": "Warning", "description": f"unknown message {message!r}", "code": "W"}
                )


def _problem(query: dict[str, str]) -> str | None:
    query = {**_DEFAULTS, **query}
    encoding = query["encoding"]
    if not query["model"].startswith("aura-"):
        return f"unknown model {query['model']!r}"
    if encoding not in SAMPLE_RATES:
        return f"unsupported encoding {encoding!r}"
    if not query["sample_rate"].isdigit():
        return "sample_rate must be a number"
    if int(query["sample_rate"]) not in SAMPLE_RATES[encoding]:
        return f"{encoding} does not come at {query['sample_rate']} Hz"
    return None


def _error(category: str, message: str = "fake refusal") -> dict[str, str]:
    return {"err_code": category, "err_msg": message, "request_id": str(uuid.uuid4())}
