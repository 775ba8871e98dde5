"""URL documents are fetched without letting a URL reach inside the server's network."""

from __future__ import annotations

import httpx
import pytest

from callwright.domain.knowledge.documents import DocumentRejected
from callwright.domain.knowledge.fetching import fetch_document
from callwright.errors import PayloadTooLarge
from callwright.security.outbound import OutboundPolicy

ADDRESSES = {
    "docs.example.com": ["93.184.215.14"],
    "intranet.example.com": ["10.0.0.7"],
    "mixed.example.com": ["93.184.215.14", "192.168.1.1"],
    "v6.example.com": ["::1"],
}


async def resolve(host: str, port: int) -> list[str]:
    if host not in ADDRESSES:
        raise OSError(f"{host}: name does not resolve")
    return ADDRESSES[host]


POLICY = OutboundPolicy(resolver=resolve)


def serving(routes: dict[str, httpx.Response]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        return routes.get(str(request.url), httpx.Response(404))

    return httpx.MockTransport(handler)


async def fetch(url: str, transport: httpx.MockTransport, max_bytes: int = 1000) -> bytes:
    fetched = await fetch_document(url, max_bytes=max_bytes, outbound=POLICY, transport=transport)
    return fetched.content


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/",
        "https://169.254.169.254/latest/meta-data/",  # cloud metadata
        "https://[::1]:8000/",
        "https://intranet.example.com/wiki",
        "https://mixed.example.com/",
        "https://v6.example.com/",
        "https://0.0.0.0/",
    ],
)
async def test_private_and_reserved_addresses_are_refused(url: str) -> None:
    transport = serving({})
    with pytest.raises(DocumentRejected, match="does not call internal addresses"):
        await fetch(url, transport)


async def test_a_redirect_into_the_network_is_refused() -> None:
    transport = serving(
        {
            "https://docs.example.com/a": httpx.Response(
                302, headers={"location": "http://10.1.2.3/secret"}
            )
        }
    )
    with pytest.raises(DocumentRejected, match=r"10\.1\.2\.3"):
        await fetch("https://docs.example.com/a", transport)


async def test_redirect_loops_errors_and_unknown_hosts() -> None:
    loop = serving(
        {"https://docs.example.com/loop": httpx.Response(302, headers={"location": "/loop"})}
    )
    with pytest.raises(DocumentRejected, match="redirected more than 5 times"):
        await fetch("https://docs.example.com/loop", loop)
    with pytest.raises(DocumentRejected, match="HTTP 404"):
        await fetch("https://docs.example.com/missing", serving({}))
    with pytest.raises(DocumentRejected, match="does not resolve"):
        await fetch("https://nowhere.example.com/", serving({}))
    with pytest.raises(DocumentRejected, match="https"):
        await fetch("ftp://docs.example.com/file", serving({}))
    with pytest.raises(DocumentRejected, match="must be an https:// URL"):
        await fetch("http://docs.example.com/file", serving({}))


async def test_the_body_is_cut_off_past_the_limit() -> None:
    declared = serving({"https://docs.example.com/big": httpx.Response(200, content=b"x" * 2000)})
    with pytest.raises(PayloadTooLarge, match="2000 bytes; the limit is 1000"):
        await fetch("https://docs.example.com/big", declared)

    def stream(request: httpx.Request) -> httpx.Response:
        # No Content-Length: counted as it arrives.
        return httpx.Response(200, stream=httpx.ByteStream(b"y" * 1500))

    streamed = httpx.MockTransport(stream)
    with pytest.raises(PayloadTooLarge, match="over the 1000-byte limit"):
        await fetch("https://docs.example.com/streamed", streamed)


async def test_a_public_document_is_fetched() -> None:
    transport = serving(
        {
            "https://docs.example.com/faq.txt": httpx.Response(
                200, content=b"hello", headers={"content-type": "text/plain"}
            )
        }
    )
    fetched = await fetch_document(
        "https://docs.example.com/faq.txt", max_bytes=100, outbound=POLICY, transport=transport
    )
    assert (fetched.content, fetched.content_type, fetched.url) == (
        b"hello",
        "text/plain",
        "https://docs.example.com/faq.txt",
    )
