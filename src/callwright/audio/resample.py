"""Streaming resampling of PCM16 mono audio: ``Resampler``.

A half-band FIR serves 8 ↔ 16 kHz (3 ms delay); libsoxr's streaming mode serves other
ratios and emits output in bursts (see ``Resampler``), so anything that needs fixed
frames puts a ``framing.FrameSplitter`` after it.
"""

from __future__ import annotations

import functools
from typing import Final, Protocol

import numpy as np
import numpy.typing as npt
import soxr  # type: ignore[import-untyped]  # ships no py.typed marker

from callwright.audio.formats import PCM16, require_whole_samples

__all__ = ["RESAMPLER_QUALITY", "Resampler"]

# "HQ" keeps 8 kHz telephony flat to 3.4 kHz ("LQ" loses ~8 dB there) and costs the
# same as "MQ"; "VHQ" doubles the buffering delay for 22,050/24,000 Hz TTS voices.
RESAMPLER_QUALITY: Final = "HQ"

# The half-band filter for 8 ↔ 16 kHz: 97 taps keep 0–3.4 kHz flat within 0.1 dB and
# reject aliases by ~80 dB, for a 48-sample (3 ms at 16 kHz) delay.
_HALFBAND_TAPS: Final = 97
_HALFBAND_DELAY: Final = (_HALFBAND_TAPS - 1) // 2  # also the number of odd-phase taps

_PCM16_MIN: Final = np.float64(-32768.0)  # numpy scalars: ndarray.clip skips converting
_PCM16_MAX: Final = np.float64(32767.0)
_EMPTY_PCM16: Final = np.empty(0, dtype=PCM16)


class _SoxrStream(Protocol):
    def resample_chunk(
        self, x: npt.NDArray[np.int16], last: bool = False
    ) -> npt.NDArray[np.int16]: ...

    def clear(self) -> None: ...


@functools.cache
def _halfband_taps(length: int = _HALFBAND_TAPS, beta: float = 8.0) -> npt.NDArray[np.float64]:
    """A Kaiser-windowed half-band low-pass (cut-off at a quarter of the high rate):
    every other tap is zero, the centre is 0.5, the gain at 0 Hz is exactly 1.

    Computed once per process (read-only): every call builds resamplers, and the Kaiser
    window's Bessel function was ~1 % of a loaded server's profile."""
    n = np.arange(length) - (length - 1) / 2
    taps = 0.5 * np.sinc(n / 2) * np.kaiser(length, beta)
    taps /= taps.sum()
    taps.flags.writeable = False
    return taps


