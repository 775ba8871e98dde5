"""Cartesia text-to-speech over its WebSocket (``/tts/websocket``).

One connection per sentence, one generation request on it::

    {"model_id": "sonic-2", "transcript": "...", "voice": {"mode": "id", "id": "..."},
     "output_format": {"container": "raw", "encoding": "pcm_s16le", "sample_rate": 16000},
     "context_id": "...", "continue": false, "language": "en"}

Cartesia answers ``{"type": "chunk", "data": <base64 PCM>}`` messages, then
``{"type": "done"}``; a failure is ``{"type": "error", "status_code", "title",
"message"}``. Cartesia renders raw PCM16 at the transport's rate directly, so nothing
is resampled. The key goes in the ``X-API-Key`` header and the API version in
``Cartesia-Version`` (both documented for server-side WebSocket clients).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncGenerator
from typing import Any

from websockets.asyncio.client import ClientConnection

from callwright.providers.catalog import Connection
from callwright.providers.common import (
    FIRST_BYTE_TIMEOUT_S,
    error_for_status,
    json_object,
    open_websocket,
)
from callwright.providers.errors import ProviderRequestError
from callwright.providers.protocols import TTSOptions
from callwright.providers.tts.streaming import (
    Pcm16Aligner,
    WarnOnce,
    b64_audio,
    passthrough,
    vendor_url,
    within_deadlines,
)
from callwright.security.outbound import OutboundPolicy

__all__ = [
    "CARTESIA_VERSION",
    "DEFAULT_CARTESIA_BASE_URL",
    "DEFAULT_CARTESIA_MODEL",
    "DEFAULT_CARTESIA_VOICE",
    "CartesiaTTS",
    "create",
]

logger = logging.getLogger(__name__)

DEFAULT_CARTESIA_BASE_URL = "wss://api.cartesia.ai"
DEFAULT_CARTESIA_MODEL = "sonic-2"
DEFAULT_CARTESIA_VOICE = "f786b574-daa5-4673-aa0c-cbe3e8534c02"
CARTESIA_VERSION = "2025-04-16"
_PROVIDER = "cartesia"
_SAMPLE_RATES = (8000, 16000, 22050, 24000, 44100, 48000)
# Request fields callwright owns; provider_config may not replace them.
_OWN_FIELDS = frozenset({"transcript", "output_format", "context_id", "continue"})


class CartesiaTTS:
    """Cartesia (Sonic) voice. ``options.voice_id`` is a Cartesia voice id (a UUID);
    anything else (an ElevenLabs name such as "rachel") falls back to
    ``DEFAULT_CARTESIA_VOICE`` with a warning. ``model_id`` defaults to ``sonic-2``;
    ``language`` is sent as its ISO 639-1 code. ``options.extra`` (provider_config) is
    merged into the request (``generation_config``, ``voice`` controls, ...), except
    ``cartesia_version``, which picks the API version (default ``CARTESIA_VERSION``).
    ``sample_rate``: 8,000, 16,000, 22,050, 24,000, 44,100 or 48,000 Hz."""

    name = "cartesia"

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        sample_rate: int = 16000,
        first_byte_timeout_s: float = FIRST_BYTE_TIMEOUT_S,
        outbound: OutboundPolicy | None = None,
    ) -> None:
        if sample_rate not in _SAMPLE_RATES:
            rates = ", ".join(map(str, _SAMPLE_RATES))
            raise ValueError(f"Cartesia streams {rates} Hz audio, not {sample_rate} Hz")
        self.sample_rate = sample_rate
        self._api_key = api_key
        self._outbound = outbound
        self._url = vendor_url(
            base_url or DEFAULT_CARTESIA_BASE_URL, "/tts/websocket", websocket=True
        )
        self._first_byte_timeout_s = first_byte_timeout_s
        self._warn = WarnOnce(logger)

    async def synthesize(self, text: str, options: TTSOptions) -> AsyncGenerator[bytes, None]:
        if not text.strip():
            return
        request, version = self._request(text.strip(), options)
        headers = {"X-API-Key": self._api_key, "Cartesia-Version": version}
        async with open_websocket(
            _PROVIDER, self._url, headers, outbound=self._outbound
        ) as websocket:
            await websocket.send(json.dumps(request))
            audio = within_deadlines(
                _PROVIDER,
                self._audio(websocket, request["context_id"]),
                self._first_byte_timeout_s,
            )
            try:
                async for chunk in audio:
                    yield chunk
            finally:
                await audio.aclose()

    def _request(self, transcript: str, options: TTSOptions) -> tuple[dict[str, Any], str]:
        extra = passthrough(options.extra)
        version = str(extra.pop("cartesia_version", CARTESIA_VERSION))
        request: dict[str, Any] = {
            "model_id": options.model_id or DEFAULT_CARTESIA_MODEL,
            "voice": {"mode": "id", "id": self._voice(options.voice_id)},
        }
        if options.language:
            request["language"] = options.language.split("-")[0].lower()
        for key, value in extra.items():
            if key in _OWN_FIELDS:
                self._warn(f"Cartesia provider_config.{key} is set by callwright; ignored")
            elif key == "voice":
                if not isinstance(value, dict):
                    raise ProviderRequestError(_PROVIDER, "provider_config.voice must be an object")
                request["voice"] = {**request["voice"], **value}
            else:
                request[key] = value
        request["transcript"] = transcript
        request["output_format"] = {
            "container": "raw",
            "encoding": "pcm_s16le",
            "sample_rate": self.sample_rate,
        }
        request["context_id"] = uuid.uuid4().hex
        request["continue"] = False  # a whole sentence: nothing will continue it
        return request, version

    def _voice(self, voice_id: str | None) -> str:
        if voice_id is None:
            return DEFAULT_CARTESIA_VOICE
        try:
            uuid.UUID(voice_id)
        except ValueError:
            self._warn(
                f"Cartesia voices are ids (UUIDs); {voice_id!r} is not one, "
                f"using {DEFAULT_CARTESIA_VOICE}"
            )
            return DEFAULT_CARTESIA_VOICE
        return voice_id

    async def _audio(
        self, websocket: ClientConnection, context_id: str
    ) -> AsyncGenerator[bytes, None]:
        align = Pcm16Aligner()
        async for frame in websocket:
            message = json_object(_PROVIDER, frame)
            kind = message.get("type")
            if message.get("context_id", context_id) != context_id:
                continue  # not ours (cannot happen on a connection of our own)
            if kind == "error":
                detail = ": ".join(
                    str(message[key]) for key in ("title", "message") if message.get(key)
                )
                status = message.get("status_code")
                raise error_for_status(
                    _PROVIDER, status if isinstance(status, int) else 500, detail
                )
            data = message.get("data") if kind == "chunk" else None
            if data and (pcm := align.push(b64_audio(_PROVIDER, data))):
                yield pcm
            if kind == "done" or message.get("done") is True:
                return


def create(c: Connection) -> CartesiaTTS:
    """The catalog's factory (``ValueError`` for a rate Cartesia does not stream)."""
    return CartesiaTTS(
        c.api_key, base_url=c.base_url, sample_rate=c.sample_rate, outbound=c.outbound
    )
