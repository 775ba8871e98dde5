"""Audio formats: a mono stream's sample rate and encoding, frame sizes and durations.

Two encodings exist: PCM16 (signed 16-bit little-endian samples, the engine's own) and
G.711 μ-law (one byte a sample, what telephony carries).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import numpy as np

__all__ = [
    "BROWSER_FORMAT",
    "ENGINE_FORMAT",
    "MULAW_SILENCE_BYTE",
    "PCM16",
    "PCM16_SILENCE_BYTE",
    "TWILIO_FORMAT",
    "AudioEncoding",
    "AudioFormat",
    "duration_s",
    "frame_bytes",
    "require_whole_samples",
]

AudioEncoding = Literal["pcm16", "mulaw"]

PCM16_SILENCE_BYTE: Final = 0x00
MULAW_SILENCE_BYTE: Final = 0xFF  # μ-law 0xFF decodes to sample 0
# PCM16 is little-endian by definition, whatever the host.
PCM16: Final = np.dtype(np.int16).newbyteorder("<")

_BYTES_PER_SAMPLE: Final[dict[str, int]] = {"pcm16": 2, "mulaw": 1}
_SILENCE_BYTE: Final[dict[str, int]] = {"pcm16": PCM16_SILENCE_BYTE, "mulaw": MULAW_SILENCE_BYTE}


def _bytes_per_sample(encoding: AudioEncoding) -> int:
    if encoding not in _BYTES_PER_SAMPLE:
        raise ValueError(f"unknown audio encoding {encoding!r}")
    return _BYTES_PER_SAMPLE[encoding]


def require_whole_samples(pcm16: bytes) -> None:
    """Refuse PCM16 audio cut in the middle of a sample (``ValueError``)."""
    if len(pcm16) % 2:
        raise ValueError(f"PCM16 audio must be an even number of bytes, not {len(pcm16)}")


def frame_bytes(sample_rate: int, frame_ms: int, encoding: AudioEncoding) -> int:
    """Bytes in one ``frame_ms`` frame; the frame must hold a whole number of samples."""
    samples, remainder = divmod(sample_rate * frame_ms, 1000)
    if remainder or samples <= 0:
        raise ValueError(f"{frame_ms} ms at {sample_rate} Hz is not a whole number of samples")
    return samples * _bytes_per_sample(encoding)


def duration_s(n_bytes: int, sample_rate: int, encoding: AudioEncoding) -> float:
    """Seconds of audio held in ``n_bytes`` of the given rate and encoding."""
    return n_bytes / (sample_rate * _bytes_per_sample(encoding))


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """A mono audio stream's sample rate (Hz) and sample encoding."""

    sample_rate: int
    encoding: AudioEncoding

    def __post_init__(self) -> None:
        if self.sample_rate <= 0:
            raise ValueError(f"sample rate must be positive, not {self.sample_rate}")
        _bytes_per_sample(self.encoding)

    @property
    def bytes_per_sample(self) -> int:
        return _bytes_per_sample(self.encoding)

    @property
    def silence_byte(self) -> int:
        """The byte value that, repeated, is digital silence in this encoding."""
        return _SILENCE_BYTE[self.encoding]

    def frame_bytes(self, ms: int = 20) -> int:
        return frame_bytes(self.sample_rate, ms, self.encoding)

    def duration_s(self, n_bytes: int) -> float:
        return duration_s(n_bytes, self.sample_rate, self.encoding)


TWILIO_FORMAT: Final = AudioFormat(8000, "mulaw")
BROWSER_FORMAT: Final = AudioFormat(16000, "pcm16")
ENGINE_FORMAT: Final = AudioFormat(16000, "pcm16")
