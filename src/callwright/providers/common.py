"""What every cloud adapter shares, written once: HTTP status → ``ProviderError``,
deadlines on connect and on the first byte, and WebSocket connections whose failures
arrive as ``ProviderError``s.

Adapters stay one small file each: they build the vendor's request, parse its stream,
and let these helpers translate everything that can go wrong on the way.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
import websockets
from websockets.asyncio.client import ClientConnection, connect

from callwright.providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderRequestError,
    ProviderTimeout,
    ProviderUnavailable,
)
from callwright.security.outbound import OutboundPolicy, OutboundRefused

if TYPE_CHECKING:
    import openai

__all__ = [
    "CONNECT_TIMEOUT_S",
    "FIRST_BYTE_TIMEOUT_S",
    "StreamQueue",
    "connect_websocket",
    "error_for_status",
    "first_within",
    "http_client",
    "json_object",
    "open_websocket",
    "raise_for_response",
    "retry_after_seconds",
    "translate_http_error",
    "translate_openai_error",
    "websocket_url",
]

T = TypeVar("T")

CONNECT_TIMEOUT_S = 5.0
"""Time allowed to open a connection (TCP + TLS + WebSocket upgrade)."""

FIRST_BYTE_TIMEOUT_S = 10.0
"""Time allowed from the request to the first streamed item."""


def retry_after_seconds(value: str | None) -> float | None:
    """A ``Retry-After`` header (seconds or an HTTP date) in seconds, if it parses."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_for_status(
    provider: str, status: int, detail: str = "", retry_after: str | None = None
) -> ProviderError:
    """The ``ProviderError`` for a vendor's non-2xx answer (or WebSocket refusal)."""
    message = f"HTTP {status}" + (f": {detail[:300]}" if detail else "")
    if status in (401, 403):
        return ProviderAuthError(provider, message)
    if status == 429:
        return ProviderRateLimited(provider, message, retry_after_seconds(retry_after))
    if status == 408 or status >= 500:
        return ProviderUnavailable(provider, message)
    return ProviderRequestError(provider, message)


async def raise_for_response(provider: str, response: httpx.Response) -> None:
    """Raise the matching ``ProviderError`` unless ``response`` is 2xx (reads the body
    of a streamed error response so its message can be reported)."""
    if response.is_success:
        return
    detail = (await response.aread()).decode("utf-8", "replace")
    raise error_for_status(
        provider, response.status_code, detail, response.headers.get("retry-after")
    )


