"""A DTMF detector for tests: Goertzel filters at the eight keypad frequencies over
short blocks, a block being a key when one row and one column tone carry almost all of
its energy, and a key counted once per run of blocks (the gaps separate repeats)."""

from __future__ import annotations

import numpy as np

_ROWS = (697.0, 770.0, 852.0, 941.0)
_COLUMNS = (1209.0, 1336.0, 1477.0, 1633.0)
_KEYPAD = ("123A", "456B", "789C", "*0#D")


def _goertzel_power(block: np.ndarray, frequency: float, sample_rate: int) -> float:
    coefficient = 2 * np.cos(2 * np.pi * frequency / sample_rate)
    previous = before = 0.0
    for sample in block:
        previous, before = sample + coefficient * previous - before, previous
    return float(previous**2 + before**2 - coefficient * previous * before)


def detect_dtmf(pcm16: bytes, sample_rate: int, *, block_ms: int = 20) -> str:
    """The keys in ``pcm16`` (mono PCM16), in order."""
    samples = np.frombuffer(pcm16, dtype="<i2").astype(np.float64)
    size = sample_rate * block_ms // 1000
    keys: list[str | None] = []
    for start in range(0, len(samples) - size + 1, size):
        block = samples[start : start + size]
        energy = float(np.dot(block, block)) * size / 2  # Goertzel's scale for a pure tone
        if energy < 1e3 * size:
            keys.append(None)
            continue
        rows = [_goertzel_power(block, f, sample_rate) for f in _ROWS]
        columns = [_goertzel_power(block, f, sample_rate) for f in _COLUMNS]
        row, column = int(np.argmax(rows)), int(np.argmax(columns))
        pair = rows[row] + columns[column]
        others = sum(rows) + sum(columns) - pair
        twisted = min(rows[row], columns[column]) < 0.25 * max(rows[row], columns[column])
        if pair < 0.6 * energy or others > 0.1 * pair or twisted:
            keys.append(None)
            continue
        keys.append(_KEYPAD[row][column])
    digits = [
        key for index, key in enumerate(keys) if key and (index == 0 or keys[index - 1] != key)
    ]
    return "".join(digits)
