"""The contract every cloud TTS adapter keeps, run against each vendor's protocol fake:
audio streams as whole PCM16 at the promised rate; failures arrive as the right
``ProviderError``; a slow vendor times out; closing the stream (a barge-in) closes the
vendor's connection at once."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from callwright.providers.errors import (
    ProviderAuthError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)
from callwright.providers.protocols import TTSOptions
from tests.providers.tts.support import (
    LONG_SENTENCE,
    SENTENCE,
    Harness,
    assert_tone,
    expected_bytes,
    synthesize,
)


async def test_streams_the_whole_sentence_as_pcm16_at_every_supported_rate(
    vendor: Harness,
) -> None:
    for rate in vendor.vendor.sample_rates:
        tts = vendor.adapter(sample_rate=rate)
        assert tts.sample_rate == rate
        assert tts.name == vendor.vendor.name
        assert_tone(await synthesize(tts), rate)
        assert vendor.last.finished


async def test_audio_arrives_while_the_vendor_is_still_speaking(vendor: Harness) -> None:
    vendor.fake.faults.chunk_interval_s = 0.05
    tts = vendor.adapter()
    async with contextlib.aclosing(tts.synthesize(LONG_SENTENCE, TTSOptions())) as audio:
        first = await anext(audio)
        # ~36 chunks 50 ms apart: the first is out while the vendor is still sending.
        assert not vendor.last.finished
        sent_by_then = vendor.last.chunks_sent
        rest = b"".join([chunk async for chunk in audio])
    assert vendor.last.finished
    assert sent_by_then < vendor.last.chunks_sent / 2
    assert len(first) < expected_bytes(LONG_SENTENCE, tts.sample_rate)
    assert len(first + rest) == expected_bytes(LONG_SENTENCE, tts.sample_rate)


async def test_blank_text_asks_the_vendor_nothing(vendor: Harness) -> None:
    tts = vendor.adapter()
    assert await synthesize(tts, "  \n ") == b""
    assert vendor.fake.received == []


async def test_a_bad_key_is_an_auth_error(vendor: Harness) -> None:
    tts = vendor.adapter(api_key="wrong-key")
    with pytest.raises(ProviderAuthError) as caught:
        await synthesize(tts)
    assert not caught.value.retryable
    assert caught.value.provider == vendor.vendor.name


async def test_a_refused_handshake_or_request_401_is_an_auth_error(vendor: Harness) -> None:
    vendor.fake.faults.status = 401
    with pytest.raises(ProviderAuthError):
        await synthesize(vendor.adapter())


async def test_rate_limiting_says_when_to_come_back(vendor: Harness) -> None:
    vendor.fake.faults.status = 429
    vendor.fake.faults.retry_after = "7"
    with pytest.raises(ProviderRateLimited) as caught:
        await synthesize(vendor.adapter())
    assert caught.value.retry_after_s == 7
    assert caught.value.retryable


async def test_a_server_error_is_unavailable(vendor: Harness) -> None:
    vendor.fake.faults.status = 500
    with pytest.raises(ProviderUnavailable) as caught:
        await synthesize(vendor.adapter())
    assert caught.value.retryable


async def test_a_connection_dropped_mid_stream_is_unavailable(vendor: Harness) -> None:
    vendor.fake.faults.drop_after_chunks = 2
    tts = vendor.adapter()
    received: list[bytes] = []

    async def listen() -> None:
        async with asyncio.timeout(10):
            async with contextlib.aclosing(tts.synthesize(SENTENCE, TTSOptions())) as audio:
                async for chunk in audio:
                    received.append(chunk)

    with pytest.raises(ProviderUnavailable):
        await listen()
    assert received, "audio before the drop is delivered"
    assert len(b"".join(received)) < expected_bytes(SENTENCE, tts.sample_rate)


async def test_a_slow_first_byte_times_out(vendor: Harness) -> None:
    vendor.fake.faults.first_byte_delay_s = 10
    tts = vendor.adapter(first_byte_timeout_s=0.3)
    # The vendor answers after 10 s: only the adapter's deadline ends this in time.
    async with asyncio.timeout(5):  # a hang detector
        with pytest.raises(ProviderTimeout):
            await synthesize(tts)
    async with asyncio.timeout(5):
        await vendor.last.client_closed.wait()  # and the request was abandoned


async def test_closing_the_stream_closes_the_vendor_connection(vendor: Harness) -> None:
    vendor.fake.faults.chunk_interval_s = 0.05
    tts = vendor.adapter()
    audio = tts.synthesize(LONG_SENTENCE, TTSOptions())
    assert await anext(audio)
    await audio.aclose()  # what the engine does on a barge-in
    record = vendor.last
    async with asyncio.timeout(2):  # hang detector: the fake sees the close at once
        await record.client_closed.wait()
    assert not record.finished
    assert record.chunks_sent <= 5  # of ~36
    await asyncio.sleep(0.2)
    sent_after_close = record.chunks_sent
    await asyncio.sleep(0.2)
    assert record.chunks_sent == sent_after_close, "the vendor stopped generating"
