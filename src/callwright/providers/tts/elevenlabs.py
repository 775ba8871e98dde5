"""ElevenLabs text-to-speech over the stream-input WebSocket
(``/v1/text-to-speech/{voice_id}/stream-input``).

One connection per sentence: ``{"text": " ", "voice_settings": {...}}`` opens the
stream, the sentence follows with ``"flush": true`` (generate now rather than wait for
the chunk schedule to fill), and ``{"text": ""}`` ends it. Audio comes back base64 in
``{"audio": ..., "isFinal": ...}`` messages until ``"isFinal": true``. The output
format matches ``sample_rate`` so the engine never resamples: ``pcm_16000`` (and
22,050/24,000/44,100 Hz), or ``ulaw_8000`` for telephony, decoded here to PCM16 (the
transport re-encodes it to the identical μ-law bytes).

The key travels in the ``xi-api-key`` header. Refusals arrive either as a handshake
status or in-band as ``{"message", "error", "code"}`` followed by a close (code 1008).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import websockets
from websockets.asyncio.client import ClientConnection

from callwright.audio.codec import mulaw_decode
from callwright.providers.catalog import Connection
from callwright.providers.common import FIRST_BYTE_TIMEOUT_S, json_object, open_websocket
from callwright.providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderRequestError,
    ProviderUnavailable,
)
from callwright.providers.protocols import TTSOptions
from callwright.providers.tts.streaming import (
    Pcm16Aligner,
    WarnOnce,
    b64_audio,
    passthrough,
    query_value,
    vendor_url,
    within_deadlines,
)
from callwright.providers.tts.voices import elevenlabs_voice_id
from callwright.security.outbound import OutboundPolicy

__all__ = [
    "DEFAULT_ELEVENLABS_BASE_URL",
    "DEFAULT_ELEVENLABS_MODEL",
    "ElevenLabsOptions",
    "ElevenLabsTTS",
    "create",
    "options",
]

logger = logging.getLogger(__name__)

DEFAULT_ELEVENLABS_BASE_URL = "wss://api.elevenlabs.io"
DEFAULT_ELEVENLABS_MODEL = "eleven_flash_v2_5"
_PROVIDER = "elevenlabs"
_OUTPUT_FORMATS = {
    8000: "ulaw_8000",
    16000: "pcm_16000",
    22050: "pcm_22050",
    24000: "pcm_24000",
    44100: "pcm_44100",
}
# provider_config keys that belong in the first message rather than the URL.
_FIRST_MESSAGE_KEYS = frozenset({"generation_config", "pronunciation_dictionary_locators"})
# voice_settings fields that tts_settings has no column for.
_VOICE_SETTING_KEYS = frozenset({"speed"})
# Only these models accept language_code; others refuse the connection if it is sent.
_LANGUAGE_MODELS = frozenset({"eleven_turbo_v2_5", "eleven_flash_v2_5"})
_POLICY_VIOLATION = 1008


@dataclass(frozen=True, slots=True)
class ElevenLabsOptions:
    """ElevenLabs' own voice settings (``tts_settings`` columns only it reads), with
    ElevenLabs' documented defaults. ``latency`` (0–4) is
    ``optimize_streaming_latency``; the rest form ``voice_settings``."""

    latency: int = 1
    stability: float = 0.5
    similarity_boost: float = 0.75
    style: float = 0.0
    use_speaker_boost: bool = True


_DEFAULTS = ElevenLabsOptions()


def options(settings: Mapping[str, Any]) -> ElevenLabsOptions:
    """The catalog's options builder: from the assistant's validated ``tts_settings``."""
    return ElevenLabsOptions(
        latency=settings["latency"],
        stability=settings["stability"],
        similarity_boost=settings["similarity_boost"],
        style=settings["style"],
        use_speaker_boost=settings["use_speaker_boost"],
    )


class ElevenLabsTTS:
    """ElevenLabs voice. ``options.voice_id`` is a premade voice's name ("rachel",
    "adam", "bella", ...; see ``voices.ELEVENLABS_VOICES``) or any voice id;
    ``model_id`` defaults to ``eleven_flash_v2_5``; ``options.vendor``
    (``ElevenLabsOptions``) gives the latency and ``voice_settings``.
    ``options.extra`` (provider_config):
    ``generation_config`` and ``pronunciation_dictionary_locators`` go in the first
    message, ``speed`` and a ``voice_settings`` mapping into voice_settings, anything
    else (``auto_mode``, ``apply_text_normalization``, ``enable_logging``, ...) into
    the query string. ``sample_rate`` is one of 8,000 (μ-law, decoded), 16,000,
    22,050, 24,000 or 44,100 Hz."""

    name = "elevenlabs"

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        sample_rate: int = 16000,
        first_byte_timeout_s: float = FIRST_BYTE_TIMEOUT_S,
        outbound: OutboundPolicy | None = None,
    ) -> None:
        if sample_rate not in _OUTPUT_FORMATS:
            rates = ", ".join(map(str, _OUTPUT_FORMATS))
            raise ValueError(f"ElevenLabs streams {rates} Hz audio, not {sample_rate} Hz")
        self.sample_rate = sample_rate
        self._api_key = api_key
        self._outbound = outbound
        self._base_url = base_url or DEFAULT_ELEVENLABS_BASE_URL
        vendor_url(self._base_url, websocket=True)  # refuse a malformed URL now
        self._first_byte_timeout_s = first_byte_timeout_s
        self._warn = WarnOnce(logger)

    async def synthesize(self, text: str, options: TTSOptions) -> AsyncGenerator[bytes, None]:
        if not text.strip():
            return
        url, first_message = self._request(options)
        async with open_websocket(
            _PROVIDER, url, {"xi-api-key": self._api_key}, outbound=self._outbound
        ) as websocket:
            await websocket.send(json.dumps(first_message))
            # Text must end with a space; flush makes it speak this sentence at once.
            await websocket.send(json.dumps({"text": text.strip() + " ", "flush": True}))
            await websocket.send(json.dumps({"text": ""}))  # end of sequence
            audio = within_deadlines(_PROVIDER, self._audio(websocket), self._first_byte_timeout_s)
            try:
                async for chunk in audio:
                    yield chunk
            finally:
                await audio.aclose()

    def _request(self, options: TTSOptions) -> tuple[str, dict[str, Any]]:
        own = options.vendor if isinstance(options.vendor, ElevenLabsOptions) else _DEFAULTS
        model = options.model_id or DEFAULT_ELEVENLABS_MODEL
        query: dict[str, str] = {
            "model_id": model,
            "output_format": _OUTPUT_FORMATS[self.sample_rate],
            "optimize_streaming_latency": str(own.latency),
            # The engine sends whole sentences, which is what auto mode is for: it
            # skips the server's chunk buffering and speaks sooner.
            "auto_mode": "true",
        }
        if options.language:
            if model in _LANGUAGE_MODELS:
                query["language_code"] = options.language.split("-")[0].lower()
            else:
                self._warn(f"ElevenLabs {model} takes no language; ignoring {options.language!r}")
        voice_settings: dict[str, Any] = {
            "stability": own.stability,
            "similarity_boost": own.similarity_boost,
            "style": own.style,
            "use_speaker_boost": own.use_speaker_boost,
        }
        first_message: dict[str, Any] = {"text": " ", "voice_settings": voice_settings}
        for key, value in passthrough(options.extra).items():
            if key in _FIRST_MESSAGE_KEYS:
                first_message[key] = value
            elif key in _VOICE_SETTING_KEYS:
                voice_settings[key] = value
            elif key == "voice_settings":
                if not isinstance(value, Mapping):
                    raise ProviderRequestError(_PROVIDER, "voice_settings must be an object")
                voice_settings.update(value)
            elif key == "output_format":
                # The format is fixed by the transport's sample rate (PCM16 contract).
                self._warn("ElevenLabs output_format is chosen from the sample rate; ignored")
            else:
                query[key] = query_value(_PROVIDER, key, value)
        voice = quote(elevenlabs_voice_id(options.voice_id), safe="")
        path = f"/v1/text-to-speech/{voice}/stream-input"
        return vendor_url(self._base_url, path, query, websocket=True), first_message

    async def _audio(self, websocket: ClientConnection) -> AsyncGenerator[bytes, None]:
        decode: Callable[[bytes], bytes] = (
            mulaw_decode if self.sample_rate == 8000 else Pcm16Aligner().push
        )
        try:
            async for frame in websocket:
                message = json_object(_PROVIDER, frame)
                encoded = message.get("audio")
                if message.get("error") or (message.get("message") and not encoded):
                    raise _vendor_error(message)
                if encoded and (pcm := decode(b64_audio(_PROVIDER, encoded))):
                    yield pcm
                if message.get("isFinal"):
                    return
        except websockets.ConnectionClosedError as exc:
            # A refusal may come only as the close frame's reason.
            if exc.rcvd is not None and exc.rcvd.code == _POLICY_VIOLATION:
                raise _vendor_error({"message": exc.rcvd.reason}) from exc
            raise


def _vendor_error(message: Mapping[str, Any]) -> ProviderError:
    """An in-band refusal as a ``ProviderError``; ElevenLabs names the cause in
    ``error`` (e.g. ``invalid_api_key``, ``quota_exceeded``) and explains it in
    ``message``."""
    code, detail = str(message.get("error") or ""), str(message.get("message") or "")
    text = f"{code}: {detail}" if code and detail else code or detail or "refused the request"
    words = text.lower().replace("-", "_").replace(" ", "_")
    if any(word in words for word in ("api_key", "unauthori", "authenticat", "permission")):
        return ProviderAuthError(_PROVIDER, text)
    if any(word in words for word in ("quota", "rate_limit", "too_many", "concurrent", "busy")):
        return ProviderRateLimited(_PROVIDER, text)
    if any(word in words for word in ("invalid", "not_found", "validation", "unsupported")):
        return ProviderRequestError(_PROVIDER, text)
    return ProviderUnavailable(_PROVIDER, text)


def create(c: Connection) -> ElevenLabsTTS:
    """The catalog's factory (``ValueError`` for a rate ElevenLabs does not stream)."""
    return ElevenLabsTTS(
        c.api_key, base_url=c.base_url, sample_rate=c.sample_rate, outbound=c.outbound
    )
