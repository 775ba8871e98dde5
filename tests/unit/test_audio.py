"""Audio: μ-law codec against audioop, streaming resampling, framing, loudness."""

from __future__ import annotations

import dataclasses
import itertools
import warnings
from types import ModuleType

import numpy as np
import numpy.typing as npt
import pytest
import soxr  # type: ignore[import-untyped]
from hypothesis import given
from hypothesis import strategies as st

from callwright.audio.codec import mulaw_decode, mulaw_encode
from callwright.audio.formats import (
    BROWSER_FORMAT,
    ENGINE_FORMAT,
    MULAW_SILENCE_BYTE,
    PCM16_SILENCE_BYTE,
    TWILIO_FORMAT,
    AudioFormat,
    duration_s,
    frame_bytes,
)
from callwright.audio.framing import FrameSplitter
from callwright.audio.loudness import SILENCE_FLOOR_DBFS, pcm16_rms_dbfs
from callwright.audio.resample import RESAMPLER_QUALITY, Resampler
from callwright.audio.resample import _halfband_taps as _halfband_taps

RATE_PAIRS = [(8000, 16000), (16000, 8000), (22050, 8000), (24000, 16000)]
ALL_PCM16 = np.arange(-32768, 32768, dtype="<i2").tobytes()
ALL_MULAW = bytes(range(256))


@pytest.fixture(scope="module")
def audioop() -> ModuleType:
    # Deprecated since 3.11 (removed in 3.13) and pytest turns warnings into errors.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop

    return audioop


def pcm(samples: npt.NDArray[np.floating] | npt.NDArray[np.integer]) -> bytes:
    return bytes(np.clip(np.rint(samples), -32768, 32767).astype("<i2").tobytes())


def samples_of(pcm16: bytes) -> npt.NDArray[np.int64]:
    return np.frombuffer(pcm16, dtype="<i2").astype(np.int64)


def tone(frequency: float, rate: int, seconds: float = 1.0, amplitude: float = 0.5) -> bytes:
    t = np.arange(round(rate * seconds)) / rate
    return pcm(amplitude * 32767 * np.sin(2 * np.pi * frequency * t))


def speechlike(rate: int, seconds: float = 1.0) -> bytes:
    t = np.arange(round(rate * seconds)) / rate
    rng = np.random.default_rng(7)
    mix = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 1234 * t)
    return pcm(32767 * (mix + 0.05 * rng.standard_normal(t.size)))


def chunked(resampler: Resampler, audio: bytes, chunk_bytes: int) -> bytes:
    starts = range(0, len(audio), chunk_bytes)
    return b"".join(
        resampler.process(audio[i : i + chunk_bytes], last=i + chunk_bytes >= len(audio))
        for i in starts
    )


# μ-law


def test_mulaw_encode_matches_audioop_for_every_pcm16_value(audioop: ModuleType) -> None:
    assert mulaw_encode(ALL_PCM16) == audioop.lin2ulaw(ALL_PCM16, 2)


def test_mulaw_decode_matches_audioop_for_every_byte(audioop: ModuleType) -> None:
    assert mulaw_decode(ALL_MULAW) == audioop.ulaw2lin(ALL_MULAW, 2)


def test_mulaw_round_trip() -> None:
    decoded = mulaw_decode(ALL_MULAW)
    # Every code survives decode → encode except 0x7F, "negative zero", which is 0x00 too.
    assert mulaw_encode(decoded) == ALL_MULAW.replace(b"\x7f", b"\xff")
    assert mulaw_decode(mulaw_encode(decoded)) == decoded

    original = samples_of(ALL_PCM16)
    error = np.abs(samples_of(mulaw_decode(mulaw_encode(ALL_PCM16))) - original)
    assert np.all(error <= 16 + 0.06 * np.abs(original))


def test_mulaw_sizes_and_silence() -> None:
    frame = tone(440, 8000, seconds=0.02)
    assert len(frame) == 320
    assert len(mulaw_encode(frame)) == TWILIO_FORMAT.frame_bytes() == 160
    assert mulaw_encode(b"") == b""
    assert mulaw_decode(bytes([MULAW_SILENCE_BYTE]) * 160) == bytes(320)
    with pytest.raises(ValueError, match="even number"):
        mulaw_encode(b"\x00\x01\x02")


# Resampler


