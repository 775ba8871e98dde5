"""A fake PlayHT HTTP streaming endpoint (``POST /api/v2/tts/stream``), as PlayHT
documents it.

Every request carries ``AUTHORIZATION: <api key>`` and ``X-USER-ID: <user id>`` (else
401 with PlayHT's ``{"error_message", "error_id"}``), ``accept`` an audio type and a
JSON body with ``text`` and ``voice`` (else 400); ``voice_engine``, ``output_format``
and ``sample_rate`` (8,000–48,000 Hz) are checked when present. The audio (a sine
tone) streams as the body: ``wav`` is a RIFF header with unknown sizes, as a stream
has, then PCM16 (the header split over two writes, as a network may deliver it);
``mulaw`` is raw G.711 bytes. PlayHT's other formats (mp3, ogg, flac) are refused by
this fake, which decodes none of them.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any

from tests.vendor_fakes.tts_support import (
    Faults,
    HttpExchange,
    Receive,
    Received,
    Scope,
    Send,
    audio_chunks,
    mulaw_encode,
    speech_seconds,
    tone,
)

__all__ = ["ENGINES", "USER_ID", "PlayHTFake", "wav_header"]

USER_ID = "playht-test-user"
ENGINES = ("Play3.0-mini", "PlayDialog", "PlayHT2.0-turbo", "PlayHT2.0", "Play3.0")
_FORMATS = ("mp3", "wav", "ogg", "flac", "mulaw")
_STREAMED = {"wav": "audio/wav", "mulaw": "audio/basic"}
_DEFAULT_RATE = 24000
_UNKNOWN_SIZE = 0xFFFFFFFF


def wav_header(sample_rate: int) -> bytes:
    """A streamed WAV's header: PCM16 mono at ``sample_rate``, sizes unknown."""
    fmt = struct.pack("<HHIIHH", 1, 1, sample_rate, 2 * sample_rate, 2, 16)
    return (
        b"RIFF"
        + struct.pack("<I", _UNKNOWN_SIZE)
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", _UNKNOWN_SIZE)
    )


@dataclass
class PlayHTFake:
    """The ASGI app (call it) plus what it received and its fault switches."""

    api_key: str = "playht-test-key"
    user_id: str = USER_ID
    faults: Faults = field(default_factory=Faults)
    received: list[Received] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        exchange = HttpExchange(scope, receive, send, self.faults)
        self.received.append(exchange.record)
        await exchange.read_body()
        if (scope["method"], scope["path"]) != ("POST", "/api/v2/tts/stream"):
            await exchange.respond(404, _error("Not found", "NOT_FOUND"))
            return
        if self.faults.status is not None:
            headers = {"retry-after": self.faults.retry_after} if self.faults.retry_after else {}
            await exchange.respond(self.faults.status, _error("fake refusal", "FAKE"), headers)
            return
        headers = exchange.record.headers
        if (headers.get("authorization"), headers.get("x-user-id")) != (self.api_key, self.user_id):
            await exchange.respond(401, _error("Invalid credentials", "UNAUTHORIZED"))
            return
        try:
            request = json.loads(exchange.record.body)
        except ValueError:
            request = None
        if problem := _problem(request, headers.get("accept", "")):
            await exchange.respond(400, _error(problem, "VALIDATION_ERROR"))
            return
        rate = request.get("sample_rate", _DEFAULT_RATE)
        audio = tone(rate, speech_seconds(request["text"]))
        output_format = request["output_format"]
        if output_format == "mulaw":
            chunks = audio_chunks(mulaw_encode(audio), rate)
        else:
            header, (first, *rest) = wav_header(rate), audio_chunks(audio, 2 * rate)
            chunks = [header[:30], header[30:] + first, *rest]
        await exchange.stream(chunks, _STREAMED[output_format])


def _problem(request: Any, accept: str) -> str | None:
    if not isinstance(request, dict):
        return "the body must be a JSON object"
    for name in ("text", "voice"):
        if not isinstance(request.get(name), str) or not request[name].strip():
            return f"{name} is required"
    if request.get("voice_engine", ENGINES[0]) not in ENGINES:
        return f"voice_engine must be one of {', '.join(ENGINES)}"
    output_format = request.get("output_format", "mp3")
    if output_format not in _FORMATS:
        return f"output_format must be one of {', '.join(_FORMATS)}"
    if output_format not in _STREAMED:
        return f"this fake streams wav and mulaw only, not {output_format}"
    rate = request.get("sample_rate", _DEFAULT_RATE)
    if not isinstance(rate, int) or not 8000 <= rate <= 48000:
        return "sample_rate must be an integer between 8000 and 48000"
    if not accept.startswith("audio/"):
        return f"accept must name an audio type, not {accept!r}"
    speed = request.get("speed", 1)
    if not isinstance(speed, int | float) or not 0.1 <= speed <= 5:
        return "speed must be between 0.1 and 5"
    return None


def _error(message: str, error_id: str) -> dict[str, str]:
    return {"error_message": message, "error_id": error_id}
