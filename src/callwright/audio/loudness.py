"""Loudness of PCM16 audio, in dB relative to full scale."""

from __future__ import annotations

import math
from typing import Final

import numpy as np

from callwright.audio.formats import PCM16, require_whole_samples

__all__ = ["SILENCE_FLOOR_DBFS", "pcm16_rms_dbfs"]

# Quietest loudness reported; one LSB of RMS is about -90.3 dBFS, so this sits below
# anything but digital silence while staying a finite, JSON-friendly number.
SILENCE_FLOOR_DBFS: Final = -100.0


def pcm16_rms_dbfs(pcm16: bytes) -> float:
    """RMS loudness relative to full scale (32768); ``SILENCE_FLOOR_DBFS`` at least."""
    require_whole_samples(pcm16)
    samples = np.frombuffer(pcm16, dtype=PCM16).astype(np.float64)
    if samples.size == 0:
        return SILENCE_FLOOR_DBFS
    mean_square = float(np.dot(samples, samples)) / samples.size
    if mean_square == 0.0:
        return SILENCE_FLOOR_DBFS
    return max(SILENCE_FLOOR_DBFS, 10.0 * math.log10(mean_square / 32768.0**2))
