"""The helpers every cloud voice shares: vendor URLs, whole samples, deadlines."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest

from callwright.providers.errors import ProviderRequestError, ProviderTimeout
from callwright.providers.tts.streaming import (
    Pcm16Aligner,
    passthrough,
    query_value,
    vendor_url,
    within_deadlines,
)


def test_vendor_url() -> None:
    assert vendor_url("https://api.x.io", "/v1/a", {"b": "c d"}) == "https://api.x.io/v1/a?b=c+d"
    assert vendor_url("http://127.0.0.1:9/", "/p", websocket=True) == "ws://127.0.0.1:9/p"
    assert vendor_url("https://proxy.io/el/", "/v1", websocket=True) == "wss://proxy.io/el/v1"
    assert vendor_url("wss://api.x.io", websocket=True) == "wss://api.x.io"
    for bad in ("api.x.io", "ftp://x.io", "https://", ""):
        with pytest.raises(ValueError, match="base URL"):
            vendor_url(bad, websocket=True)
    with pytest.raises(ValueError, match="http"):
        vendor_url("wss://api.x.io")


def test_query_values_and_passthrough() -> None:
    assert [query_value("v", "k", value) for value in (True, False, 3, 1.5, "x")] == [
        "true",
        "false",
        "3",
        "1.5",
        "x",
    ]
    with pytest.raises(ProviderRequestError, match=r"provider_config\.k"):
        query_value("v", "k", None)
    extra = {"api_key": "s", "base_url": "u", "region": "r", "speed": 1}
    assert passthrough(extra) == {"speed": 1}


def test_the_aligner_keeps_whole_samples() -> None:
    align = Pcm16Aligner()
    pieces = [align.push(chunk) for chunk in (b"\x01", b"\x02\x03", b"\x04\x05\x06", b"")]
    assert pieces == [b"", b"\x01\x02", b"\x03\x04\x05\x06", b""]


async def _paced(*delays: float) -> AsyncGenerator[int, None]:
    for number, delay in enumerate(delays):
        await asyncio.sleep(delay)
        yield number


async def test_deadlines_on_the_first_and_later_items() -> None:
    fast = within_deadlines("v", _paced(0, 0.01, 0.01), first_s=1, next_s=1)
    assert [item async for item in fast] == [0, 1, 2]
    slow_first = within_deadlines("v", _paced(0.5), first_s=0.05, next_s=1)
    with pytest.raises(ProviderTimeout, match=r"no first audio within 0\.05 s"):
        await anext(slow_first)
    stalled = within_deadlines("v", _paced(0, 0.5), first_s=1, next_s=0.05)
    assert await anext(stalled) == 0
    with pytest.raises(ProviderTimeout, match="no further audio"):
        await anext(stalled)


async def test_closing_the_deadline_closes_the_stream() -> None:
    closed = asyncio.Event()

    async def source() -> AsyncGenerator[int, None]:
        try:
            yield 1
            yield 2
        finally:
            closed.set()

    bounded = within_deadlines("v", source())
    assert await anext(bounded) == 1
    await bounded.aclose()
    assert closed.is_set()
