"""Fetching a document from a URL the user gave, without letting it reach inside.

The server fetches on the user's behalf, so the URL goes through the operator's
outbound-URL policy (``security.outbound``): https only, and every address the host
name resolves to must be public unless the operator allowed the host. Redirects are
followed by hand (at most five) and each hop is checked the same way before it is
requested; the connection itself is made to an address the policy checked, so a DNS
answer that changes between the check and the connection gains nothing. The body is
read as a stream and cut off past the size limit, and the whole fetch has a deadline.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Final
from urllib.parse import urljoin, urlsplit

import httpx

from callwright.domain.knowledge.documents import DocumentRejected
from callwright.errors import PayloadTooLarge
from callwright.security.outbound import STRICT, OutboundPolicy, OutboundRefused

__all__ = ["FetchedDocument", "fetch_document"]

_MAX_REDIRECTS: Final = 5
_TIMEOUT_S: Final = 30.0
_USER_AGENT: Final = "callwright-knowledge/1 (+https://github.com/callwright)"
_DEFAULT_PORTS: Final = {"https": 443, "http": 80}


@dataclass(frozen=True, slots=True)
class FetchedDocument:
    content: bytes
    content_type: str | None
    url: str  # after redirects


async def _check(url: str, outbound: OutboundPolicy) -> None:
    """Refuse a hop the policy refuses, naming why (before anything is requested)."""
    try:
        outbound.check_url(url)
        parts = urlsplit(url)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower(), 443)
        await outbound.addresses(parts.hostname or "", port)
    except OutboundRefused as exc:
        raise DocumentRejected(f"cannot fetch {url!r}: {exc}") from exc
    except OSError as exc:
        raise DocumentRejected(f"cannot fetch {url!r}: {exc}") from exc


async def fetch_document(
    url: str,
    *,
    max_bytes: int,
    outbound: OutboundPolicy = STRICT,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FetchedDocument:
    """GET ``url`` as ``outbound`` allows, at most ``max_bytes`` of body (``transport``
    replaces the connection, for tests that serve no sockets)."""
    try:
        async with (
            asyncio.timeout(_TIMEOUT_S),
            httpx.AsyncClient(
                transport=transport or outbound.http_transport(),
                follow_redirects=False,
                timeout=httpx.Timeout(10.0),
                headers={"User-Agent": _USER_AGENT},
            ) as client,
        ):
            current = url
            for _ in range(_MAX_REDIRECTS + 1):
                await _check(current, outbound)
                async with client.stream("GET", current) as response:
                    if response.is_redirect and "location" in response.headers:
                        current = urljoin(current, response.headers["location"])
                        continue
                    if response.status_code >= 400:
                        raise DocumentRejected(
                            f"fetching {current} answered HTTP {response.status_code}"
                        )
                    declared = response.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > max_bytes:
                        raise PayloadTooLarge(
                            f"{current} is {declared} bytes; the limit is {max_bytes}"
                        )
                    body = bytearray()
                    async for piece in response.aiter_bytes():
                        body.extend(piece)
                        if len(body) > max_bytes:
                            raise PayloadTooLarge(f"{current} is over the {max_bytes}-byte limit")
                    return FetchedDocument(
                        bytes(body), response.headers.get("content-type"), str(response.url)
                    )
            raise DocumentRejected(f"fetching {url} redirected more than {_MAX_REDIRECTS} times")
    except TimeoutError as exc:
        raise DocumentRejected(f"fetching {url} took longer than {_TIMEOUT_S:.0f} s") from exc
    except httpx.HTTPError as exc:
        raise DocumentRejected(f"fetching {url} failed: {exc or type(exc).__name__}") from exc