@pytest.mark.parametrize(("in_rate", "out_rate"), RATE_PAIRS)
def test_streaming_20ms_chunks_match_one_shot(in_rate: int, out_rate: int) -> None:
    audio = speechlike(in_rate)
    streamed = samples_of(chunked(Resampler(in_rate, out_rate), audio, in_rate // 50 * 2))

    whole = samples_of(Resampler(in_rate, out_rate).process(audio, last=True))
    assert streamed.size == whole.size
    assert np.max(np.abs(streamed - whole)) <= 2


@pytest.mark.parametrize(("in_rate", "out_rate"), RATE_PAIRS)
def test_agrees_with_a_reference_resampler(in_rate: int, out_rate: int) -> None:
    """The half-band path (8 ↔ 16 kHz) and the libsoxr path give what libsoxr's
    one-shot resampling gives, to within a few LSB of a 16-bit signal."""
    audio = speechlike(in_rate)
    streamed = samples_of(chunked(Resampler(in_rate, out_rate), audio, in_rate // 50 * 2))

    whole = soxr.resample(
        np.frombuffer(audio, dtype=np.int16), in_rate, out_rate, quality=RESAMPLER_QUALITY
    ).astype(np.int64)
    assert streamed.size == whole.size
    # The filters differ only near Nyquist (this signal has noise up there).
    assert np.corrcoef(streamed, whole)[0, 1] > 0.999


@pytest.mark.parametrize(("in_rate", "out_rate"), [(8000, 16000), (16000, 8000)])
def test_telephony_ratios_follow_their_input_within_3_ms(in_rate: int, out_rate: int) -> None:
    resampler = Resampler(in_rate, out_rate)
    chunk = tone(440, in_rate, seconds=0.02)
    produced = [len(resampler.process(chunk)) // 2 for _ in range(25)]
    # Every 20 ms chunk yields output; all but the filter's 3 ms delay is out already.
    assert min(produced) > 0
    assert sum(produced) / out_rate >= 25 * 0.02 - 0.0031


def test_telephony_downsampling_rejects_aliases() -> None:
    """A 6 kHz tone at 16 kHz has no place at 8 kHz: it must not fold down to 2 kHz."""
    out = samples_of(Resampler(16000, 8000).process(tone(6000, 16000), last=True))
    steady = out[100:-100].astype(np.float64)  # past the tone's abrupt start and end
    assert np.sqrt(np.mean(steady**2)) < 32767 * 0.5 * 10 ** (-70 / 20)
    kept = samples_of(Resampler(16000, 8000).process(tone(3000, 16000), last=True))
    rms = np.sqrt(np.mean(kept[200:-200].astype(np.float64) ** 2))
    assert rms == pytest.approx(32767 * 0.5 / np.sqrt(2), rel=0.01)


@pytest.mark.parametrize(("in_rate", "out_rate"), RATE_PAIRS)
@pytest.mark.parametrize("seconds", [0.02, 0.37, 2.0])
def test_total_length_follows_the_ratio(in_rate: int, out_rate: int, seconds: float) -> None:
    audio = speechlike(in_rate, seconds)
    out = chunked(Resampler(in_rate, out_rate), audio, 2 * 173)  # odd-sized chunks

    expected = len(audio) // 2 * out_rate / in_rate
    assert abs(len(out) // 2 - expected) <= 1


@pytest.mark.parametrize(("in_rate", "out_rate"), RATE_PAIRS)
def test_a_440_hz_tone_stays_at_440_hz(in_rate: int, out_rate: int) -> None:
    out = samples_of(chunked(Resampler(in_rate, out_rate), tone(440, in_rate), in_rate // 50 * 2))

    spectrum = np.abs(np.fft.rfft(out * np.hanning(out.size)))
    peak_hz = np.fft.rfftfreq(out.size, 1 / out_rate)[np.argmax(spectrum)]
    assert peak_hz == pytest.approx(440, abs=1.5)


def test_equal_rates_pass_audio_through() -> None:
    audio = speechlike(16000, 0.02)
    resampler = Resampler(16000, 16000)
    assert resampler.process(audio) is audio
    assert resampler.process(b"", last=True) == b""


def test_a_resampler_is_reusable_after_last() -> None:
    resampler = Resampler(8000, 16000)
    audio = speechlike(8000, 0.5)
    first = samples_of(chunked(resampler, audio, 320))
    second = samples_of(chunked(resampler, audio, 320))

    assert first.size == second.size == 8000
    assert np.max(np.abs(first - second)) <= 2


def test_reset_drops_pending_audio() -> None:
    resampler = Resampler(8000, 16000)
    resampler.process(speechlike(8000, 0.3))
    resampler.reset()

    out = chunked(resampler, speechlike(8000, 0.5), 320)
    assert len(out) // 2 == 8000


def halfband_reference(samples: npt.NDArray[np.int64], *, up: bool) -> npt.NDArray[np.int64]:
    """The textbook form, whole signal at once: zero-stuff (up), convolve with all 97
    taps, drop the 48-sample delay, keep every other output (down)."""
    taps = _halfband_taps()
    if not samples.size:
        return samples
    if up:
        high = np.zeros(2 * samples.size)
        high[::2] = samples
        filtered = np.convolve(high, 2 * taps)[48 : 48 + high.size]
    else:
        filtered = np.convolve(samples.astype(np.float64), taps)[48 : 48 + samples.size : 2]
    return np.clip(np.rint(filtered), -32768, 32767).astype(np.int64)


def loud_test_signal(rate: int, size: int, seed: int) -> npt.NDArray[np.int64]:
    """Speech-like tones plus full-scale square-wave bursts, whose overshoot must clip."""
    rng = np.random.default_rng(seed)
    t = np.arange(size) / rate
    mix = 0.4 * np.sin(2 * np.pi * 440 * t) + 0.3 * rng.standard_normal(size)
    bursts: npt.NDArray[np.float64] = np.sign(np.sin(2 * np.pi * 1000 * t)) * (
        rng.random(size) < 0.3
    )
    return np.clip(np.rint(32767 * (mix + bursts)), -32768, 32767).astype(np.int64)


@given(
    up=st.booleans(),
    seed=st.integers(0, 2**16),
    sizes=st.lists(st.integers(min_value=0, max_value=700), min_size=1, max_size=25),
)
def test_halfband_matches_the_zero_stuffed_reference(up: bool, seed: int, sizes: list[int]) -> None:
    """Chunk by chunk, the polyphase filter gives the full convolution's samples within
    1 LSB, and each chunk gives as many as the full-rate filter has ready by then."""
    in_rate, out_rate = (8000, 16000) if up else (16000, 8000)
    signal = loud_test_signal(in_rate, sum(sizes), seed)
    resampler = Resampler(in_rate, out_rate)
    outputs: list[npt.NDArray[np.int64]] = []
    consumed = 0
    for index, size in enumerate(sizes):
        chunk = pcm(signal[consumed : consumed + size])
        consumed += size
        outputs.append(samples_of(resampler.process(chunk, last=index == len(sizes) - 1)))
        if index < len(sizes) - 1:  # ready: all but the last 3 ms of input
            ready = max(0, 2 * consumed - 48) if up else max(0, (consumed - 47) // 2)
            assert sum(out.size for out in outputs) == ready

    streamed = np.concatenate(outputs)
    reference = halfband_reference(signal, up=up)
    assert streamed.size == reference.size
    assert np.all(np.abs(streamed - reference) <= 1)


@pytest.mark.parametrize("sizes", [[1, 3, 319, 5, 321, 77, 1], [161] * 12, [47, 49, 95, 97, 0, 2]])
def test_halfband_downsampling_of_odd_length_chunks(sizes: list[int]) -> None:
    """Odd-length chunks flip which input sample is an output's centre tap."""
    signal = loud_test_signal(16000, sum(sizes), seed=3)
    resampler = Resampler(16000, 8000)
    bounds = np.cumsum([0, *sizes])
    streamed = b"".join(
        resampler.process(pcm(signal[start:end]), last=end == bounds[-1])
        for start, end in itertools.pairwise(bounds)
    )
    reference = halfband_reference(signal, up=False)
    assert samples_of(streamed).size == reference.size == (signal.size + 1) // 2
    assert np.max(np.abs(samples_of(streamed) - reference)) <= 1


@pytest.mark.parametrize(("in_rate", "out_rate"), [(8000, 16000), (16000, 8000)])
def test_an_empty_chunk_yields_nothing(in_rate: int, out_rate: int) -> None:
    """An empty chunk (an empty Twilio payload, a TTS chunk of headers only) is no audio,
    not a reason to emit samples."""
    audio = speechlike(in_rate, 0.1)
    with_gap = Resampler(in_rate, out_rate)
    first = with_gap.process(audio[:400])
    assert with_gap.process(b"") == b""
    rest = with_gap.process(audio[400:], last=True)

    assert first + rest == Resampler(in_rate, out_rate).process(audio, last=True)


def test_resampler_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="positive"):
        Resampler(0, 16000)
    with pytest.raises(ValueError, match="even number"):
        Resampler(8000, 16000).process(b"\x00")


# FrameSplitter


def test_frames_are_cut_at_exact_boundaries() -> None:
    splitter = FrameSplitter.for_format(BROWSER_FORMAT)
    assert splitter.frame_size == 640

    assert splitter.push(bytes(range(256)) * 2 + bytes(128)) == [bytes(range(256)) * 2 + bytes(128)]
    assert splitter.push(b"\x01" * 639) == []
    assert splitter.pending == 639
    assert splitter.push(b"\x02") == [b"\x01" * 639 + b"\x02"]
    assert splitter.pending == 0

    frames = splitter.push(b"\x03" * 1300)
    assert frames == [b"\x03" * 640, b"\x03" * 640]
    assert splitter.pending == 20


@pytest.mark.parametrize(
    ("audio_format", "silence"),
    [(ENGINE_FORMAT, PCM16_SILENCE_BYTE), (TWILIO_FORMAT, MULAW_SILENCE_BYTE)],
)
def test_flush_pads_with_the_encodings_silence(audio_format: AudioFormat, silence: int) -> None:
    splitter = FrameSplitter.for_format(audio_format)
    size = audio_format.frame_bytes(20)
    splitter.push(b"\x42" * (size + 10))

    assert splitter.flush(pad=True) == b"\x42" * 10 + bytes([silence]) * (size - 10)
    assert splitter.pending == 0
    assert splitter.flush(pad=True) is None


def test_flush_without_padding_returns_the_remainder() -> None:
    splitter = FrameSplitter(160, silence_byte=MULAW_SILENCE_BYTE)
    assert splitter.flush(pad=False) is None
    splitter.push(b"\x10" * 7)
    assert splitter.flush(pad=False) == b"\x10" * 7
    assert splitter.flush(pad=False) is None


def test_frame_splitter_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="positive"):
        FrameSplitter(0)
    with pytest.raises(ValueError, match="silence byte"):
        FrameSplitter(160, silence_byte=256)


@given(
    data=st.binary(max_size=4000),
    cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=30),
    frame_size=st.sampled_from([160, 320, 640, 882, 7]),
)
def test_no_bytes_are_lost_for_any_chunking(data: bytes, cuts: list[int], frame_size: int) -> None:
    splitter = FrameSplitter(frame_size)
    bounds = [0, *sorted(c for c in cuts if c <= len(data)), len(data)]
    frames: list[bytes] = []
    for start, end in itertools.pairwise(bounds):
        frames += splitter.push(data[start:end])
        assert splitter.pending < frame_size

    assert all(len(frame) == frame_size for frame in frames)
    assert len(frames) == len(data) // frame_size
    assert b"".join(frames) + (splitter.flush(pad=False) or b"") == data


# Formats, sizes and loudness


def test_frame_sizes() -> None:
    assert frame_bytes(8000, 20, "mulaw") == 160
    assert frame_bytes(16000, 20, "pcm16") == 640
    assert frame_bytes(22050, 20, "pcm16") == 882
    assert frame_bytes(24000, 10, "pcm16") == 480
    with pytest.raises(ValueError, match="whole number"):
        frame_bytes(22050, 10, "pcm16")
    assert TWILIO_FORMAT.bytes_per_sample == 1
    assert BROWSER_FORMAT.bytes_per_sample == 2
    assert ENGINE_FORMAT == BROWSER_FORMAT == AudioFormat(16000, "pcm16")
    assert ENGINE_FORMAT.frame_bytes(30) == 960


def test_durations() -> None:
    assert duration_s(160, 8000, "mulaw") == pytest.approx(0.02)
    assert duration_s(640, 16000, "pcm16") == pytest.approx(0.02)
    assert duration_s(44100, 22050, "pcm16") == pytest.approx(1.0)
    assert TWILIO_FORMAT.duration_s(8000) == pytest.approx(1.0)


def test_audio_format_is_validated_and_frozen() -> None:
    with pytest.raises(ValueError, match="positive"):
        AudioFormat(0, "pcm16")
    with pytest.raises(ValueError, match="encoding"):
        AudioFormat(8000, "alaw")  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        TWILIO_FORMAT.sample_rate = 16000  # type: ignore[misc]


def test_rms_of_silence_and_tones() -> None:
    assert pcm16_rms_dbfs(bytes(640)) == SILENCE_FLOOR_DBFS
    assert pcm16_rms_dbfs(b"") == SILENCE_FLOOR_DBFS

    full_scale_square = pcm(np.tile([32767, -32767], 160))
    assert pcm16_rms_dbfs(full_scale_square) == pytest.approx(0.0, abs=0.01)
    # A sine of half full scale: 20·log10(0.5/√2) ≈ -9.03 dBFS.
    assert pcm16_rms_dbfs(tone(1000, 16000, 0.02, amplitude=0.5)) == pytest.approx(-9.03, abs=0.05)

    quiet = pcm16_rms_dbfs(tone(1000, 16000, 0.02, amplitude=0.001))
    assert SILENCE_FLOOR_DBFS < quiet < -55


def test_the_half_band_taps_are_computed_once_and_cannot_change() -> None:
    # Every call builds resamplers: the Kaiser window is computed once per process, and
    # the shared array is read-only so that no resampler can alter another's filter.
    assert _halfband_taps() is _halfband_taps()
    with pytest.raises(ValueError, match="read-only"):
        _halfband_taps()[0] = 1.0
