"""PlayHT text-to-speech over its HTTP streaming endpoint (``POST /api/v2/tts/stream``).

PlayHT authenticates every request with two headers: ``AUTHORIZATION`` (the API key,
as it is) and ``X-USER-ID`` (the account's user id), so its catalog entry asks for a
``user_id`` beside the key, from the same place. The JSON body names the ``text``, the
``voice`` (a voice manifest URL), the ``voice_engine`` (``tts_settings.model_id``,
default ``Play3.0-mini``), the ``output_format`` and the ``sample_rate``; the audio
comes back as the response body while it is generated.

The format matches the transport so the engine never resamples: ``mulaw`` at 8 kHz for
a phone line (raw G.711 bytes, decoded here to PCM16), else ``wav`` at the rate asked
for, whose RIFF header is read and checked (PCM16 mono at that rate) before the samples
that follow it stream on. ``provider_config`` (``options.extra``) is merged into the
body (``speed``, ``quality``, ``seed``, ``temperature``, ``language``, ...), except the
values callwright sets and the credential's own.
"""

from __future__ import annotations

import json
import logging
import struct
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import httpx

from callwright.audio.codec import mulaw_decode
from callwright.providers.catalog import Connection
from callwright.providers.common import FIRST_BYTE_TIMEOUT_S, http_client
from callwright.providers.errors import ProviderUnavailable
from callwright.providers.protocols import TTSOptions
from callwright.providers.tts.streaming import (
    Pcm16Aligner,
    WarnOnce,
    passthrough,
    stream_http,
    vendor_url,
)
from callwright.security.outbound import OutboundPolicy

__all__ = [
    "DEFAULT_PLAYHT_BASE_URL",
    "DEFAULT_PLAYHT_ENGINE",
    "DEFAULT_PLAYHT_VOICE",
    "PlayHTTTS",
    "create",
]

logger = logging.getLogger(__name__)

DEFAULT_PLAYHT_BASE_URL = "https://api.play.ht"
DEFAULT_PLAYHT_ENGINE = "Play3.0-mini"
# PlayHT's documented stock voice ("Jennifer").
DEFAULT_PLAYHT_VOICE = (
    "s3://voice-cloning-zero-shot/d9ff78ba-d016-47f6-b0ef-dd630f59414e/female-cs/manifest.json"
)
_PROVIDER = "playht"
_PATH = "api/v2/tts/stream"
_RATES = (8000, 16000, 22050, 24000, 44100, 48000)
# Body fields callwright sets itself; provider_config cannot change them.
_OWN_FIELDS = frozenset({"text", "voice", "voice_engine", "output_format", "sample_rate"})
# The credential's identity travels in a header, never in the body.
_IDENTITY_FIELDS = frozenset({"user_id"})
_VOICE_SCHEMES = ("s3://", "https://", "http://")


