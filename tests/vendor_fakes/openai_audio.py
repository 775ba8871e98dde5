"""A fake of two OpenAI endpoints for contract tests: ``POST /v1/audio/transcriptions``
(multipart) and ``POST /v1/embeddings`` (JSON), as the API reference documents them.

Both check ``Authorization: Bearer <key>`` and answer errors in OpenAI's shape
(``{"error": {"message", "type", "param", "code"}}``). Transcriptions: ``file`` must
be audio the fake can read (WAV here) of at least 0.1 s, ``model`` one of the
transcription models (``gpt-4o*`` only with ``response_format`` json or text),
``language`` ISO-639-1; the text is the next of ``script``. Embeddings: at most 2,048
non-empty inputs, ``dimensions`` only on text-embedding-3 models, ``encoding_format``
float or base64 (float32 little-endian, which the SDK asks for by default); vectors
are deterministic per text and unit length, as OpenAI's are (``scale`` breaks that on
purpose).

Switches: ``fault`` ("auth", "rate", "server", "disconnect": the body is cut short),
``faults_left`` (how many requests the fault applies to; None: all), ``delay_s``
before answering, and ``retry_after`` on 429s. Every request is in ``received``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import wave
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

__all__ = ["EMBEDDING_DIMENSIONS", "OpenAIAudioFake", "Received", "fake_embedding"]

TRANSCRIPTION_MODELS = ("whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe")
EMBEDDING_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}


def fake_embedding(text: str, dimensions: int) -> np.ndarray:
    """The fake's unit vector for ``text`` (what a test compares against)."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    vector = np.random.default_rng(seed).standard_normal(dimensions)
    return vector / np.linalg.norm(vector)


@dataclass
class Received:
    """One request as the fake saw it."""

    path: str
    headers: dict[str, str]
    fields: dict[str, Any] = field(default_factory=dict)  # form fields or JSON body
    audio: bytes = b""  # the uploaded file's PCM (transcriptions)
    sample_rate: int = 0