# Silence before a stream (it lines the first output up with the first input sample,
# trimming the filter's delay) and after it (pushing the delayed tail out); low-rate
# samples for upsampling, high-rate for downsampling.
_UP_START: Final = np.zeros(_HALFBAND_DELAY // 2 - 1)
_UP_TAIL: Final = np.zeros(_HALFBAND_DELAY // 2)
_DOWN_START: Final = np.zeros(_HALFBAND_DELAY - 1)
_DOWN_TAIL: Final = np.zeros(_HALFBAND_DELAY)


class _HalfBand:
    """Exact 2:1 and 1:2 resampling with a half-band FIR: output follows input within
    the filter's group delay (``_HALFBAND_TAPS // 2`` high-rate samples, 3 ms at 16 kHz)
    instead of libsoxr's block buffering (up to ~110 ms at this ratio). Linear and
    stateful, so chunked output equals one-shot output exactly.

    Polyphase, because every other tap of a half-band filter is zero except the centre:
    filtering a zero-stuffed signal (1:2), or filtering at 16 kHz and dropping every
    other output (2:1), spends three quarters of its multiply-adds on zeros or on
    dropped samples, and more numpy calls a 20 ms frame. Up, the even outputs are the
    delayed input itself (the doubled centre tap is 1.0000137, which ``rint`` turns
    into exactly the sample for every 16-bit value) and the odd outputs a 48-tap FIR
    over the input. Down, each output is the 48 odd taps over the odd-phase samples
    plus the centre tap times the sample between them. Outputs appear exactly when the
    full-rate filter would emit them, so chunk sizes and totals are as before.
    """

    __slots__ = ("_centre", "_pending", "_taps", "_up")

    def __init__(self, *, up: bool) -> None:
        taps = _halfband_taps()
        self._up = up
        # Reversed for np.correlate (cheaper than np.convolve, which reverses per call);
        # zero-stuffing halves the signal's gain, so upsampling doubles the taps.
        self._taps = taps[1::2][::-1] * (2.0 if up else 1.0)
        self._centre = float(taps[_HALFBAND_DELAY])
        self.reset()

    def reset(self) -> None:
        # Input not yet consumed (float64), starting with the samples the next output
        # reads; a new stream starts with silence before it.
        self._pending: npt.NDArray[np.float64] = _UP_START if self._up else _DOWN_START

    def process(self, samples: npt.NDArray[np.int16], *, last: bool) -> npt.NDArray[np.int16]:
        """Resample the next chunk; ``last`` pushes the delayed tail out and resets."""
        parts = (self._pending, samples, _UP_TAIL if self._up else _DOWN_TAIL)
        pending = np.concatenate(parts if last else parts[:2], dtype=np.float64)
        out = self._upsample(pending) if self._up else self._downsample(pending)
        if last:
            self.reset()
        return out

    def _upsample(self, pending: npt.NDArray[np.float64]) -> npt.NDArray[np.int16]:
        # Output pair t: the input sample pending[t + 23] (even), the odd taps over
        # pending[t : t + 48] (odd); each pair waits for its 24 samples of look-ahead.
        pairs = pending.size - _HALFBAND_DELAY + 1
        if pairs <= 0:
            self._pending = pending
            return _EMPTY_PCM16
        odd = np.correlate(pending, self._taps, "valid")
        odd.clip(_PCM16_MIN, _PCM16_MAX, out=odd)
        out = np.empty(2 * pairs, dtype=PCM16)
        out[0::2] = pending[_UP_START.size : _UP_START.size + pairs]
        out[1::2] = np.rint(odd, out=odd)
        self._pending = pending[pairs:]
        return out

    def _downsample(self, pending: npt.NDArray[np.float64]) -> npt.NDArray[np.int16]:
        # Output t: the odd taps over pending[2t : 2t + 95 : 2] plus the centre tap
        # times pending[2t + 47]. The full-rate filter emits it once pending[2t + 95]
        # is in (its 96th sample), and so does this.
        count = (pending.size - 2 * _HALFBAND_DELAY) // 2 + 1
        if count <= 0:
            self._pending = pending
            return _EMPTY_PCM16
        end = 2 * count
        out = np.correlate(pending[0 : end + 2 * _HALFBAND_DELAY - 2 : 2], self._taps, "valid")
        out += pending[_DOWN_START.size : _DOWN_START.size + end : 2] * self._centre
        out.clip(_PCM16_MIN, _PCM16_MAX, out=out)
        self._pending = pending[end:]
        return np.rint(out, out=out).astype(PCM16)


class Resampler:
    """Streaming PCM16 mono resampler that keeps filter state from chunk to chunk.

    Feeding a signal chunk by chunk gives the same samples (within 2 LSB) as
    resampling it whole, and after ``process(..., last=True)`` the total output is
    ``len(input) * out_rate / in_rate`` samples. ``last=True`` flushes the tail and
    readies the resampler for a new stream; ``reset()`` drops pending audio (barge-in).
    Equal rates pass audio through untouched.

    The 2:1 ratios of telephony (8 ↔ 16 kHz, every phone turn in both directions) use a
    half-band FIR whose output follows its input within 3 ms. Other ratios (TTS voices
    at 22,050/24,000 Hz) use libsoxr, which emits output in blocks: a 20 ms chunk may
    yield nothing and a later one several chunks' worth, trailing input by up to ~40 ms.
    """

    __slots__ = ("_halfband", "_stream", "in_rate", "out_rate")

    def __init__(self, in_rate: int, out_rate: int) -> None:
        if in_rate <= 0 or out_rate <= 0:
            raise ValueError(f"sample rates must be positive, not {in_rate} → {out_rate}")
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._stream: _SoxrStream | None = None
        self._halfband: _HalfBand | None = None
        if out_rate == 2 * in_rate or in_rate == 2 * out_rate:
            self._halfband = _HalfBand(up=out_rate > in_rate)
        elif in_rate != out_rate:
            self._stream = soxr.ResampleStream(
                in_rate, out_rate, 1, dtype="int16", quality=RESAMPLER_QUALITY
            )

    def process(self, pcm16: bytes, *, last: bool = False) -> bytes:
        """Resample the next chunk; ``last=True`` marks the end and flushes the tail."""
        require_whole_samples(pcm16)
        if self._halfband is not None:
            samples = np.frombuffer(pcm16, dtype=PCM16)
            return self._halfband.process(samples, last=last).tobytes()
        stream = self._stream
        if stream is None:
            return pcm16
        samples = np.frombuffer(pcm16, dtype=PCM16)  # zero-copy; soxr only reads it
        out: npt.NDArray[np.int16] = stream.resample_chunk(samples, last=last)
        if last:
            stream.clear()
        return out.tobytes()

    def reset(self) -> None:
        """Forget buffered input and filter history, e.g. when playback is interrupted."""
        if self._halfband is not None:
            self._halfband.reset()
        if self._stream is not None:
            self._stream.clear()
