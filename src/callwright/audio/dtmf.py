"""DTMF (ITU-T Q.23) tones as audio, for keying digits into an IVR from inside a call.

Twilio Media Streams carry audio only, with no way to send DTMF events, so the digits
are played in-band: each is the sum of its row and column frequencies, held for
``tone_ms`` and followed by ``gap_ms`` of silence (100 ms each by default: well above
Q.24's 40 ms minimum, which every exchange and IVR detects), at a level under full
scale so that μ-law does not clip the pair."""

from __future__ import annotations

from typing import Final

import numpy as np

from callwright.audio.formats import PCM16

__all__ = ["DTMF_DIGITS", "DTMF_FREQUENCIES", "dtmf_audio"]

_ROWS: Final = (697.0, 770.0, 852.0, 941.0)
_COLUMNS: Final = (1209.0, 1336.0, 1477.0, 1633.0)
_KEYPAD: Final = ("123A", "456B", "789C", "*0#D")

DTMF_FREQUENCIES: Final[dict[str, tuple[float, float]]] = {
    key: (_ROWS[row], _COLUMNS[column])
    for row, keys in enumerate(_KEYPAD)
    for column, key in enumerate(keys)
}
DTMF_DIGITS: Final = frozenset(DTMF_FREQUENCIES)
# Each of the two tones at -9 dBFS: the pair peaks at about -3 dBFS.
_AMPLITUDE: Final = 0.35 * 32767


def dtmf_audio(digits: str, sample_rate: int, *, tone_ms: int = 100, gap_ms: int = 100) -> bytes:
    """PCM16 mono at ``sample_rate``: each digit's tone then a gap. ``ValueError`` for
    a character that is not a DTMF key (0-9, *, #, A-D); ``w`` is a half-second pause,
    as in Twilio's ``sendDigits``."""
    tone_n = sample_rate * tone_ms // 1000
    gap = np.zeros(sample_rate * gap_ms // 1000)
    t = np.arange(tone_n) / sample_rate
    parts: list[np.ndarray] = []
    for digit in digits.upper():
        if digit == "W":
            parts.append(np.zeros(sample_rate // 2))
            continue
        if digit not in DTMF_FREQUENCIES:
            raise ValueError(f"{digit!r} is not a DTMF key (0-9, *, #, A-D, or w to wait)")
        low, high = DTMF_FREQUENCIES[digit]
        parts += [_AMPLITUDE * (np.sin(2 * np.pi * low * t) + np.sin(2 * np.pi * high * t)), gap]
    if not parts:
        return b""
    return np.concatenate(parts).round().astype(PCM16).tobytes()
