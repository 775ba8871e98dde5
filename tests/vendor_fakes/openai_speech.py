"""A fake OpenAI speech endpoint (``POST /v1/audio/speech``), as OpenAI documents it.

``Authorization: Bearer <key>`` (else 401 with OpenAI's error object), a JSON body with
``model``, ``input`` (at most 4,096 characters) and ``voice`` (else 400);
``response_format: "pcm"`` streams raw 24 kHz PCM16 (a sine tone) as a chunked body.
Other formats are refused by this fake (it only speaks raw PCM).
"""

from __future__ import annotations

import json
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
    speech_seconds,
    tone,
)

__all__ = ["OpenAISpeechFake"]

SAMPLE_RATE = 24000
_MAX_INPUT = 4096


@dataclass
class OpenAISpeechFake:
    """The ASGI app (call it) plus what it received and its fault switches."""

    api_key: str = "sk-test"
    faults: Faults = field(default_factory=Faults)
    received: list[Received] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        exchange = HttpExchange(scope, receive, send, self.faults)
        self.received.append(exchange.record)
        await exchange.read_body()
        if (scope["method"], scope["path"]) != ("POST", "/v1/audio/speech"):
            await exchange.respond(404, _error("Not found", "invalid_request_error", None))
            return
        if self.faults.status is not None:
            headers = {"retry-after": self.faults.retry_after} if self.faults.retry_after else {}
            kind = "rate_limit_exceeded" if self.faults.status == 429 else "server_error"
            await exchange.respond(self.faults.status, _error("fake refusal", kind, kind), headers)
            return
        if exchange.record.headers.get("authorization") != f"Bearer {self.api_key}":
            body = _error("Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
            await exchange.respond(401, body)
            return
        try:
            request = json.loads(exchange.record.body)
        except ValueError:
            request = None
        if problem := _problem(request):
            await exchange.respond(400, _error(problem, "invalid_request_error", None))
            return
        audio = tone(SAMPLE_RATE, speech_seconds(request["input"]))
        await exchange.stream(audio_chunks(audio, SAMPLE_RATE * 2), "audio/pcm")


def _problem(request: Any) -> str | None:
    if not isinstance(request, dict):
        return "the body must be a JSON object"
    for name in ("model", "input", "voice"):
        if not request.get(name):
            return f"you must provide {name}"
    if len(request["input"]) > _MAX_INPUT:
        return f"input is longer than {_MAX_INPUT} characters"
    if request.get("response_format") != "pcm":
        return "this fake streams response_format 'pcm' only"
    speed = request.get("speed", 1.0)
    if not isinstance(speed, int | float) or not 0.25 <= speed <= 4.0:
        return "speed must be between 0.25 and 4.0"
    return None


def _error(message: str, kind: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}
