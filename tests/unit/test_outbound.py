"""The outbound-URL policy (security/outbound.py): what a user-given URL may be when it
is saved, and what it may reach when the server connects — over real sockets, so the
check is the one the HTTP and WebSocket stacks actually go through."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets

from callwright.api.app import create_app
from callwright.security.outbound import OutboundPolicy, OutboundRefused, parse_allowed_hosts
from callwright.settings import Settings, SettingsError
from tests.vendor_fakes import serve


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://LOCALHOST./hook",
        "https://api.localhost/hook",
        "https://ip6-localhost/hook",
        "https://[::1]:8443/hook",
        "https://169.254.169.254/latest/meta-data/",  # cloud metadata
        "https://10.0.0.1/",
        "https://172.16.5.4/",
        "https://192.168.1.1/",
        "https://100.64.0.1/",  # shared address space (CGNAT)
        "https://0.0.0.0/",
        "https://224.0.0.1/",
        "https://2130706433/",  # 127.0.0.1 as one decimal number
        "https://0x7f000001/",
        "https://0177.0.0.1/",  # octal
        "https://127.1/",
        "https://0x7f.1/",
        "https://[::ffff:127.0.0.1]/",
        "https://[::ffff:a9fe:a9fe]/",  # 169.254.169.254, IPv4-mapped
        "https://[64:ff9b::a9fe:a9fe]/",  # ... through NAT64
        "https://[2002:a9fe:a9fe::1]/",  # ... as 6to4
        "https://[::7f00:1]/",  # IPv4-compatible loopback
        "https://[fe80::1%25eth0]/",  # link-local with a zone
        "https://[fc00::1]/",
        "https://[::]/",
        "https://user:pass@127.0.0.1/",
    ],
)
def test_internal_addresses_are_refused_in_every_spelling(url: str) -> None:
    with pytest.raises(OutboundRefused, match="does not call internal addresses"):
        OutboundPolicy().check_url(url)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://api.example.com/hook", "must be an https:// URL"),
        ("ws://api.example.com/hook", "must be an https:// URL"),
        ("ftp://api.example.com/file", "must be an absolute https:// URL"),
        ("https:///nohost", "must be an absolute https:// URL"),
        ("https://api.example.com:99999/", "not a valid URL"),
    ],
)
def test_only_https_urls_with_a_host(url: str, message: str) -> None:
    with pytest.raises(OutboundRefused, match=message):
        OutboundPolicy().check_url(url)


def test_public_https_urls_pass_and_names_are_left_to_the_connection() -> None:
    policy = OutboundPolicy()
    for url in (
        "https://api.example.com/hook",
        "wss://api.deepgram.com/v1/listen",
        "https://93.184.215.14/",
        "https://[2606:2800:220:1:248:1893:25c8:1946]/",
        "https://rebind.example/",  # may resolve anywhere: checked when connecting
    ):
        policy.check_url(url)


def test_outbound_allow_http_allows_plain_http_to_public_hosts_only() -> None:
    policy = OutboundPolicy(allow_http=True)
    policy.check_url("http://api.example.com/hook")
    with pytest.raises(OutboundRefused, match="loopback"):
        policy.check_url("http://127.0.0.1/hook")


def test_outbound_allowed_hosts_by_name_address_network_and_port() -> None:
    policy = OutboundPolicy(
        allowed_hosts="ollama.internal, localhost:11434,[::1]:9000 10.0.0.0/8 192.168.7.7"
    )
    for url in (
        "http://ollama.internal:11434/v1",  # an allowed host may use http
        "https://OLLAMA.internal./v1",
        "http://localhost:11434/v1",
        "http://[::1]:9000/",
        "https://10.200.3.4/hook",
        "http://192.168.7.7:8080/",
    ):
        policy.check_url(url)
    for url, reason in (
        ("http://localhost:8080/v1", "must be an https"),  # another port
        ("https://localhost:8080/v1", "loopback"),
        ("https://[::1]:9001/", "loopback"),
        ("https://192.168.7.8/", "private"),
        ("http://api.example.com/", "must be an https"),
    ):
        with pytest.raises(OutboundRefused, match=reason):
            policy.check_url(url)


@pytest.mark.parametrize("entry", ["exa!mple", "10.0.0.0/33", "host:0", "host:http", "[::1]x"])
def test_a_bad_allowed_hosts_entry_is_named(entry: str) -> None:
    with pytest.raises(ValueError, match="allowed host"):
        parse_allowed_hosts(entry)


def test_the_server_refuses_to_start_with_a_bad_allowed_hosts_entry() -> None:
    with pytest.raises(SettingsError, match="CALLWRIGHT_OUTBOUND_ALLOWED_HOSTS"):
        create_app(Settings(outbound_allowed_hosts="10.0.0.0/33"))


# -- when connecting --------------------------------------------------------------------


async def _hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": json.dumps({"hello": "ws"})})
        await send({"type": "websocket.close"})
        return
    if scope["type"] != "http":
        return
    if scope["path"] == "/redirect":
        target = dict(scope["headers"]).get(b"x-target", b"").decode()
        await send(
            {
                "type": "http.response.start",
                "status": 302,
                "headers": [(b"location", target.encode())],
            }
        )
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"inside"})


@contextlib.asynccontextmanager
async def _inside() -> AsyncIterator[int]:
    """A server on loopback: the inside a user's URL must not reach."""
    async with serve(_hello) as url:
        yield int(url.rsplit(":", 1)[1])


