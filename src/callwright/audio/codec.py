"""The G.711 μ-law codec of telephony: table lookups, bit-identical to the stdlib's
``audioop.lin2ulaw(x, 2)``/``audioop.ulaw2lin(x, 2)`` (removed in Python 3.13)."""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from callwright.audio.formats import PCM16, require_whole_samples

__all__ = ["mulaw_decode", "mulaw_encode"]

_UINT16_LE: Final = np.dtype(np.uint16).newbyteorder("<")


def _build_mulaw_encode_table() -> npt.NDArray[np.uint8]:
    # CPython's audioop: st_14linear2ulaw(sample >> 2), indexed by the sample's 16 bits.
    value = np.arange(65536, dtype=np.uint16).view(np.int16).astype(np.int32) >> 2
    magnitude = np.minimum(np.abs(value), 8159) + (0x84 >> 2)  # clip, then add the bias
    segment_ends = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
    segment = np.searchsorted(segment_ends, magnitude, side="left")
    code = (segment << 4) | ((magnitude >> (np.minimum(segment, 7) + 1)) & 0x0F)
    code = np.where(segment >= 8, 0x7F, code) ^ np.where(value < 0, 0x7F, 0xFF)
    return code.astype(np.uint8)


def _build_mulaw_decode_table() -> npt.NDArray[np.int16]:
    inverted = ~np.arange(256, dtype=np.int32) & 0xFF
    magnitude = (((inverted & 0x0F) << 3) + 0x84) << ((inverted & 0x70) >> 4)
    return np.where(inverted & 0x80, 0x84 - magnitude, magnitude - 0x84).astype(PCM16)


_MULAW_ENCODE: Final = _build_mulaw_encode_table()
_MULAW_DECODE: Final = _build_mulaw_decode_table()


def mulaw_encode(pcm16: bytes) -> bytes:
    """PCM16 → G.711 μ-law, one byte a sample; identical to ``audioop.lin2ulaw(x, 2)``."""
    require_whole_samples(pcm16)
    return _MULAW_ENCODE.take(np.frombuffer(pcm16, dtype=_UINT16_LE)).tobytes()


def mulaw_decode(mulaw: bytes) -> bytes:
    """G.711 μ-law → PCM16; identical to ``audioop.ulaw2lin(x, 2)``."""
    return _MULAW_DECODE.take(np.frombuffer(mulaw, dtype=np.uint8)).tobytes()
