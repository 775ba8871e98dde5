"""Which URLs the server may call on a user's behalf: the outbound-URL policy.

Every request the server makes to a URL a user gave (webhooks, ``end_call_url``, tool
servers, an assistant's or an organization's provider endpoints, knowledge URLs) must
not be a way into the server's own network (SSRF). One policy serves them all:

- **https** (``wss``); plain ``http`` (``ws``) only where the operator allows it
  (``CALLWRIGHT_OUTBOUND_ALLOW_HTTP``) or for a host the operator allowed;
- **no internal address**: loopback, private, link-local, shared (CGNAT), multicast,
  reserved or unspecified, in any spelling (decimal, hex, octal and short IPv4 forms;
  IPv4 inside IPv6 as mapped, compatible, 6to4 or NAT64 addresses), unless the operator
  allowed that host, address or network (``CALLWRIGHT_OUTBOUND_ALLOWED_HOSTS``);
- checked **when a URL is saved** (``check_url``: the scheme and a literal host; names
  are not resolved then) and **again on every connection**, on the addresses the name
  resolves to. The connection is then made to the address that was checked, so a DNS
  answer that changes in between (rebinding) gains nothing, and a redirect is a new
  connection checked the same way. ``http_transport`` (httpx), ``httpx2_transport``
  (the OpenAI and Anthropic SDKs) and ``websocket_options`` (websockets) do this.

The operator's own endpoints (``CALLWRIGHT_<VENDOR>_BASE_URL``, the Twilio API base URL,
S3) are configuration, not user input, and do not go through this policy.

Allowed hosts are a comma- or space-separated list of entries: a host name
(``ollama.internal``: any address it resolves to), an address (``10.0.0.7``,
``[fd00::7]``), either with an optional port (``localhost:11434``), or a network
(``10.0.0.0/8``).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import httpx
    import httpx2

__all__ = [
    "OUTBOUND_URL",
    "STRICT",
    "OutboundPolicy",
    "OutboundRefused",
    "OutboundURL",
    "Resolver",
    "parse_allowed_hosts",
    "system_resolver",
]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# host, port -> the addresses to try, in order.
Resolver = Callable[[str, int], Awaitable[list[str]]]

_SECURE_SCHEMES: Final = frozenset({"https", "wss"})
_PLAIN_SCHEMES: Final = frozenset({"http", "ws"})
_DEFAULT_PORTS: Final = {"https": 443, "wss": 443, "http": 80, "ws": 80}
# Names every resolver answers with a loopback address, refused before any lookup.
_LOOPBACK_NAMES: Final = frozenset(
    {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
)
# Legacy IPv4 spellings inet_aton accepts: 2130706433, 0x7f000001, 0177.0.0.1, 127.1.
_NUMERIC_HOST: Final = re.compile(r"^[0-9][0-9a-fA-FxX.]*$")
_HOST_NAME: Final = re.compile(r"^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_-]{1,63})*$")
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE: Final = ipaddress.IPv6Network("::/96")


class OutboundRefused(ValueError):
    """The policy refuses a URL or an address; the message says why (never a secret)."""


class OutboundURL:
    """``Annotated`` marker for a string field holding a URL the server will call on a
    user's behalf: services check every marked field with ``OutboundPolicy.check_url``
    when a resource is saved (``domain.validation.check_outbound_urls``)."""

    def __repr__(self) -> str:
        return "OUTBOUND_URL"


OUTBOUND_URL: Final = OutboundURL()


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the event loop's resolver, off-thread)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True, slots=True)
class _Allowed:
    """One allowed-hosts entry: a host name, or a network (an address is a /32 or
    /128), with the port it is limited to, if any."""

    name: str | None = None
    network: Network | None = None
    port: int | None = None

    def matches_name(self, host: str, port: int) -> bool:
        return self.name == host and self.port in (None, port)

    def matches_address(self, address: Address, port: int) -> bool:
        return (
            self.network is not None
            and address.version == self.network.version
            and address in self.network
            and self.port in (None, port)
        )


def parse_allowed_hosts(text: str | Iterable[str]) -> tuple[_Allowed, ...]:
    """The entries of ``CALLWRIGHT_OUTBOUND_ALLOWED_HOSTS``; ``ValueError`` names an
    entry that is none of a host name, an address or a network (each with an optional
    port, but for networks)."""
    items = text.replace(",", " ").split() if isinstance(text, str) else list(text)
    return tuple(_parse_entry(item.strip()) for item in items if item.strip())


def _parse_entry(entry: str) -> _Allowed:
    if "/" in entry:
        try:
            return _Allowed(network=ipaddress.ip_network(entry, strict=False))
        except ValueError as exc:
            raise ValueError(f"allowed host {entry!r} is not a network: {exc}") from exc
    host, port = entry, None
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"allowed host {entry!r}: expected [address]:port")
            port = _port(entry, rest[1:])
    elif entry.count(":") == 1:
        host, text = entry.split(":")
        port = _port(entry, text)
    host = _normal_host(host)
    address = _literal_address(host)
    if address is not None:
        return _Allowed(network=ipaddress.ip_network(address), port=port)
    if not _HOST_NAME.match(host):
        raise ValueError(f"allowed host {entry!r} is not a host name, address or network")
    return _Allowed(name=host, port=port)


def _port(entry: str, text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"allowed host {entry!r} has an invalid port")
    return int(text)


def _normal_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def _literal_address(host: str) -> Address | None:
    """The address a host written as one means, in any spelling; None for a name."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])  # an IPv6 zone id goes
    except ValueError:
        pass
    if _NUMERIC_HOST.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries to the IPv4 network, if it does."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def internal_reason(address: Address) -> str | None:
    """Why ``address`` is not a public one the server may call, or None."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None and (reason := internal_reason(embedded)) is not None:
            return reason
    for reason, inside in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    ):
        if inside:
            return reason
    return None if address.is_global else "non-public"


class OutboundPolicy:
    """The outbound-URL policy (module docstring). ``resolver`` is for tests that need
    a name to resolve somewhere in particular (rebinding); the system's by default."""

    def __init__(
        self,
        *,
        allowed_hosts: str | Iterable[str] = (),
        allow_http: bool = False,
        resolver: Resolver = system_resolver,
    ) -> None:
        self._allowed = parse_allowed_hosts(allowed_hosts)
        self._allow_http = allow_http
        self._resolve = resolver

    @classmethod
    def from_settings(cls, settings: Any) -> OutboundPolicy:
        """The operator's policy from ``Settings`` (``outbound_allowed_hosts``,
        ``outbound_allow_http``); ``ValueError`` names a bad allowed-hosts entry. One
        instance per configuration, shared by the process."""
        return _policy_for(settings.outbound_allowed_hosts, settings.outbound_allow_http)

    def _allows_name(self, host: str, port: int) -> bool:
        return any(entry.matches_name(host, port) for entry in self._allowed)

    def _allows_address(self, address: Address, port: int) -> bool:
        return any(entry.matches_address(address, port) for entry in self._allowed)

    def check_url(self, url: str) -> None:
        """Refuse (``OutboundRefused``) a URL that cannot be allowed whatever its name
        resolves to: a scheme other than https/wss (http/ws where allowed), no host,
        a literal internal address or a loopback name not on the allowed list."""
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError as exc:
            raise OutboundRefused(f"{url!r} is not a valid URL: {exc}") from exc
        scheme = parts.scheme.lower()
        host = _normal_host(parts.hostname or "")
        if scheme not in _SECURE_SCHEMES | _PLAIN_SCHEMES or not host:
            raise OutboundRefused("must be an absolute https:// URL")
        port = port or _DEFAULT_PORTS[scheme]
        address = _literal_address(host)
        allowed = self._allows_name(host, port) or (
            address is not None and self._allows_address(address, port)
        )
        if scheme in _PLAIN_SCHEMES and not (self._allow_http or allowed):
            raise OutboundRefused(
                "must be an https:// URL (the operator allows http:// only for the hosts in "
                "CALLWRIGHT_OUTBOUND_ALLOWED_HOSTS, or everywhere with "
                "CALLWRIGHT_OUTBOUND_ALLOW_HTTP)"
            )
        if allowed:
            return
        if address is not None and (reason := internal_reason(address)) is not None:
            raise OutboundRefused(_refusal(host, f"a {reason} address ({address})"))
        if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
            raise OutboundRefused(_refusal(host, "a loopback name"))

    async def addresses(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for ``host:port``, every one of them allowed;
        ``OutboundRefused`` when any is internal and not allowed (a name that also
        resolves inside is refused whole, not tried address by address)."""
        name = _normal_host(host)
        literal = _literal_address(name)
        if literal is None and self._allows_name(name, port):
            return await self._lookup(host, port)
        if literal is not None:
            found: list[Address] = [literal]
        else:
            found = [_literal_address_strict(a) for a in await self._lookup(host, port)]
        for address in found:
            if self._allows_address(address, port):
                continue
            if (reason := internal_reason(address)) is not None:
                where = "is" if literal is not None else "resolves to"
                raise OutboundRefused(_refusal(name, f"a {reason} address ({address})", where))
        return [str(address) for address in found]

    async def _lookup(self, host: str, port: int) -> list[str]:
        try:
            found = await self._resolve(host, port)
        except OSError as exc:
            raise OSError(f"{host} does not resolve: {exc}") from exc
        if not found:
            raise OSError(f"{host} does not resolve")
        return found

    def http_transport(self) -> httpx.AsyncHTTPTransport:
        """An httpx transport whose every connection goes to an address this policy
        checked (``addresses``); a refusal is an ``httpx.ConnectError``."""
        import httpcore
        import httpx

        transport = httpx.AsyncHTTPTransport()
        pool: Any = transport._pool  # the one place httpx lets a network backend in
        pool._network_backend = _guarded_backend(self, pool._network_backend, httpcore)
        return transport

    def httpx2_transport(self) -> httpx2.AsyncHTTPTransport:
        """The same for the ``httpx2`` stack the OpenAI and Anthropic SDKs use."""
        import httpcore2
        import httpx2

        transport = httpx2.AsyncHTTPTransport()
        pool: Any = transport._pool
        pool._network_backend = _guarded_backend(self, pool._network_backend, httpcore2)
        return transport

    async def websocket_options(self, url: str) -> dict[str, Any]:
        """Keyword arguments for ``websockets.connect(url, ...)`` that connect to an
        address this policy checked (TLS still verifies the URL's host name), with no
        proxy from the environment in between."""
        self.check_url(url)
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        port = parts.port or _DEFAULT_PORTS[scheme]
        found = await self.addresses(parts.hostname or "", port)
        return {"host": found[0], "port": port, "proxy": None}


@functools.lru_cache(maxsize=8)
def _policy_for(allowed_hosts: str, allow_http: bool) -> OutboundPolicy:
    return OutboundPolicy(allowed_hosts=allowed_hosts, allow_http=allow_http)


STRICT: Final = OutboundPolicy()
"""The policy with nothing allowed: what a service uses unless given the operator's."""


def _literal_address_strict(text: str) -> Address:
    return ipaddress.ip_address(text.split("%", 1)[0])


def _refusal(host: str, what: str, where: str = "is") -> str:
    return (
        f"{host} {where} {what}: the server does not call internal addresses unless the "
        "operator allows the host (CALLWRIGHT_OUTBOUND_ALLOWED_HOSTS)"
    )


def _guarded_backend(policy: OutboundPolicy, inner: Any, httpcore: Any) -> Any:
    """An ``AsyncNetworkBackend`` of the given httpcore module (``httpcore`` or
    ``httpcore2``: the same interface, distinct classes) that connects through
    ``policy``."""

    class GuardedBackend(httpcore.AsyncNetworkBackend):  # type: ignore[misc]
        async def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
            local_address: str | None = None,
            socket_options: Iterable[Any] | None = None,
        ) -> Any:
            try:
                async with asyncio.timeout(timeout):
                    found = await policy.addresses(host, port)
            except OutboundRefused as exc:
                raise httpcore.ConnectError(str(exc)) from exc
            except TimeoutError as exc:
                raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
            except OSError as exc:
                raise httpcore.ConnectError(str(exc)) from exc
            failure: Exception | None = None
            for address in found:
                try:
                    return await inner.connect_tcp(
                        address,
                        port,
                        timeout=timeout,
                        local_address=local_address,
                        socket_options=socket_options,
                    )
                except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                    failure = exc
            assert failure is not None
            raise failure

        async def connect_unix_socket(
            self,
            path: str,
            timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
            socket_options: Iterable[Any] | None = None,
        ) -> Any:
            raise httpcore.ConnectError("the outbound-URL policy allows no Unix sockets")

        async def sleep(self, seconds: float) -> None:
            await inner.sleep(seconds)

    return GuardedBackend()
