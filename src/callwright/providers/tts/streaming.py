"""What the cloud voices share, written once: vendor URLs, ``provider_config``
pass-through, whole 16-bit samples, and deadlines on a stream's items.

Every cloud adapter (``elevenlabs``, ``cartesia``, ``deepgram_aura``,
``openai_speech``, ``azure``) makes one vendor request per ``synthesize`` call, so
closing the generator (a barge-in) closes that request and the vendor stops
generating; nothing is left half-read on a shared connection.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx

from callwright.providers.common import (
    FIRST_BYTE_TIMEOUT_S,
    raise_for_response,
    translate_http_error,
)
from callwright.providers.errors import (
    ProviderRequestError,
    ProviderTimeout,
    ProviderUnavailable,
)

__all__ = [
    "CREDENTIAL_KEYS",
    "NEXT_CHUNK_TIMEOUT_S",
    "Pcm16Aligner",
    "WarnOnce",
    "b64_audio",
    "passthrough",
    "query_value",
    "stream_http",
    "vendor_url",
    "within_deadlines",
]

T = TypeVar("T")

CREDENTIAL_KEYS = frozenset({"api_key", "base_url", "region"})
"""``provider_config`` keys that configure the adapter itself (a per-assistant key, a
self-hosted endpoint); never forwarded to the vendor, where a key would land in a URL."""

NEXT_CHUNK_TIMEOUT_S = FIRST_BYTE_TIMEOUT_S
"""Longest silence allowed between two audio chunks once the first has arrived: a
stalled vendor fails the sentence instead of leaving the caller in dead air."""

_SCHEMES = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}


def vendor_url(
    base_url: str,
    path: str = "",
    query: Mapping[str, str] | None = None,
    *,
    websocket: bool = False,
) -> str:
    """``base_url`` + ``path`` + ``query``; for a WebSocket, ``http(s)`` becomes
    ``ws(s)`` so one base URL setting serves a vendor's fake or proxy either way."""
    scheme, netloc, base_path, _, _ = urlsplit(base_url.rstrip("/"))
    if scheme not in _SCHEMES or not netloc:
        raise ValueError(f"base URL {base_url!r} must be an absolute http(s) or ws(s) URL")
    if websocket:
        scheme = _SCHEMES[scheme]
    elif scheme not in ("http", "https"):
        raise ValueError(f"base URL {base_url!r} must be an http(s) URL")
    return urlunsplit((scheme, netloc, base_path + path, urlencode(query or {}), ""))


def query_value(provider: str, key: str, value: object) -> str:
    """A ``provider_config`` value as a query-string value (booleans as vendors spell
    them: ``true``/``false``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise ProviderRequestError(
        provider, f"provider_config.{key} must be a string, number or boolean"
    )


def passthrough(extra: Mapping[str, Any]) -> dict[str, Any]:
    """``provider_config`` minus the keys meant for callwright (see ``CREDENTIAL_KEYS``)."""
    return {key: value for key, value in extra.items() if key not in CREDENTIAL_KEYS}


def b64_audio(provider: str, encoded: object) -> bytes:
    """Audio a vendor sent base64-encoded inside a JSON message."""
    try:
        return base64.b64decode(str(encoded), validate=True)
    except binascii.Error as exc:
        raise ProviderUnavailable(provider, "sent audio that is not valid base64") from exc


class Pcm16Aligner:
    """Cuts a byte stream at whole 16-bit samples: HTTP chunks and vendor frames may
    split a sample, and everything downstream (the resampler) needs whole ones."""

    __slots__ = ("_odd",)

    def __init__(self) -> None:
        self._odd = b""

    def push(self, data: bytes) -> bytes:
        data = self._odd + data
        cut = len(data) - len(data) % 2
        self._odd = data[cut:]
        return data[:cut]


class WarnOnce:
    """Logs each distinct warning once per adapter (e.g. a voice the vendor lacks),
    not once per sentence."""

    __slots__ = ("_logger", "_seen")

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._seen: set[str] = set()

    def __call__(self, message: str) -> None:
        if message not in self._seen:
            self._seen.add(message)
            self._logger.warning("%s", message)


async def within_deadlines(
    provider: str,
    stream: AsyncIterator[T],
    first_s: float = FIRST_BYTE_TIMEOUT_S,
    next_s: float = NEXT_CHUNK_TIMEOUT_S,
) -> AsyncGenerator[T, None]:
    """Re-yield ``stream``, raising ``ProviderTimeout`` when its first item takes longer
    than ``first_s`` or any later one longer than ``next_s``; closing this generator
    closes ``stream``."""
    timeout_s, what = first_s, "first audio"
    try:
        while True:
            try:
                async with asyncio.timeout(timeout_s):
                    item = await anext(stream)
            except StopAsyncIteration:
                return
            except TimeoutError as exc:
                raise ProviderTimeout(provider, f"no {what} within {timeout_s:g} s") from exc
            yield item
            timeout_s, what = next_s, "further audio"
    finally:
        if isinstance(stream, AsyncGenerator):
            await stream.aclose()


async def stream_http(
    provider: str,
    client: httpx.AsyncClient,
    path: str,
    *,
    content: str | bytes,
    headers: Mapping[str, str] | None = None,
    first_s: float = FIRST_BYTE_TIMEOUT_S,
    sample_bytes: int = 2,
) -> AsyncGenerator[bytes, None]:
    """POST ``content`` to ``path`` and stream the response body cut at whole samples
    (``sample_bytes``: 2 for PCM16, 1 for μ-law); statuses and transport failures
    arrive as ``ProviderError``s. Closing the generator closes the response, and with
    it the connection, so the vendor stops."""
    align = Pcm16Aligner() if sample_bytes == 2 else None
    try:
        async with client.stream("POST", path, content=content, headers=headers) as response:
            await raise_for_response(provider, response)
            body = within_deadlines(provider, response.aiter_bytes(), first_s)
            try:
                async for chunk in body:
                    if audio := align.push(chunk) if align else chunk:
                        yield audio
            finally:
                await body.aclose()
    except httpx.HTTPError as exc:
        raise translate_http_error(provider, exc) from exc
