"""OpenAI text-to-speech: ``POST {base_url}/audio/speech``, streamed.

``{"model", "input", "voice", "response_format": "pcm"}`` answers with raw PCM16 mono
at 24 kHz as a chunked body, read as it arrives (``stream_http``). ``base_url``
(default ``https://api.openai.com/v1``, the SDK's convention) also points it at an
OpenAI-compatible speech server; there any voice name is passed through, since such
servers have voices of their own.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator
from typing import Any
from urllib.parse import urlsplit

import httpx

from callwright.providers.catalog import Connection
from callwright.providers.common import FIRST_BYTE_TIMEOUT_S, http_client
from callwright.providers.protocols import TTSOptions
from callwright.providers.tts.streaming import WarnOnce, passthrough, stream_http, vendor_url
from callwright.security.outbound import OutboundPolicy

__all__ = [
    "DEFAULT_OPENAI_BASE_URL",
    "DEFAULT_OPENAI_SPEECH_MODEL",
    "DEFAULT_OPENAI_VOICE",
    "OPENAI_VOICES",
    "OpenAISpeechTTS",
    "create",
]

logger = logging.getLogger(__name__)

DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"
DEFAULT_OPENAI_SPEECH_MODEL = "tts-1"
DEFAULT_OPENAI_VOICE = "alloy"
OPENAI_VOICES = frozenset(
    {
        "alloy",
        "ash",
        "ballad",
        "cedar",
        "coral",
        "echo",
        "fable",
        "marin",
        "nova",
        "onyx",
        "sage",
        "shimmer",
        "verse",
    }
)
_PROVIDER = "openai"
_OPENAI_HOST = "api.openai.com"
# Request fields callwright owns; provider_config may not replace them.
_OWN_FIELDS = frozenset({"input", "response_format", "stream_format"})


class OpenAISpeechTTS:
    """OpenAI speech voice (``tts-1``, ``tts-1-hd``, ``gpt-4o-mini-tts``), always 24 kHz.
    ``options.voice_id`` is one of ``OPENAI_VOICES``; others fall back to ``alloy``
    with a warning when ``strict_voices`` (by default: when talking to OpenAI itself;
    another OpenAI-compatible server gets any voice name). ``model_id`` defaults to
    ``tts-1``. ``options.extra`` (provider_config) is merged into the request body:
    ``speed`` (0.25–4), ``instructions`` (gpt-4o-mini-tts), ... Call ``aclose()`` to
    release the connection pool."""

    name = "openai"
    sample_rate = 24000  # what response_format "pcm" is

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        first_byte_timeout_s: float = FIRST_BYTE_TIMEOUT_S,
        strict_voices: bool | None = None,
        outbound: OutboundPolicy | None = None,
    ) -> None:
        self._api_key = api_key
        self._outbound = outbound
        self._base_url = (base_url or DEFAULT_OPENAI_BASE_URL).rstrip("/")
        vendor_url(self._base_url)  # refuse a malformed URL now
        if strict_voices is None:
            strict_voices = urlsplit(self._base_url).hostname == _OPENAI_HOST
        self.strict_voices = strict_voices
        self._first_byte_timeout_s = first_byte_timeout_s
        self._client: httpx.AsyncClient | None = None
        self._warn = WarnOnce(logger)

    async def synthesize(self, text: str, options: TTSOptions) -> AsyncGenerator[bytes, None]:
        if not text.strip():
            return
        if self._client is None:
            self._client = http_client(
                self._base_url + "/",
                {"Authorization": f"Bearer {self._api_key}"},
                read_timeout_s=self._first_byte_timeout_s,
                outbound=self._outbound,
            )
        body = json.dumps(self._body(text.strip(), options))
        audio = stream_http(
            _PROVIDER,
            self._client,
            "audio/speech",
            content=body,
            headers={"Content-Type": "application/json"},
            first_s=self._first_byte_timeout_s,
        )
        try:
            async for chunk in audio:
                yield chunk
        finally:
            await audio.aclose()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _body(self, text: str, options: TTSOptions) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": options.model_id or DEFAULT_OPENAI_SPEECH_MODEL,
            "voice": self._voice(options.voice_id),
        }
        for key, value in passthrough(options.extra).items():
            if key in _OWN_FIELDS:
                self._warn(f"OpenAI speech provider_config.{key} is set by callwright; ignored")
            else:
                body[key] = value
        body["input"] = text
        body["response_format"] = "pcm"  # raw 24 kHz PCM16, nothing to decode
        return body

    def _voice(self, voice_id: str | None) -> str:
        if not voice_id:
            return DEFAULT_OPENAI_VOICE
        if not self.strict_voices:
            return voice_id
        if voice_id.lower() in OPENAI_VOICES:
            return voice_id.lower()
        self._warn(f"OpenAI has no voice {voice_id!r}; using {DEFAULT_OPENAI_VOICE}")
        return DEFAULT_OPENAI_VOICE


def create(c: Connection) -> OpenAISpeechTTS:
    """The catalog's factory (always 24 kHz)."""
    return OpenAISpeechTTS(c.api_key, base_url=c.base_url, outbound=c.outbound)
