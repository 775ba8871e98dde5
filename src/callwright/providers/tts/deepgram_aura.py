"""Deepgram Aura text-to-speech over the streaming WebSocket (``/v1/speak``).

One connection per sentence: ``?model=aura-2-...&encoding=linear16&sample_rate=N``
with ``Authorization: Token <key>``; the client sends ``{"type": "Speak", "text"}``
then ``{"type": "Flush"}``, and Deepgram streams the audio as binary frames followed by
``{"type": "Flushed"}``; ``{"type": "Close"}`` then ends the session gracefully. On the
way come ``Metadata`` (ignored) and ``Warning`` (logged) messages. Deepgram renders
linear16 at the transport's rate directly, so nothing is resampled. Refusals (bad key,
unknown model, rate limit) are handshake statuses.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncGenerator

import websockets
from websockets.asyncio.client import ClientConnection

from callwright.providers.catalog import Connection
from callwright.providers.common import FIRST_BYTE_TIMEOUT_S, json_object, open_websocket
from callwright.providers.errors import ProviderRequestError
from callwright.providers.protocols import TTSOptions
from callwright.providers.tts.streaming import (
    Pcm16Aligner,
    WarnOnce,
    passthrough,
    query_value,
    vendor_url,
    within_deadlines,
)
from callwright.security.outbound import OutboundPolicy

__all__ = ["DEFAULT_AURA_MODEL", "DEFAULT_DEEPGRAM_BASE_URL", "DeepgramAuraTTS", "create"]

logger = logging.getLogger(__name__)

DEFAULT_DEEPGRAM_BASE_URL = "wss://api.deepgram.com"
DEFAULT_AURA_MODEL = "aura-2-thalia-en"
_PROVIDER = "deepgram"
_SAMPLE_RATES = (8000, 16000, 24000, 32000, 48000)  # linear16's documented rates
_OWN_PARAMETERS = frozenset({"model", "encoding", "sample_rate", "container"})


class DeepgramAuraTTS:
    """Deepgram Aura voice. Aura names the voice in the model (``aura-2-thalia-en``),
    so ``options.voice_id`` is used when it is an Aura model name, else
    ``options.model_id`` when it is one, else ``DEFAULT_AURA_MODEL`` (a warning says
    which voice was not understood). ``options.extra`` (provider_config) is sent as
    query parameters (``speed``, ``mip_opt_out``, ``tag``, ...). ``sample_rate``:
    8,000, 16,000, 24,000, 32,000 or 48,000 Hz."""

    name = "deepgram"

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
            raise ValueError(f"Deepgram Aura streams {rates} Hz audio, not {sample_rate} Hz")
        self.sample_rate = sample_rate
        self._api_key = api_key
        self._outbound = outbound
        self._base_url = base_url or DEFAULT_DEEPGRAM_BASE_URL
        vendor_url(self._base_url, websocket=True)  # refuse a malformed URL now
        self._first_byte_timeout_s = first_byte_timeout_s
        self._warn = WarnOnce(logger)

    async def synthesize(self, text: str, options: TTSOptions) -> AsyncGenerator[bytes, None]:
        if not text.strip():
            return
        query = {
            "model": self._model(options),
            "encoding": "linear16",
            "sample_rate": str(self.sample_rate),
        }
        for key, value in passthrough(options.extra).items():
            if key in _OWN_PARAMETERS:
                self._warn(f"Deepgram provider_config.{key} is set by callwright; ignored")
            else:
                query[key] = query_value(_PROVIDER, key, value)
        url = vendor_url(self._base_url, "/v1/speak", query, websocket=True)
        headers = {"Authorization": f"Token {self._api_key}"}
        async with open_websocket(_PROVIDER, url, headers, outbound=self._outbound) as websocket:
            await websocket.send(json.dumps({"type": "Speak", "text": text.strip()}))
            await websocket.send(json.dumps({"type": "Flush"}))
            audio = within_deadlines(_PROVIDER, self._audio(websocket), self._first_byte_timeout_s)
            try:
                async for chunk in audio:
                    yield chunk
            finally:
                await audio.aclose()
            # Graceful end; the server may already be closing, which is as good.
            with contextlib.suppress(websockets.ConnectionClosed):
                await websocket.send(json.dumps({"type": "Close"}))

    def _model(self, options: TTSOptions) -> str:
        for candidate in (options.voice_id, options.model_id):
            if candidate and candidate.startswith("aura-"):
                return candidate
        if options.voice_id:
            self._warn(
                f"Deepgram Aura voices are model names such as {DEFAULT_AURA_MODEL!r}; "
                f"{options.voice_id!r} is not one, using {DEFAULT_AURA_MODEL}"
            )
        return DEFAULT_AURA_MODEL

    async def _audio(self, websocket: ClientConnection) -> AsyncGenerator[bytes, None]:
        align = Pcm16Aligner()
        async for frame in websocket:
            if isinstance(frame, bytes):
                if pcm := align.push(frame):
                    yield pcm
                continue
            message = json_object(_PROVIDER, frame)
            kind = message.get("type")
            if kind == "Flushed":
                return
            if kind == "Warning":
                logger.warning("Deepgram: %s (%s)", message.get("description"), message.get("code"))
            elif kind == "Error":
                description = message.get("description") or message.get("message") or "error"
                raise ProviderRequestError(_PROVIDER, f"{description} ({message.get('code')})")


def create(c: Connection) -> DeepgramAuraTTS:
    """The catalog's factory (``ValueError`` for a rate Aura does not stream)."""
    return DeepgramAuraTTS(
        c.api_key, base_url=c.base_url, sample_rate=c.sample_rate, outbound=c.outbound
    )
