"""Helpers the cloud TTS contract tests share: each vendor's fake served on a loopback
port (HTTP and WebSocket, denial responses included), the adapter pointed at it, and
checks that what came back is the fake's tone at the promised rate."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from callwright.providers.protocols import TTS, TTSOptions
from tests.vendor_fakes import serve as serve  # the shared helper, for these tests
from tests.vendor_fakes.tts_support import Received, speech_seconds

TONE_HZ = 440.0
SENTENCE = "Hello, thanks for calling. How can I help you today?"
LONG_SENTENCE = "This answer goes on for quite a while, long enough to be interrupted midway."


@dataclass
class Vendor:
    """How to run one vendor's fake and point its adapter at it."""

    name: str
    fake: Callable[[], Any]
    # (api_key, base_url, sample_rate, first_byte_timeout_s) -> adapter
    adapter: Callable[[str, str, int, float], TTS]
    sample_rates: tuple[int, ...]


@dataclass
class Harness:
    """A running fake and the adapters made against it (closed at teardown)."""

    vendor: Vendor
    fake: Any
    base_url: str
    adapters: list[TTS] = field(default_factory=list)

    def adapter(
        self,
        *,
        sample_rate: int | None = None,
        api_key: str | None = None,
        first_byte_timeout_s: float = 5.0,
    ) -> TTS:
        made = self.vendor.adapter(
            api_key or self.fake.api_key,
            self.base_url,
            sample_rate or self.vendor.sample_rates[0],
            first_byte_timeout_s,
        )
        self.adapters.append(made)
        return made

    @property
    def last(self) -> Received:
        received: Received = self.fake.received[-1]
        return received

    async def aclose(self) -> None:
        for made in self.adapters:
            if (aclose := getattr(made, "aclose", None)) is not None:
                await aclose()


async def synthesize(tts: TTS, text: str = SENTENCE, options: TTSOptions | None = None) -> bytes:
    """All audio for ``text``, each chunk checked to be whole PCM16 samples; a hang
    guard keeps a broken adapter from stalling the suite."""
    chunks: list[bytes] = []
    async with asyncio.timeout(20):
        async with contextlib.aclosing(tts.synthesize(text, options or TTSOptions())) as audio:
            async for chunk in audio:
                assert chunk, "empty chunks are noise"
                assert len(chunk) % 2 == 0, "every chunk holds whole 16-bit samples"
                chunks.append(chunk)
    return b"".join(chunks)


def expected_bytes(text: str, sample_rate: int) -> int:
    """The PCM16 length the fakes' tone for ``text`` has at ``sample_rate``."""
    return 2 * round(sample_rate * speech_seconds(text))


def dominant_hz(pcm16: bytes, sample_rate: int) -> float:
    samples = np.frombuffer(pcm16, dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.argmax(spectrum) * sample_rate / samples.size)


def assert_tone(pcm16: bytes, sample_rate: int, text: str = SENTENCE) -> None:
    """``pcm16`` is the fakes' 440 Hz tone for ``text``, whole, at ``sample_rate``
    (a wrong rate, byte order or μ-law decoding moves or smears the peak)."""
    assert len(pcm16) == expected_bytes(text, sample_rate)
    assert abs(dominant_hz(pcm16, sample_rate) - TONE_HZ) < 3
    peak = int(np.abs(np.frombuffer(pcm16, dtype="<i2")).max())
    assert 15000 <= peak <= 16500, f"half-scale tone expected, peak {peak}"
