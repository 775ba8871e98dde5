"""A fake Azure AI Speech text-to-speech REST endpoint
(``POST /cognitiveservices/v1``), as Microsoft documents it.

Needs ``Ocp-Apim-Subscription-Key`` (else 401), ``Content-Type: application/ssml+xml``
(else 415), a known ``X-Microsoft-OutputFormat`` and a ``User-Agent`` (else 400), and a
body that is well-formed SSML — parsed with a real XML parser, so unescaped text is a
400 exactly as at Azure. The raw output formats stream a sine tone (PCM16, or μ-law
for ``raw-8khz-8bit-mono-mulaw``) as a chunked body. Each parsed document is kept in
``spoken`` (voice, xml:lang, text, prosody and express-as attributes).
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field

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

__all__ = ["OUTPUT_FORMATS", "AzureTTSFake", "Spoken"]

# X-Microsoft-OutputFormat -> (sample rate, μ-law?)
OUTPUT_FORMATS = {
    "raw-8khz-8bit-mono-mulaw": (8000, True),
    "raw-8khz-16bit-mono-pcm": (8000, False),
    "raw-16khz-16bit-mono-pcm": (16000, False),
    "raw-22050hz-16bit-mono-pcm": (22050, False),
    "raw-24khz-16bit-mono-pcm": (24000, False),
    "raw-44100hz-16bit-mono-pcm": (44100, False),
    "raw-48khz-16bit-mono-pcm": (48000, False),
}
_SSML = "{http://www.w3.org/2001/10/synthesis}"
_MSTTS = "{https://www.w3.org/2001/mstts}"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@dataclass(frozen=True)
class Spoken:
    """One SSML document as Azure would read it."""

    voice: str
    language: str
    text: str
    prosody: dict[str, str]
    express_as: dict[str, str]


@dataclass
class AzureTTSFake:
    """The ASGI app (call it) plus what it received and its fault switches."""

    api_key: str = "azure-test-key"
    faults: Faults = field(default_factory=Faults)
    received: list[Received] = field(default_factory=list)
    spoken: list[Spoken] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        exchange = HttpExchange(scope, receive, send, self.faults)
        self.received.append(exchange.record)
        await exchange.read_body()
        headers = exchange.record.headers
        if (scope["method"], scope["path"]) != ("POST", "/cognitiveservices/v1"):
            await exchange.respond(404, b"")
            return
        if self.faults.status is not None:
            extra = {"retry-after": self.faults.retry_after} if self.faults.retry_after else {}
            await exchange.respond(self.faults.status, b"", extra)
            return
        if headers.get("ocp-apim-subscription-key") != self.api_key:
            body = {"error": {"code": "401", "message": "Access denied due to invalid key."}}
            await exchange.respond(401, body)
            return
        if headers.get("content-type", "").split(";")[0] != "application/ssml+xml":
            await exchange.respond(415, b"")
            return
        output_format = headers.get("x-microsoft-outputformat", "")
        if output_format not in OUTPUT_FORMATS or not headers.get("user-agent"):
            await exchange.respond(400, b"")
            return
        spoken = _parse(exchange.record.body)
        if spoken is None:
            await exchange.respond(400, b"")
            return
        self.spoken.append(spoken)
        rate, mulaw = OUTPUT_FORMATS[output_format]
        audio = tone(rate, speech_seconds(spoken.text))
        if mulaw:
            audio = mulaw_encode(audio)
        await exchange.stream(audio_chunks(audio, rate * (1 if mulaw else 2)), "audio/basic")


def _parse(body: bytes) -> Spoken | None:
    """The document Azure would speak, or None where Azure answers 400."""
    try:
        # The test's own adapter wrote this body; the stdlib parser is what we need here.
        root = ElementTree.fromstring(body)  # noqa: S314
    except ElementTree.ParseError:
        return None
    voice = root.find(f"{_SSML}voice")
    if root.tag != f"{_SSML}speak" or root.get("version") != "1.0" or voice is None:
        return None
    if not root.get(_XML_LANG) or not voice.get("name"):
        return None
    prosody = voice.find(f".//{_SSML}prosody")
    express_as = voice.find(f".//{_MSTTS}express-as")
    return Spoken(
        voice=voice.get("name", ""),
        language=root.get(_XML_LANG, ""),
        text="".join(voice.itertext()),
        prosody=dict(prosody.attrib) if prosody is not None else {},
        express_as=dict(express_as.attrib) if express_as is not None else {},
    )