def _resolving(answers: dict[str, list[str]]) -> Any:
    async def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError(f"{host}: name does not resolve")
        return answers[host]

    return resolve


async def test_a_name_that_resolves_inside_is_refused_when_connecting() -> None:
    # DNS rebinding: the name passes the check made when it is saved, and resolves to
    # loopback when the server connects; the connection is to the address checked.
    policy = OutboundPolicy(allow_http=True, resolver=_resolving({"rebind.test": ["127.0.0.1"]}))
    async with _inside() as port:
        url = f"http://rebind.test:{port}/"
        policy.check_url(url)
        async with httpx.AsyncClient(transport=policy.http_transport()) as client:
            with pytest.raises(httpx.ConnectError, match=r"resolves to a loopback address"):
                await client.get(url)


async def test_a_name_with_one_inside_address_among_public_ones_is_refused() -> None:
    resolver = _resolving({"mixed.test": ["93.184.215.14", "10.0.0.7"]})
    policy = OutboundPolicy(resolver=resolver)
    with pytest.raises(OutboundRefused, match=r"private address \(10\.0\.0\.7\)"):
        await policy.addresses("mixed.test", 443)


async def test_an_allowed_name_reaches_the_inside() -> None:
    resolver = _resolving({"ollama.internal": ["127.0.0.1"]})
    policy = OutboundPolicy(allowed_hosts="ollama.internal", resolver=resolver)
    async with _inside() as port, httpx.AsyncClient(transport=policy.http_transport()) as client:
        response = await client.get(f"http://ollama.internal:{port}/")
    assert (response.status_code, response.text) == (200, "inside")


async def test_a_redirect_into_the_inside_is_refused() -> None:
    async with _inside() as allowed_port, _inside() as inside_port:
        policy = OutboundPolicy(allowed_hosts=f"127.0.0.1:{allowed_port}")
        async with httpx.AsyncClient(
            transport=policy.http_transport(), follow_redirects=True
        ) as client:
            reached = await client.get(f"http://127.0.0.1:{allowed_port}/")
            assert reached.text == "inside"
            with pytest.raises(httpx.ConnectError, match="loopback"):
                await client.get(
                    f"http://127.0.0.1:{allowed_port}/redirect",
                    headers={"x-target": f"http://127.0.0.1:{inside_port}/"},
                )


async def test_the_sdks_http_stack_is_guarded_too() -> None:
    import httpx2

    policy = OutboundPolicy(allow_http=True, resolver=_resolving({"rebind.test": ["127.0.0.1"]}))
    async with (
        _inside() as port,
        httpx2.AsyncClient(transport=policy.httpx2_transport()) as client,
    ):
        with pytest.raises(httpx2.ConnectError, match="loopback"):
            await client.get(f"http://rebind.test:{port}/")


async def test_websockets_connect_only_to_a_checked_address() -> None:
    async with _inside() as port:
        refused = OutboundPolicy(
            allow_http=True, resolver=_resolving({"rebind.test": ["127.0.0.1"]})
        )
        with pytest.raises(OutboundRefused, match="loopback"):
            await refused.websocket_options(f"ws://rebind.test:{port}/")

        allowed = OutboundPolicy(
            allowed_hosts="speech.internal", resolver=_resolving({"speech.internal": ["127.0.0.1"]})
        )
        url = f"ws://speech.internal:{port}/"
        options = await allowed.websocket_options(url)
        assert options == {"host": "127.0.0.1", "port": port, "proxy": None}
        async with websockets.connect(url, **options) as websocket:
            assert json.loads(await websocket.recv()) == {"hello": "ws"}
