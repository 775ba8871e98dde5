"""Audio formats, G.711 μ-law codec, streaming resampling and fixed-size framing.

Inside the call engine audio is always PCM16: signed 16-bit little-endian mono samples
(``ENGINE_FORMAT``, 16 kHz). Audio is converted only at the edges:

- telephony (Twilio Media Streams) carries 8 kHz G.711 μ-law, one byte a sample, in
  20 ms frames of 160 bytes (``TWILIO_FORMAT``);
- browsers send 16 kHz PCM16 (``BROWSER_FORMAT``), 20 ms = 640 bytes;
- TTS voices produce PCM16 at 16,000, 22,050 or 24,000 Hz.

``mulaw_encode``/``mulaw_decode`` are table lookups, bit-identical to the stdlib's
``audioop.lin2ulaw(x, 2)``/``audioop.ulaw2lin(x, 2)``. ``Resampler`` uses a half-band
FIR for 8 ↔ 16 kHz (3 ms delay) and libsoxr's streaming mode for other ratios, which
emits output in bursts (see its docstring), so anything that needs fixed frames puts a
``FrameSplitter`` after it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal, Protocol

import numpy as np
import numpy.typing as npt
import soxr  # type: ignore[import-untyped]  # ships no py.typed marker

__all__ = [
    "BROWSER_FORMAT",
    "ENGINE_FORMAT",
    "MULAW_SILENCE_BYTE",
    "PCM16_SILENCE_BYTE",
    "RESAMPLER_QUALITY",
    "SILENCE_FLOOR_DBFS",
    "TWILIO_FORMAT",
    "AudioEncoding",
    "AudioFormat",
    "FrameSplitter",
    "Resampler",
    "duration_s",
    "frame_bytes",
    "mulaw_decode",
    "mulaw_encode",
    "pcm16_rms_dbfs",
]

AudioEncoding = Literal["pcm16", "mulaw"]

PCM16_SILENCE_BYTE: Final = 0x00
MULAW_SILENCE_BYTE: Final = 0xFF  # μ-law 0xFF decodes to sample 0
# Quietest loudness reported; one LSB of RMS is about -90.3 dBFS, so this sits below
# anything but digital silence while staying a finite, JSON-friendly number.
SILENCE_FLOOR_DBFS: Final = -100.0
# "HQ" keeps 8 kHz telephony flat to 3.4 kHz ("LQ" loses ~8 dB there) and costs the
# same as "MQ"; "VHQ" doubles the buffering delay for 22,050/24,000 Hz TTS voices.
RESAMPLER_QUALITY: Final = "HQ"

# The half-band filter for 8 ↔ 16 kHz: 97 taps keep 0–3.4 kHz flat within 0.1 dB and
# reject aliases by ~80 dB, for a 48-sample (3 ms at 16 kHz) delay.
_HALFBAND_TAPS: Final = 97
_HALFBAND_DELAY: Final = (_HALFBAND_TAPS - 1) // 2  # also the number of odd-phase taps

_BYTES_PER_SAMPLE: Final[dict[str, int]] = {"pcm16": 2, "mulaw": 1}
_SILENCE_BYTE: Final[dict[str, int]] = {"pcm16": PCM16_SILENCE_BYTE, "mulaw": MULAW_SILENCE_BYTE}
# PCM16 is little-endian by definition, whatever the host.
_PCM16: Final = np.dtype(np.int16).newbyteorder("<")
_UINT16_LE: Final = np.dtype(np.uint16).newbyteorder("<")
_PCM16_MIN: Final = np.float64(-32768.0)  # numpy scalars: ndarray.clip skips converting
_PCM16_MAX: Final = np.float64(32767.0)
_EMPTY_PCM16: Final = np.empty(0, dtype=_PCM16)


def _bytes_per_sample(encoding: AudioEncoding) -> int:
    if encoding not in _BYTES_PER_SAMPLE:
        raise ValueError(f"unknown audio encoding {encoding!r}")
    return _BYTES_PER_SAMPLE[encoding]


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
    return np.where(inverted & 0x80, 0x84 - magnitude, magnitude - 0x84).astype(_PCM16)


_MULAW_ENCODE: Final = _build_mulaw_encode_table()
_MULAW_DECODE: Final = _build_mulaw_decode_table()


def _check_whole_samples(pcm16: bytes) -> None:
    if len(pcm16) % 2:
        raise ValueError(f"PCM16 audio must be an even number of bytes, not {len(pcm16)}")


def mulaw_encode(pcm16: bytes) -> bytes:
    """PCM16 → G.711 μ-law, one byte a sample; identical to ``audioop.lin2ulaw(x, 2)``."""
    _check_whole_samples(pcm16)
    return _MULAW_ENCODE.take(np.frombuffer(pcm16, dtype=_UINT16_LE)).tobytes()


def mulaw_decode(mulaw: bytes) -> bytes:
    """G.711 μ-law → PCM16; identical to ``audioop.ulaw2lin(x, 2)``."""
    return _MULAW_DECODE.take(np.frombuffer(mulaw, dtype=np.uint8)).tobytes()


def pcm16_rms_dbfs(pcm16: bytes) -> float:
    """RMS loudness relative to full scale (32768); ``SILENCE_FLOOR_DBFS`` at least."""
    _check_whole_samples(pcm16)
    samples = np.frombuffer(pcm16, dtype=_PCM16).astype(np.float64)
    if samples.size == 0:
        return SILENCE_FLOOR_DBFS
    mean_square = float(np.dot(samples, samples)) / samples.size
    if mean_square == 0.0:
        return SILENCE_FLOOR_DBFS
    return max(SILENCE_FLOOR_DBFS, 10.0 * math.log10(mean_square / 32768.0**2))


class _SoxrStream(Protocol):
    def resample_chunk(
        self, x: npt.NDArray[np.int16], last: bool = False
    ) -> npt.NDArray[np.int16]: ...

    def clear(self) -> None: ...


def _halfband_taps(length: int = _HALFBAND_TAPS, beta: float = 8.0) -> npt.NDArray[np.float64]:
    """A Kaiser-windowed half-band low-pass (cut-off at a quarter of the high rate):
    every other tap is zero, the centre is 0.5, the gain at 0 Hz is exactly 1."""
    n = np.arange(length) - (length - 1) / 2
    taps = 0.5 * np.sinc(n / 2) * np.kaiser(length, beta)
    taps /= taps.sum()
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
        out = np.empty(2 * pairs, dtype=_PCM16)
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
        return np.rint(out, out=out).astype(_PCM16)


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
        _check_whole_samples(pcm16)
        if self._halfband is not None:
            samples = np.frombuffer(pcm16, dtype=_PCM16)
            return self._halfband.process(samples, last=last).tobytes()
        stream = self._stream
        if stream is None:
            return pcm16
        samples = np.frombuffer(pcm16, dtype=_PCM16)  # zero-copy; soxr only reads it
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


class FrameSplitter:
    """Regroups a byte stream into fixed-size frames (e.g. 20 ms) for codecs and transports.

    ``push`` returns every complete frame and keeps the remainder; ``flush`` returns
    the remainder at the end, padded with the silence byte to a full frame if asked.
    """

    __slots__ = ("_buffer", "frame_size", "silence_byte")

    def __init__(self, frame_size: int, *, silence_byte: int = PCM16_SILENCE_BYTE) -> None:
        if frame_size <= 0:
            raise ValueError(f"frame size must be positive, not {frame_size}")
        if not 0 <= silence_byte <= 0xFF:
            raise ValueError(f"silence byte must be 0..255, not {silence_byte}")
        self.frame_size = frame_size
        self.silence_byte = silence_byte
        self._buffer = bytearray()

    @classmethod
    def for_format(cls, audio_format: AudioFormat, frame_ms: int = 20) -> FrameSplitter:
        """A splitter for ``frame_ms`` frames padded with the format's own silence."""
        return cls(audio_format.frame_bytes(frame_ms), silence_byte=audio_format.silence_byte)

    @property
    def pending(self) -> int:
        """Bytes held back until a full frame arrives."""
        return len(self._buffer)

    def push(self, data: bytes) -> list[bytes]:
        """Add ``data`` and return the complete frames now available, oldest first."""
        buffer = self._buffer
        buffer += data
        size = self.frame_size
        usable = len(buffer) - len(buffer) % size
        if not usable:
            return []
        with memoryview(buffer) as view:
            frames = [view[start : start + size].tobytes() for start in range(0, usable, size)]
        del buffer[:usable]  # CPython drops a bytearray's head without moving the rest
        return frames

    def flush(self, pad: bool = True) -> bytes | None:
        """Return and forget the partial frame (padded with silence if ``pad``), or None."""
        if not self._buffer:
            return None
        remainder = bytes(self._buffer)
        self._buffer.clear()
        if pad:
            remainder += bytes((self.silence_byte,)) * (self.frame_size - len(remainder))
        return remainder
