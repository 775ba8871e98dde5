"""Streaming suppression of stationary background noise in the caller's audio.

``NoiseSuppressor`` is what ``stt_settings.audio_denoising`` switches on: the session
passes the caller's audio through it on the way to the transcriber, at the rate the
call is heard at (a phone line's 8 kHz, else 16 kHz). It is a
classic single-channel spectral suppressor, chosen because it needs nothing but numpy,
costs well under a millisecond per 20 ms frame and cannot invent words:

- **STFT**: 32 ms frames every 16 ms (512/256 samples at 16 kHz) under a square-root
  Hann window for both analysis and synthesis, so that with a gain of one the
  overlap-add gives the input back exactly, only delayed.
- **Noise floor per frequency bin**: minimum statistics (Martin, 2001). The smoothed
  power of each bin is tracked through its minimum over the last ~1.5 s (eight 192 ms
  sub-windows); speech comes and goes within that window while stationary noise never
  drops below its floor, so the minimum, scaled up by a fixed bias factor, estimates
  the noise without any speech detector. A quieter noise is followed within ~0.2 s,
  a louder one within ~1.7 s (until then it passes as if it were speech).
- **Gain**: decision-directed a-priori SNR (Ephraim & Malah, 1984) into a Wiener gain
  ``ξ / (1 + ξ)``, floored at −20 dB. The decision-directed estimate leans 98 % on the
  previous frame's cleaned power, which smooths the gain over time: the isolated
  short-lived gain peaks that sound as "musical noise" are what it suppresses, and the
  floor keeps a little natural background rather than a gated, pumping silence.
- **DC and hum high-pass**: bins below 70 Hz are removed and 70–110 Hz faded in (no
  speech energy is lost that a telephone line would carry), which takes out DC offset
  and the 50/60 Hz mains fundamental; hum harmonics are stationary tones, so the noise
  floor catches them like any other steady noise.

What it suppresses: stationary and slowly changing noise — hiss, mains hum and buzz,
fans, air conditioning, engine drone, line noise. What it does not: babble and other
voices, music, keyboard clicks, door slams — anything that changes as fast as speech
(that needs a trained model). A pure tone held for several seconds is, to it, noise.
It learns the noise from the pauses: speech at the very start of a stream, before any
pause, is taken for noise and attenuated until the first gap between words. A caller's
audio starts with the line's own quiet (the greeting plays meanwhile), so this rarely
matters, but it is why the session makes one suppressor per call and never resets it.

Latency: the output is the input delayed by one hop, ``delay_samples`` (256 samples,
16 ms at 16 kHz); audio is released a hop at a time, so up to one more hop of the newest
input waits for the next chunk. Chunking does not change the output: any chunk sizes
give the same samples, bit for bit.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import numpy.typing as npt

from callwright.audio.formats import PCM16, require_whole_samples

__all__ = ["NoiseSuppressor"]

_FRAME_S: Final = 0.032  # analysis window; the hop is half of it
_SMOOTHING: Final = 0.8  # of each bin's power before its minimum is taken (~5 hops)
_WARM_UP_FRAMES: Final = 5  # ~1 / (1 - _SMOOTHING): a running mean until then
_SUBWINDOW_S: Final = 0.192  # minimum statistics: the minimum of each sub-window ...
_SUBWINDOWS: Final = 8  # ... kept for this many sub-windows (~1.5 s of history)
# The minimum of a smoothed periodogram sits below the mean noise power: with the
# settings above the mean measured 2.30 (white noise) and 2.28 (pink) times the minimum.
_MINIMUM_BIAS: Final = 2.3
_DECISION_DIRECTED: Final = 0.98
_GAIN_FLOOR: Final = 10 ** (-20 / 20)
_HIGHPASS_STOP_HZ: Final = 70.0
_HIGHPASS_PASS_HZ: Final = 110.0
# Keeps the ratios finite on digital silence; far below the power of one LSB.
_TINY_POWER: Final = 1e-12


class NoiseSuppressor:
    """Removes stationary noise (hiss, hum, fans) from a mono PCM16 stream.

    ``process`` takes chunks of any size and returns the cleaned audio that is ready,
    ``delay_samples`` behind the input (16 ms at 16 kHz, released a hop at a time);
    ``reset`` forgets the stream. One instance serves one stream (one call's caller).
    """

    __slots__ = (
        "_fill",
        "_frame",
        "_gain",
        "_highpass",
        "_hop",
        "_hops",
        "_noise",
        "_overlap",
        "_power",
        "_prior_clean",
        "_ring",
        "_ring_index",
        "_ring_minimum",
        "_scratch",
        "_smoothed",
        "_sub_count",
        "_sub_frames",
        "_sub_minimum",
        "_window",
        "_windowed",
        "sample_rate",
    )

    def __init__(self, sample_rate: int = 16_000) -> None:
        if not 8_000 <= sample_rate <= 48_000:
            raise ValueError(f"noise suppression runs at 8000–48000 Hz, not {sample_rate}")
        self.sample_rate = sample_rate
        hop = round(sample_rate * _FRAME_S / 2)
        size = 2 * hop
        bins = hop + 1
        self._hop = hop
        # sqrt of a periodic Hann: analysis × synthesis = Hann, whose copies one hop
        # apart sum to exactly one, so unity gain reconstructs the input.
        self._window = np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(size) / size))
        frequencies = np.arange(bins) * sample_rate / size
        ramp = (frequencies - _HIGHPASS_STOP_HZ) / (_HIGHPASS_PASS_HZ - _HIGHPASS_STOP_HZ)
        self._highpass = 0.5 - 0.5 * np.cos(np.pi * np.clip(ramp, 0.0, 1.0))
        self._sub_frames = max(1, round(_SUBWINDOW_S * sample_rate / hop))
        self._frame = np.zeros(size)
        self._windowed = np.zeros(size)
        self._overlap = np.zeros(hop)
        self._power = np.zeros(bins)
        self._scratch = np.zeros(bins)  # per-hop temporaries live here, not in new arrays
        self._smoothed = np.zeros(bins)
        self._noise = np.zeros(bins)
        self._prior_clean = np.zeros(bins)
        self._gain = np.zeros(bins)
        self._sub_minimum = np.zeros(bins)
        self._ring = np.zeros((_SUBWINDOWS, bins))
        self._ring_minimum = np.zeros(bins)
        self.reset()

    @property
    def delay_samples(self) -> int:
        """How far the output lags the input, in samples (one hop)."""
        return self._hop

    @property
    def delay_s(self) -> float:
        return self._hop / self.sample_rate

    def reset(self) -> None:
        """Forget the stream: buffered audio, the noise estimate and the gains."""
        self._frame.fill(0.0)
        self._overlap.fill(0.0)
        self._fill = 0
        self._hops = 0
        self._sub_count = 0
        self._ring_index = 0
        self._sub_minimum.fill(math.inf)
        self._ring.fill(math.inf)
        self._ring_minimum.fill(math.inf)
        self._prior_clean.fill(0.0)

    def process(self, pcm16: bytes) -> bytes:
        """Clean the next chunk; returns the audio now ready (a whole number of hops)."""
        require_whole_samples(pcm16)
        samples = np.frombuffer(pcm16, dtype=PCM16)
        hop, frame = self._hop, self._frame
        ready: list[bytes] = []
        start = 0
        # One pass per completed hop (one or two per 20 ms chunk), never per sample.
        while start < samples.size:
            take = min(hop - self._fill, samples.size - start)
            at = hop + self._fill
            frame[at : at + take] = samples[start : start + take]
            self._fill += take
            start += take
            if self._fill == hop:
                ready.append(self._next_hop())
                frame[:hop] = frame[hop:]
                self._fill = 0
        return b"".join(ready)

    def _next_hop(self) -> bytes:
        np.multiply(self._frame, self._window, out=self._windowed)
        spectrum = np.fft.rfft(self._windowed)
        power = self._power
        np.multiply(spectrum.real, spectrum.real, out=power)
        np.multiply(spectrum.imag, spectrum.imag, out=self._scratch)
        power += self._scratch
        if self._hops:
            self._track_noise(power)
        else:
            # The first frame is half the zeros the buffer starts with: its power would
            # pin the minimum ~3 dB low for 1.5 s. Its hop is played at the floor gain.
            self._noise.fill(math.inf)
        self._hops += 1
        gain = self._wiener_gain(power)
        spectrum *= gain
        cleaned = np.fft.irfft(spectrum, n=self._frame.size)
        cleaned *= self._window
        hop = self._hop
        out = cleaned[:hop]
        out += self._overlap
        self._overlap[:] = cleaned[hop:]
        np.rint(out, out=out)
        np.clip(out, -32768, 32767, out=out)
        return out.astype(PCM16).tobytes()

    def _track_noise(self, power: npt.NDArray[np.float64]) -> None:
        smoothed = self._smoothed
        averaged = self._hops - 1  # frames in the average so far (the first is skipped)
        if averaged < _WARM_UP_FRAMES:
            # A single periodogram has bins far below the mean, and a minimum taken
            # from them would hold for 1.5 s: start from a plain running mean instead,
            # which is also the noise estimate until the smoothing has settled.
            smoothed *= averaged / (averaged + 1)
            smoothed += power / (averaged + 1)
            np.add(smoothed, _TINY_POWER, out=self._noise)
            return
        smoothed *= _SMOOTHING
        np.multiply(power, 1.0 - _SMOOTHING, out=self._scratch)
        smoothed += self._scratch
        np.minimum(self._sub_minimum, smoothed, out=self._sub_minimum)
        np.minimum(self._sub_minimum, self._ring_minimum, out=self._noise)
        self._noise *= _MINIMUM_BIAS
        self._noise += _TINY_POWER
        self._sub_count += 1
        if self._sub_count == self._sub_frames:
            # A sub-window is complete: it replaces the oldest one in the history.
            self._ring[self._ring_index] = self._sub_minimum
            self._ring_index = (self._ring_index + 1) % _SUBWINDOWS
            np.min(self._ring, axis=0, out=self._ring_minimum)
            self._sub_minimum.fill(math.inf)
            self._sub_count = 0

    def _wiener_gain(self, power: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        noise, gain = self._noise, self._gain
        # Posterior SNR minus one, at least zero: this frame's evidence of speech.
        np.divide(power, noise, out=gain)
        gain -= 1.0
        np.maximum(gain, 0.0, out=gain)
        gain *= 1.0 - _DECISION_DIRECTED
        # Prior SNR, decision-directed: mostly last frame's cleaned power.
        np.divide(self._prior_clean, noise, out=self._scratch)
        self._scratch *= _DECISION_DIRECTED
        gain += self._scratch
        np.add(gain, 1.0, out=self._scratch)
        gain /= self._scratch
        np.maximum(gain, _GAIN_FLOOR, out=gain)
        np.multiply(gain, gain, out=self._prior_clean)
        self._prior_clean *= power
        gain *= self._highpass
        return gain