class _CutShort(Response):
    """A response that promises more body than it sends: the client sees the
    connection close mid-response."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"400")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"text": "half', "more_body": True})


_BAD_KEY = (
    "Incorrect API key provided: sk-***. You can find your API key at "
    "https://platform.openai.com/account/api-keys."
)
_BAD_INPUT = (
    "'$.input' is invalid. Please check the API reference: "
    "https://platform.openai.com/docs/api-reference."
)
_BAD_FILE = (
    "Invalid file format. Supported formats: ['flac', 'm4a', 'mp3', 'mp4', 'mpeg', "
    "'mpga', 'oga', 'ogg', 'wav', 'webm']"
)
_INVALID = "invalid_request_error"


def _error(
    status: int,
    message: str,
    kind: str = _INVALID,
    code: str | None = None,
    param: str | None = None,
) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(body, status)


class OpenAIAudioFake:
    """The fake's state and switches; ``app`` is the ASGI application."""

    def __init__(self, *, api_key: str = "sk-test-key", script: tuple[str, ...] = ("Hello.",)):
        self.api_key = api_key
        self.script = list(script)
        self.script_index = 0
        self.fault: str | None = None
        self.faults_left: int | None = None
        self.delay_s = 0.0
        self.retry_after = "7"
        self.scale = 1.0
        self.received: list[Received] = []
        self.url = ""  # where a test serves it
        self.app = Starlette(
            routes=[
                Route("/v1/audio/transcriptions", self._transcriptions, methods=["POST"]),
                Route("/v1/embeddings", self._embeddings, methods=["POST"]),
            ]
        )

    async def _refusal(self, request: Request) -> Response | None:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        fault = self.fault
        if fault is not None and self.faults_left is not None:
            fault = fault if self.faults_left > 0 else None
            self.faults_left = max(0, self.faults_left - 1)
        if fault == "auth" or request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, _BAD_KEY, code="invalid_api_key")
        if fault == "rate":
            response = _error(
                429, "Rate limit reached for requests", "requests", "rate_limit_exceeded"
            )
            response.headers["retry-after"] = self.retry_after
            return response
        if fault == "server":
            message = "The server had an error while processing your request."
            return _error(500, message, "server_error")
        if fault == "disconnect":
            return _CutShort()
        return None

    async def _transcriptions(self, request: Request) -> Response:
        async with request.form() as form:
            fields = {k: v for k, v in form.multi_items() if not isinstance(v, UploadFile)}
            upload = form.get("file")
            content = await upload.read() if isinstance(upload, UploadFile) else None
        record = Received(request.url.path, dict(request.headers), fields)
        self.received.append(record)
        if (refusal := await self._refusal(request)) is not None:
            return refusal
        if content is None:
            return _error(400, "you must provide a file", param="file")
        try:
            with wave.open(io.BytesIO(content)) as wav:
                if (wav.getnchannels(), wav.getsampwidth()) != (1, 2):
                    raise wave.Error("not 16-bit mono")
                record.sample_rate = wav.getframerate()
                record.audio = wav.readframes(wav.getnframes())
        except (wave.Error, EOFError):
            return _error(400, _BAD_FILE, param="file")
        duration_s = len(record.audio) / 2 / record.sample_rate
        model, response_format = fields.get("model"), fields.get("response_format", "json")
        if model not in TRANSCRIPTION_MODELS:
            return _error(400, f"Invalid model {model}.", code="model_not_found", param="model")
        if model != "whisper-1" and response_format not in ("json", "text"):
            message = f"response_format '{response_format}' is not compatible with model '{model}'."
            return _error(400, message, code="unsupported_value", param="response_format")
        language = fields.get("language")
        if language is not None and not (len(language) == 2 and language.isalpha()):
            message = f"Invalid language '{language}'. Language parameter must be in ISO-639-1."
            return _error(400, message, code="invalid_language_format", param="language")
        if duration_s < 0.1:
            message = "Audio file is too short. Minimum audio length is 0.1 seconds."
            return _error(400, message, code="audio_too_short", param="file")
        text = self.script[self.script_index % len(self.script)]
        self.script_index += 1
        if model == "whisper-1":
            usage: dict[str, Any] = {"type": "duration", "seconds": round(duration_s)}
        else:
            audio_tokens = int(duration_s * 10)
            usage = {
                "type": "tokens",
                "input_tokens": audio_tokens,
                "input_token_details": {"text_tokens": 0, "audio_tokens": audio_tokens},
                "output_tokens": len(text.split()),
                "total_tokens": audio_tokens + len(text.split()),
            }
        return JSONResponse({"text": text, "usage": usage})

    async def _embeddings(self, request: Request) -> Response:
        body = await request.json()
        self.received.append(Received(request.url.path, dict(request.headers), body))
        if (refusal := await self._refusal(request)) is not None:
            return refusal
        model = body.get("model")
        if model not in EMBEDDING_DIMENSIONS:
            message = f"The model `{model}` does not exist or you do not have access to it."
            return _error(404, message, code="model_not_found")
        inputs = body.get("input")
        inputs = [inputs] if isinstance(inputs, str) else inputs
        if not isinstance(inputs, list) or not 0 < len(inputs) <= 2048:
            return _error(400, _BAD_INPUT)
        if any(not isinstance(text, str) or not text for text in inputs):
            return _error(400, _BAD_INPUT)
        dimensions = body.get("dimensions", EMBEDDING_DIMENSIONS[model])
        native = EMBEDDING_DIMENSIONS[model]
        if "dimensions" in body and not (
            model.startswith("text-embedding-3") and 0 < dimensions <= native
        ):
            message = "This model does not support specifying dimensions."
            return _error(400, message, param="dimensions")
        encoding = body.get("encoding_format", "float")
        data = []
        for index, text in enumerate(inputs):
            # A shortened text-embedding-3 vector is the full one truncated and renormalised.
            vector = fake_embedding(text, EMBEDDING_DIMENSIONS[model])[:dimensions]
            vector = self.scale * vector / np.linalg.norm(vector)
            payload: Any = (
                base64.b64encode(vector.astype("<f4").tobytes()).decode()
                if encoding == "base64"
                else vector.astype(np.float32).tolist()
            )
            data.append({"object": "embedding", "index": index, "embedding": payload})
        tokens = sum(len(text.split()) for text in inputs)
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )
