"""Azure AI Speech text-to-speech over its REST API, streamed.

``POST https://{region}.tts.speech.microsoft.com/cognitiveservices/v1`` with the key in
``Ocp-Apim-Subscription-Key``, ``Content-Type: application/ssml+xml``, an
``X-Microsoft-OutputFormat`` matching the transport (``raw-16khz-16bit-mono-pcm``,
``raw-24khz-16bit-mono-pcm``, ... or ``raw-8khz-8bit-mono-mulaw``, decoded here to
PCM16) and a ``User-Agent``. The body is SSML: the sentence is XML-escaped (``< & > "
'``) and stripped of characters XML cannot carry, and every attribute is quoted, so no
text can change the document's structure. The audio is read as it arrives.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncGenerator, Mapping
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import httpx

from callwright.audio.codec import mulaw_decode
from callwright.providers.catalog import Connection
from callwright.providers.common import FIRST_BYTE_TIMEOUT_S, http_client
from callwright.providers.errors import ProviderRequestError
from callwright.providers.protocols import TTSOptions
from callwright.providers.tts.streaming import WarnOnce, stream_http, vendor_url
from callwright.security.outbound import OutboundPolicy

__all__ = ["DEFAULT_AZURE_VOICE", "AzureTTS", "build_ssml", "create"]

logger = logging.getLogger(__name__)

DEFAULT_AZURE_VOICE = "en-US-JennyNeural"
_PROVIDER = "azure"
_OUTPUT_FORMATS = {
    8000: "raw-8khz-8bit-mono-mulaw",
    16000: "raw-16khz-16bit-mono-pcm",
    22050: "raw-22050hz-16bit-mono-pcm",
    24000: "raw-24khz-16bit-mono-pcm",
    44100: "raw-44100hz-16bit-mono-pcm",
    48000: "raw-48khz-16bit-mono-pcm",
}
_REGION = re.compile(r"^[a-z0-9]{2,40}$")
# Azure voice names start with their locale: en-US-JennyNeural, hi-IN-AartiNeural.
_VOICE = re.compile(r"^([a-z]{2,3}-[A-Za-z0-9]{2,8})-\S+$")
# Characters XML 1.0 cannot carry even escaped; Azure answers 400 to any of them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_PROSODY_VALUE = re.compile(
    r"^(?:[+-]?\d+(?:\.\d+)?(?:%|Hz|st)?"
    r"|x-slow|slow|medium|fast|x-fast|x-low|low|high|x-high"
    r"|silent|x-soft|soft|loud|x-loud|default)$"
)
_STYLE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


class AzureTTS:
    """Azure neural voice. ``options.voice_id`` is an Azure voice name
    (``en-US-JennyNeural``, ``hi-IN-AartiNeural``); anything else (an ElevenLabs name
    such as "rachel") falls back to ``DEFAULT_AZURE_VOICE`` with a warning.
    ``xml:lang`` is ``options.language`` or the voice's locale. ``options.extra``
    (provider_config): ``speed`` (a rate multiplier, e.g. 1.1), ``rate``, ``pitch`` and
    ``volume`` (SSML prosody values such as ``"+10%"``, ``"-2st"``, ``"slow"``) and
    ``style``/``style_degree`` (``mstts:express-as``). ``base_url`` replaces
    ``https://{region}.tts.speech.microsoft.com`` (a sovereign cloud, a fake).
    ``sample_rate``: 8,000 (μ-law, decoded), 16,000, 22,050, 24,000, 44,100 or
    48,000 Hz. Call ``aclose()`` to release the connection pool."""

    name = "azure"

    def __init__(
        self,
        api_key: str,
        *,
        region: str,
        base_url: str | None = None,
        sample_rate: int = 16000,
        first_byte_timeout_s: float = FIRST_BYTE_TIMEOUT_S,
        outbound: OutboundPolicy | None = None,
    ) -> None:
        if sample_rate not in _OUTPUT_FORMATS:
            rates = ", ".join(map(str, _OUTPUT_FORMATS))
            raise ValueError(f"Azure streams {rates} Hz raw audio, not {sample_rate} Hz")
        if base_url is None and not _REGION.fullmatch(region):
            raise ValueError(f"Azure region must be a region name such as 'eastus', not {region!r}")
        self.sample_rate = sample_rate
        self._api_key = api_key
        self._outbound = outbound
        self._base_url = base_url or f"https://{region}.tts.speech.microsoft.com"
        vendor_url(self._base_url)  # refuse a malformed URL now
        self._first_byte_timeout_s = first_byte_timeout_s
        self._client: httpx.AsyncClient | None = None
        self._warn = WarnOnce(logger)

    async def synthesize(self, text: str, options: TTSOptions) -> AsyncGenerator[bytes, None]:
        if not text.strip():
            return
        voice = self._voice(options.voice_id)
        locale = _VOICE.fullmatch(voice)
        language = options.language or (locale.group(1) if locale else "en-US")
        ssml = build_ssml(text.strip(), voice, language, options.extra)
        if self._client is None:
            self._client = http_client(
                self._base_url,
                {
                    "Ocp-Apim-Subscription-Key": self._api_key,
                    "X-Microsoft-OutputFormat": _OUTPUT_FORMATS[self.sample_rate],
                    "User-Agent": "callwright",
                },
                read_timeout_s=self._first_byte_timeout_s,
                outbound=self._outbound,
            )
        audio = stream_http(
            _PROVIDER,
            self._client,
            "/cognitiveservices/v1",
            content=ssml.encode(),
            headers={"Content-Type": "application/ssml+xml"},
            first_s=self._first_byte_timeout_s,
            sample_bytes=1 if self.sample_rate == 8000 else 2,
        )
        try:
            async for chunk in audio:
                yield mulaw_decode(chunk) if self.sample_rate == 8000 else chunk
        finally:
            await audio.aclose()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _voice(self, voice_id: str | None) -> str:
        if voice_id and _VOICE.fullmatch(voice_id):
            return voice_id
        if voice_id:
            self._warn(f"{voice_id!r} is not an Azure voice name; using {DEFAULT_AZURE_VOICE}")
        return DEFAULT_AZURE_VOICE


def build_ssml(text: str, voice: str, language: str, extra: Mapping[str, Any]) -> str:
    """The SSML document speaking ``text`` with ``voice``; ``extra`` may add prosody and
    an ``mstts:express-as`` style (see ``AzureTTS``)."""
    prosody = _prosody(extra)
    body = escape(_NOT_XML.sub("", text), {'"': "&quot;", "'": "&apos;"})
    if prosody:
        attributes = "".join(f" {name}={quoteattr(value)}" for name, value in prosody.items())
        body = f"<prosody{attributes}>{body}</prosody>"
    if (style := extra.get("style")) is not None:
        if not isinstance(style, str) or not _STYLE.fullmatch(style):
            raise ProviderRequestError(_PROVIDER, "style must be an Azure speaking style name")
        attributes = f" style={quoteattr(style)}"
        if (degree := extra.get("style_degree")) is not None:
            attributes += f" styledegree={quoteattr(_number('style_degree', degree, 0.01, 2))}"
        body = f"<mstts:express-as{attributes}>{body}</mstts:express-as>"
    return (
        "<speak version='1.0' xmlns='http://www.w3.org/2001/10/synthesis' "
        f"xmlns:mstts='https://www.w3.org/2001/mstts' xml:lang={quoteattr(language)}>"
        f"<voice name={quoteattr(voice)}>{body}</voice></speak>"
    )


def _prosody(extra: Mapping[str, Any]) -> dict[str, str]:
    prosody: dict[str, str] = {}
    if (speed := extra.get("speed")) is not None:
        prosody["rate"] = _number("speed", speed, 0.5, 2)  # Azure's rate multiplier range
    for name in ("rate", "pitch", "volume"):
        value = extra.get(name)
        if value is None:
            continue
        value = (
            str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
        )
        if not isinstance(value, str) or not _PROSODY_VALUE.fullmatch(value):
            raise ProviderRequestError(
                _PROVIDER, f"{name} must be an SSML prosody value such as '+10%' or 'slow'"
            )
        prosody[name] = value
    return prosody


def _number(name: str, value: object, lowest: float, highest: float) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProviderRequestError(_PROVIDER, f"{name} must be a number")
    return f"{min(max(float(value), lowest), highest):g}"


def create(c: Connection) -> AzureTTS:
    """The catalog's factory (``ValueError`` for a rate or region Azure refuses)."""
    return AzureTTS(
        c.api_key,
        region=c.region or "",
        base_url=c.base_url,
        sample_rate=c.sample_rate,
        outbound=c.outbound,
    )
