"""Fixtures for the cloud TTS contract tests: every vendor's fake on a real loopback
port with its adapter pointed at it (helpers live in ``support``)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest

from callwright.providers.tts.azure import AzureTTS
from callwright.providers.tts.cartesia import CartesiaTTS
from callwright.providers.tts.deepgram_aura import DeepgramAuraTTS
from callwright.providers.tts.elevenlabs import ElevenLabsTTS
from callwright.providers.tts.openai_speech import OpenAISpeechTTS
from callwright.providers.tts.playht import PlayHTTTS
from tests.providers.tts.support import Harness, Vendor, serve
from tests.vendor_fakes.azure_tts import AzureTTSFake
from tests.vendor_fakes.cartesia import CartesiaFake
from tests.vendor_fakes.deepgram_speak import DeepgramSpeakFake
from tests.vendor_fakes.elevenlabs import ElevenLabsFake
from tests.vendor_fakes.openai_speech import OpenAISpeechFake
from tests.vendor_fakes.playht import USER_ID, PlayHTFake

VENDORS = {
    vendor.name: vendor
    for vendor in (
        Vendor(
            "elevenlabs",
            ElevenLabsFake,
            lambda key, url, rate, timeout: ElevenLabsTTS(
                key, base_url=url, sample_rate=rate, first_byte_timeout_s=timeout
            ),
            (16000, 8000, 24000),
        ),
        Vendor(
            "cartesia",
            CartesiaFake,
            lambda key, url, rate, timeout: CartesiaTTS(
                key, base_url=url, sample_rate=rate, first_byte_timeout_s=timeout
            ),
            (16000, 8000, 24000),
        ),
        Vendor(
            "deepgram",
            DeepgramSpeakFake,
            lambda key, url, rate, timeout: DeepgramAuraTTS(
                key, base_url=url, sample_rate=rate, first_byte_timeout_s=timeout
            ),
            (16000, 8000, 24000),
        ),
        Vendor(
            "openai",
            OpenAISpeechFake,
            lambda key, url, rate, timeout: OpenAISpeechTTS(
                key, base_url=f"{url}/v1", first_byte_timeout_s=timeout
            ),
            (24000,),
        ),
        Vendor(
            "azure",
            AzureTTSFake,
            lambda key, url, rate, timeout: AzureTTS(
                key, region="eastus", base_url=url, sample_rate=rate, first_byte_timeout_s=timeout
            ),
            (16000, 8000, 24000),
        ),
        Vendor(
            "playht",
            PlayHTFake,
            lambda key, url, rate, timeout: PlayHTTTS(
                key, user_id=USER_ID, base_url=url, sample_rate=rate, first_byte_timeout_s=timeout
            ),
            (16000, 8000, 24000, 44100),
        ),
    )
}


@contextlib.asynccontextmanager
async def running(vendor: Vendor) -> AsyncIterator[Harness]:
    fake = vendor.fake()
    async with serve(fake) as base_url:
        harness = Harness(vendor, fake, base_url)
        try:
            yield harness
        finally:
            await harness.aclose()


@pytest.fixture(params=list(VENDORS))
async def vendor(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    """Each vendor in turn (the contract every adapter keeps)."""
    async with running(VENDORS[request.param]) as harness:
        yield harness


@pytest.fixture
async def elevenlabs() -> AsyncIterator[Harness]:
    async with running(VENDORS["elevenlabs"]) as harness:
        yield harness


@pytest.fixture
async def cartesia() -> AsyncIterator[Harness]:
    async with running(VENDORS["cartesia"]) as harness:
        yield harness


@pytest.fixture
async def deepgram() -> AsyncIterator[Harness]:
    async with running(VENDORS["deepgram"]) as harness:
        yield harness


@pytest.fixture
async def openai_speech() -> AsyncIterator[Harness]:
    async with running(VENDORS["openai"]) as harness:
        yield harness


@pytest.fixture
async def azure() -> AsyncIterator[Harness]:
    async with running(VENDORS["azure"]) as harness:
        yield harness


@pytest.fixture
async def playht() -> AsyncIterator[Harness]:
    async with running(VENDORS["playht"]) as harness:
        yield harness