class PlayHTTTS:
    """PlayHT voice. ``options.voice_id`` is a voice manifest URL (``s3://...``); a
    name that is not one (e.g. the seeds' default "rachel") is replaced by PlayHT's
    stock voice, once warned. One HTTP client per adapter, closed by ``aclose``."""

    name = _PROVIDER

    def __init__(
        self,
        api_key: str,
        *,
        user_id: str,
        base_url: str | None = None,
        sample_rate: int = 16000,
        first_byte_timeout_s: float = FIRST_BYTE_TIMEOUT_S,
        outbound: OutboundPolicy | None = None,
    ) -> None:
        if sample_rate not in _RATES:
            rates = ", ".join(map(str, _RATES))
            raise ValueError(f"PlayHT streams {rates} Hz audio, not {sample_rate} Hz")
        if not api_key or not user_id:
            raise ValueError("PlayHT needs an API key and a user id")
        self.sample_rate = sample_rate
        self._headers = {"AUTHORIZATION": api_key, "X-USER-ID": user_id}
        self._base_url = (base_url or DEFAULT_PLAYHT_BASE_URL).rstrip("/")
        vendor_url(self._base_url)  # refuse a malformed URL now
        self._first_byte_timeout_s = first_byte_timeout_s
        self._outbound = outbound
        self._client: httpx.AsyncClient | None = None
        self._warn = WarnOnce(logger)

    @property
    def _mulaw(self) -> bool:
        return self.sample_rate == 8000

    async def synthesize(self, text: str, options: TTSOptions) -> AsyncGenerator[bytes, None]:
        if not text.strip():
            return
        if self._client is None:
            self._client = http_client(
                self._base_url + "/",
                self._headers,
                read_timeout_s=self._first_byte_timeout_s,
                outbound=self._outbound,
            )
        body = stream_http(
            _PROVIDER,
            self._client,
            _PATH,
            content=json.dumps(self._body(text.strip(), options)),
            headers={
                "accept": "audio/basic" if self._mulaw else "audio/wav",
                "content-type": "application/json",
            },
            first_s=self._first_byte_timeout_s,
            sample_bytes=1,  # a WAV header comes first; samples are aligned after it
        )
        audio = _mulaw_samples(body) if self._mulaw else _wav_samples(body, self.sample_rate)
        try:
            async for chunk in audio:
                yield chunk
        finally:
            await audio.aclose()
            await body.aclose()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _body(self, text: str, options: TTSOptions) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for key, value in passthrough(options.extra).items():
            if key in _OWN_FIELDS:
                self._warn(f"PlayHT provider_config.{key} is set by callwright; ignored")
            elif key not in _IDENTITY_FIELDS:
                body[key] = value
        body |= {
            "text": text,
            "voice": self._voice(options.voice_id),
            "voice_engine": options.model_id or DEFAULT_PLAYHT_ENGINE,
            "output_format": "mulaw" if self._mulaw else "wav",
            "sample_rate": self.sample_rate,
        }
        return body

    def _voice(self, voice_id: str | None) -> str:
        if not voice_id:
            return DEFAULT_PLAYHT_VOICE
        if voice_id.startswith(_VOICE_SCHEMES):
            return voice_id
        self._warn(f"{voice_id!r} is not a PlayHT voice manifest URL; using PlayHT's stock voice")
        return DEFAULT_PLAYHT_VOICE


async def _mulaw_samples(body: AsyncIterator[bytes]) -> AsyncGenerator[bytes, None]:
    async for chunk in body:
        yield mulaw_decode(chunk)


async def _wav_samples(body: AsyncIterator[bytes], sample_rate: int) -> AsyncGenerator[bytes, None]:
    """The PCM16 samples of a streamed WAV: its header is read across chunks (a
    streamed WAV's sizes may be unknown, so the ``data`` chunk runs to the end)."""
    header, align = bytearray(), Pcm16Aligner()
    in_data = False
    async for chunk in body:
        if in_data:
            if samples := align.push(chunk):
                yield samples
            continue
        header += chunk
        start = _data_start(bytes(header), sample_rate)
        if start is not None:
            in_data = True
            if samples := align.push(bytes(header[start:])):
                yield samples
    if not in_data and header:
        raise ProviderUnavailable(_PROVIDER, "sent a WAV stream that ended inside its header")


def _data_start(header: bytes, sample_rate: int) -> int | None:
    """Where the samples begin once ``header`` holds the whole RIFF header (None: not
    yet); refuses audio that is not PCM16 mono at ``sample_rate``."""
    if len(header) < 12:
        return None
    if header[:4] != b"RIFF" or header[8:12] != b"WAVE":
        raise ProviderUnavailable(_PROVIDER, "sent audio that is not a WAV stream")
    position, checked = 12, False
    while len(header) >= position + 8:
        chunk_id = header[position : position + 4]
        (size,) = struct.unpack_from("<I", header, position + 4)
        if chunk_id == b"data":
            if not checked:
                raise ProviderUnavailable(_PROVIDER, "sent WAV samples before their format")
            return position + 8
        if chunk_id == b"fmt ":
            if len(header) < position + 24:
                return None
            encoding, channels, rate = struct.unpack_from("<HHI", header, position + 8)
            bits = struct.unpack_from("<H", header, position + 22)[0]
            if (encoding, channels, rate, bits) != (1, 1, sample_rate, 16):
                raise ProviderUnavailable(
                    _PROVIDER,
                    f"sent {bits}-bit, {channels}-channel audio at {rate} Hz (format {encoding}), "
                    f"not 16-bit mono PCM at {sample_rate} Hz",
                )
            checked = True
        position += 8 + size + size % 2  # chunks are padded to an even length
    return None


def create(c: Connection) -> PlayHTTTS:
    """The catalog's factory (``ValueError`` for a rate PlayHT does not stream)."""
    return PlayHTTTS(
        c.api_key,
        user_id=c.value("user_id"),
        base_url=c.base_url,
        sample_rate=c.sample_rate,
        outbound=c.outbound,
    )
