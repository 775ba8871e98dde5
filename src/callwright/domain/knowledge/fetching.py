"""Fetching a document from a URL the user gave, without letting it reach inside.

The server fetches on the user's behalf, so the URL must not be a way into the
server's own network (SSRF): every address the host name resolves to must be public
(not loopback, private, link-local, multicast, reserved or unspecified), redirects are
followed by hand (at most five) and each hop is checked the same way, the body is read
as a stream and cut off past the size limit, and the whole fetch has a deadline.

The connection is made by name after the check, so a DNS answer that changes between
the check and the connection (rebinding) is not caught; the check stops the common
case of a URL pointing at internal addresses.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final
from urllib.parse import urljoin, urlsplit

import httpx

from callwright.domain.knowledge.parsing import DocumentRejected
from callwright.errors import PayloadTooLarge

__all__ = ["FetchedDocument", "Resolver", "fetch_document", "system_resolver"]

Resolver = Callable[[str], Awaitable[list[str]]]

_MAX_REDIRECTS: Final = 5
_TIMEOUT_S: Final = 30.0
_USER_AGENT: Final = "callwright-knowledge/1 (+https://github.com/callwright)"


@dataclass(frozen=True, slots=True)
class FetchedDocument:
    content: bytes
    content_type: str | None
    url: str  # after redirects


async def system_resolver(host: str) -> list[str]:
    """Every address ``host`` resolves to (the event loop's resolver, off-thread)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def _check_public(url: str, resolve: Resolver) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DocumentRejected(f"cannot fetch {url!r}: only http(s) URLs with a host")
    host = parts.hostname
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in await resolve(host)]
        except OSError as exc:
            raise DocumentRejected(f"cannot fetch {url!r}: {host} does not resolve") from exc
    if not addresses:
        raise DocumentRejected(f"cannot fetch {url!r}: {host} does not resolve")
    for address in addresses:
        if not address.is_global or address.is_multicast:
            raise DocumentRejected(
                f"cannot fetch {url!r}: {host} is a private or reserved address ({address})"
            )


async def fetch_document(
    url: str,
    *,
    max_bytes: int,
    resolve: Resolver = system_resolver,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FetchedDocument:
    """GET ``url`` (public addresses only), at most ``max_bytes`` of body."""
    try:
        async with (
            asyncio.timeout(_TIMEOUT_S),
            httpx.AsyncClient(
                transport=transport,
                follow_redirects=False,
                timeout=httpx.Timeout(10.0),
                headers={"User-Agent": _USER_AGENT},
            ) as client,
        ):
            current = url
            for _ in range(_MAX_REDIRECTS + 1):
                await _check_public(current, resolve)
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
