"""Deepgram live transcription over WebSocket (``wss://api.deepgram.com/v1/listen``).

As Deepgram's "Live Audio" reference documents it: ``Authorization: Token <key>`` and
every setting as a query parameter on the handshake; audio as binary frames of raw
PCM16 (``encoding=linear16``); JSON text frames ``KeepAlive`` (sent after
``keepalive_interval_s`` without sending: Deepgram drops a stream silent for 10 s),
``Finalize`` (``end_utterance``) and ``CloseStream`` (``end_of_audio``: Deepgram
flushes, sends ``Metadata`` and closes). Deepgram sends ``Results``
(``channel.alternatives[0]``, interim or ``is_final``, with words), ``SpeechStarted``,
``UtteranceEnd`` and ``Metadata``.

stt_settings → parameters: model (nova-2 when unset), language, punctuate,
smart_format, interim_results, endpointing (ms; 0 → false), utterance_end_ms (only
with interim results, which it needs), vad_events=true; ``keywords=word:intensifier``
up to nova-2, ``keyterm=`` on nova-3 (which has no intensifiers: positive keywords
become keyterms; on older models one-word keyterms become keywords, phrases are
dropped with a warning); ``extra`` entries override or add parameters
(``audio_denoising`` is callwright's own and is not sent).

A dropped connection is reopened (``max_reconnect_attempts``, with backoff) and the
audio no final covers yet (up to ``reconnect_buffer_s``, including audio pushed while
disconnected) is sent again, so no words are lost and times carry on; if reopening
fails, the stream fails with ``ProviderUnavailable`` (``deepgram_stream``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from websockets.asyncio.client import ClientConnection

from callwright.providers.catalog import Connection
from callwright.providers.common import (
    CONNECT_TIMEOUT_S,
    FIRST_BYTE_TIMEOUT_S,
    connect_websocket,
    websocket_url,
)
from callwright.providers.protocols import STTOptions
from callwright.providers.stt.deepgram_stream import PROVIDER as _PROVIDER
from callwright.providers.stt.deepgram_stream import DeepgramStream
from callwright.security.outbound import OutboundPolicy

__all__ = ["DeepgramOptions", "DeepgramSTT", "create", "listen_query", "options"]

logger = logging.getLogger(__name__)

_DEFAULT_BASE_URL: Final = "wss://api.deepgram.com"
_PATH: Final = "/v1/listen"
_CALLWRIGHT_EXTRA: Final = frozenset({"audio_denoising"})


def _flag(value: object) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


@dataclass(frozen=True, slots=True)
class DeepgramOptions:
    """Deepgram's own transcription options (``stt_settings`` columns only it reads)."""

    smart_format: bool = True


_DEFAULTS = DeepgramOptions()


def options(settings: Mapping[str, Any]) -> DeepgramOptions:
    """The catalog's options builder: from the assistant's validated ``stt_settings``."""
    return DeepgramOptions(smart_format=settings["smart_format"])


def listen_query(options: STTOptions, sample_rate: int) -> list[tuple[str, str]]:
    """The ``/v1/listen`` query parameters for ``options`` (see the module docstring)."""
    own = options.vendor if isinstance(options.vendor, DeepgramOptions) else _DEFAULTS
    model = options.model or "nova-2"
    query = [("model", model), ("encoding", "linear16")]
    query += [("sample_rate", str(sample_rate)), ("channels", "1")]
    if options.language:
        query.append(("language", options.language))
    query += [
        ("punctuate", _flag(options.punctuate)),
        ("smart_format", _flag(own.smart_format)),
        ("interim_results", _flag(options.interim_results)),
        ("endpointing", str(options.endpointing_ms) if options.endpointing_ms > 0 else "false"),
        ("vad_events", "true"),
    ]
    if options.interim_results:
        query.append(("utterance_end_ms", str(options.utterance_end_ms)))
    if model.startswith("nova-3"):
        terms = [*options.keyterms, *(word for word, boost in options.keywords if boost > 0)]
        query += [("keyterm", term) for term in dict.fromkeys(terms)]
    else:
        query += [("keywords", f"{word}:{boost:g}") for word, boost in options.keywords]
        for term in options.keyterms:
            if len(term.split()) == 1:
                query.append(("keywords", term.strip()))
            else:
                logger.warning("deepgram: keyterm %r needs a nova-3 model; not sent", term)
    extra = {k: v for k, v in options.extra.items() if k not in _CALLWRIGHT_EXTRA}
    query = [(key, value) for key, value in query if key not in extra]
    for key, value in extra.items():
        values = value if isinstance(value, list | tuple) else [value]
        query += [(key, _flag(item)) for item in values if item is not None]
    return query


class DeepgramSTT:
    """Deepgram live streaming transcription (one WebSocket per call).

    ``base_url``: Deepgram's API (default ``wss://api.deepgram.com``), a self-hosted
    Deepgram or a fake; ``http(s)`` works too. ``keepalive_interval_s``: idle time
    before a ``KeepAlive``. ``first_result_timeout_s``: the longest wait for Deepgram's
    first message once audio was sent (and for the close after ``CloseStream``).
    """

    name = _PROVIDER

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        sample_rate: int = 16_000,
        keepalive_interval_s: float = 4.0,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        first_result_timeout_s: float = FIRST_BYTE_TIMEOUT_S,
        max_reconnect_attempts: int = 3,
        reconnect_backoff_s: float = 0.25,
        reconnect_buffer_s: float = 10.0,
        outbound: OutboundPolicy | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("a Deepgram API key is required")
        self._api_key = api_key
        self._outbound = outbound
        self._base_url = base_url or _DEFAULT_BASE_URL
        self.sample_rate = sample_rate
        self.keepalive_interval_s = keepalive_interval_s
        self.connect_timeout_s = connect_timeout_s
        self.first_result_timeout_s = first_result_timeout_s
        self.max_reconnect_attempts = max_reconnect_attempts
        self.reconnect_backoff_s = reconnect_backoff_s
        self.reconnect_buffer_s = reconnect_buffer_s

    async def open_stream(self, options: STTOptions) -> DeepgramStream:
        """Connect (auth and settings errors surface here) and start streaming."""
        url = websocket_url(self._base_url, _PATH, listen_query(options, self.sample_rate))
        return DeepgramStream(self, lambda: self._connect(url), await self._connect(url))

    async def _connect(self, url: str) -> ClientConnection:
        headers = {"Authorization": f"Token {self._api_key}"}
        return await connect_websocket(
            _PROVIDER,
            url,
            headers,
            open_timeout_s=self.connect_timeout_s,
            close_timeout_s=2.0,
            outbound=self._outbound,
        )


def create(c: Connection) -> DeepgramSTT:
    """The catalog's factory."""
    return DeepgramSTT(
        c.api_key, base_url=c.base_url, sample_rate=c.sample_rate, outbound=c.outbound
    )