def http_client(
    base_url: str,
    headers: Mapping[str, str] | None = None,
    *,
    read_timeout_s: float = FIRST_BYTE_TIMEOUT_S,
    transport: httpx.AsyncBaseTransport | None = None,
    outbound: OutboundPolicy | None = None,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` with the adapters' deadlines: connect within
    ``CONNECT_TIMEOUT_S``, and no more than ``read_timeout_s`` between bytes. With
    ``outbound`` (an endpoint a user gave), every connection goes through that policy."""
    if transport is None and outbound is not None:
        transport = outbound.http_transport()
    return httpx.AsyncClient(
        base_url=base_url,
        headers=dict(headers or {}),
        timeout=httpx.Timeout(read_timeout_s, connect=CONNECT_TIMEOUT_S),
        transport=transport,
    )


def translate_http_error(provider: str, exc: httpx.HTTPError) -> ProviderError:
    """An httpx transport failure as a ``ProviderError``."""
    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeout(provider, f"{type(exc).__name__}: {exc}")
    return ProviderUnavailable(provider, f"{type(exc).__name__}: {exc}")


async def first_within(
    provider: str, stream: AsyncIterator[T], timeout_s: float = FIRST_BYTE_TIMEOUT_S
) -> AsyncGenerator[T, None]:
    """Re-yield ``stream``, raising ``ProviderTimeout`` if its first item takes longer
    than ``timeout_s`` (later items are bounded by the transport's read timeout).
    Closing this generator closes ``stream`` too (it aborts the vendor request)."""
    try:
        try:
            async with asyncio.timeout(timeout_s):
                first = await anext(stream)
        except StopAsyncIteration:
            return
        except TimeoutError as exc:
            raise ProviderTimeout(provider, f"no first byte within {timeout_s:g} s") from exc
        yield first
        async for item in stream:
            yield item
    finally:
        closer = getattr(stream, "aclose", None)
        if closer is not None:
            await closer()


async def connect_websocket(
    provider: str,
    url: str,
    headers: Mapping[str, str] | None = None,
    *,
    subprotocols: list[str] | None = None,
    open_timeout_s: float = CONNECT_TIMEOUT_S,
    close_timeout_s: float = 10.0,
    outbound: OutboundPolicy | None = None,
) -> ClientConnection:
    """Connect to a vendor's WebSocket, translating refusals and failures into
    ``ProviderError``s (a 401 handshake is ``ProviderAuthError``). With ``outbound``
    (an endpoint a user gave) the connection goes to an address that policy checked.
    The caller closes it: for one block, ``open_websocket``; a client that reconnects
    manages its own."""
    try:
        async with asyncio.timeout(open_timeout_s):
            target = await outbound.websocket_options(url) if outbound is not None else {}
        return await connect(
            url,
            additional_headers=dict(headers or {}),
            subprotocols=subprotocols,  # type: ignore[arg-type]
            open_timeout=open_timeout_s,
            close_timeout=close_timeout_s,
            max_size=2**24,
            **target,
        )
    except OutboundRefused as exc:
        raise ProviderRequestError(provider, f"endpoint refused: {exc}") from exc
    except websockets.InvalidStatus as exc:
        response = exc.response
        detail = response.body.decode("utf-8", "replace") if response.body else ""
        raise error_for_status(
            provider, response.status_code, detail, response.headers.get("retry-after")
        ) from exc
    except TimeoutError as exc:
        raise ProviderTimeout(provider, f"no connection within {open_timeout_s:g} s") from exc
    except (OSError, websockets.InvalidHandshake) as exc:
        raise ProviderUnavailable(provider, f"cannot connect: {exc}") from exc


@contextlib.asynccontextmanager
async def open_websocket(
    provider: str,
    url: str,
    headers: Mapping[str, str] | None = None,
    *,
    subprotocols: list[str] | None = None,
    open_timeout_s: float = CONNECT_TIMEOUT_S,
    outbound: OutboundPolicy | None = None,
) -> AsyncGenerator[ClientConnection, None]:
    """Connect to a vendor's WebSocket; refusals and failures become ``ProviderError``s
    (a 401 handshake is ``ProviderAuthError``, a drop mid-stream ``ProviderUnavailable``).
    """
    websocket = await connect_websocket(
        provider,
        url,
        headers,
        subprotocols=subprotocols,
        open_timeout_s=open_timeout_s,
        outbound=outbound,
    )
    try:
        yield websocket
    except websockets.ConnectionClosedError as exc:
        raise ProviderUnavailable(provider, f"connection dropped: {exc}") from exc
    finally:
        await websocket.close()


def websocket_url(base_url: str, path: str, query: Sequence[tuple[str, str]] = ()) -> str:
    """``base_url`` + ``path`` + ``query`` as a WebSocket URL. ``http(s)`` becomes
    ``ws(s)``, so one base-URL setting serves the vendor, its fake or a proxy; a base URL
    that already ends with ``path`` is used as is; repeated keys stay repeated (Deepgram
    takes one ``keywords`` parameter per keyword)."""
    scheme, netloc, base_path, _, _ = urlsplit(base_url.rstrip("/"))
    scheme = {"http": "ws", "https": "wss"}.get(scheme, scheme)
    if scheme not in ("ws", "wss") or not netloc:
        raise ValueError(f"base URL {base_url!r} must be an absolute http(s) or ws(s) URL")
    if not base_path.endswith(path):
        base_path += path
    return urlunsplit((scheme, netloc, base_path, urlencode(list(query)), ""))


def translate_openai_error(provider: str, exc: openai.OpenAIError) -> ProviderError:
    """An exception of the official ``openai`` SDK as a ``ProviderError`` (statuses as
    ``error_for_status`` maps them)."""
    import openai  # the SDK is a dependency, but only OpenAI adapters pay for its import

    if isinstance(exc, openai.APITimeoutError):
        return ProviderTimeout(provider, "no answer within the timeout")
    if isinstance(exc, openai.APIStatusError):
        return error_for_status(
            provider, exc.status_code, exc.message, exc.response.headers.get("retry-after")
        )
    if isinstance(exc, openai.APIConnectionError):
        return ProviderUnavailable(provider, f"connection failed: {exc}")
    return ProviderUnavailable(provider, f"{type(exc).__name__}: {exc}")


_END: Final = object()


class StreamQueue(Generic[T]):
    """A bounded queue from an adapter's reader task to one consumer, iterated with
    ``async for``. The reader ends it with ``finish(error)``: the consumer receives
    what is already queued, then the error (or the end). ``finish`` never blocks, so a
    reader can end the stream from a ``finally`` even when the consumer is behind."""

    def __init__(self, maxsize: int) -> None:
        self._queue: asyncio.Queue[object] = asyncio.Queue(maxsize)
        self._finished = False
        self._error: BaseException | None = None

    @property
    def finished(self) -> bool:
        return self._finished

    async def put(self, item: T) -> None:
        """Queue ``item``, waiting while the consumer is behind."""
        if not self._finished:
            await self._queue.put(item)

    def offer(self, item: T) -> bool:
        """Queue ``item`` unless the queue is full (for items a newer one supersedes)."""
        if self._finished or self._queue.full():
            return False
        self._queue.put_nowait(item)
        return True

    def finish(self, error: BaseException | None = None) -> None:
        """End the stream (after what is queued), with ``error`` if it failed. The
        first call wins."""
        if self._finished:
            return
        self._finished, self._error = True, error
        # A consumer blocked on an empty queue needs waking; a full queue means the
        # consumer is not blocked, and it sees the end once it has drained the queue.
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(_END)

    def discard(self) -> None:
        """Drop everything queued and end the stream quietly (the stream was closed)."""
        while not self._queue.empty():
            self._queue.get_nowait()
        self._error = None
        self._finished = True
        self._queue.put_nowait(_END)

    def __aiter__(self) -> StreamQueue[T]:
        return self

    async def __anext__(self) -> T:
        if self._finished and self._queue.empty():
            self._end()
        item = await self._queue.get()
        if item is _END:
            self._queue.put_nowait(_END)  # every later ``anext`` ends too
            self._end()
        return item  # type: ignore[return-value]

    def _end(self) -> None:
        if self._error is not None:
            raise self._error
        raise StopAsyncIteration


def json_object(provider: str, frame: str | bytes) -> dict[str, Any]:
    """A vendor's JSON message, which must be an object; one that is not JSON is named
    by its start (a proxy's HTML error page, say)."""
    try:
        message = json.loads(frame)
    except ValueError as exc:
        text = f"sent a message that is not JSON: {frame[:80]!r}"
        raise ProviderUnavailable(provider, text) from exc
    if not isinstance(message, dict):
        raise ProviderUnavailable(provider, "sent a JSON message that is not an object")
    return message
