"""The noise suppressor's cost per 20 ms frame (stt_settings.audio_denoising).

The speech fixtures with white noise at 5 dB SNR, looped to ``--seconds`` of audio, go
through one ``NoiseSuppressor`` in 20 ms chunks, as a call's caller audio does; each
chunk's processing time is recorded (one or two STFT hops each).

    .venv/bin/python benchmarks/denoise.py [--seconds 60] [--rate 16000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from callwright.audio.denoise import NoiseSuppressor  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "audio"


def noisy_speech(seconds: float, rate: int) -> bytes:
    parts = []
    for name in ("book_table.wav", "open_tomorrow.wav"):
        with wave.open(str(FIXTURES / name), "rb") as wav:
            parts.append(np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2"))
    speech = 0.4 * np.concatenate(parts).astype(np.float64)
    speech = np.resize(speech, int(seconds * 16_000))
    if rate != 16_000:
        speech = np.interp(
            np.arange(int(seconds * rate)) * 16_000 / rate, np.arange(speech.size), speech
        )
    noise = np.random.default_rng(0).standard_normal(speech.size)
    noise *= np.sqrt(np.mean(speech**2) / 10 ** (5 / 10))
    return np.clip(np.rint(speech + noise), -32768, 32767).astype("<i2").tobytes()


def run(seconds: float, rate: int) -> dict[str, object]:
    audio = noisy_speech(seconds, rate)
    frame = rate // 50 * 2
    suppressor = NoiseSuppressor(rate)
    spent = []
    for start in range(0, len(audio) - frame + 1, frame):
        began = time.perf_counter()
        suppressor.process(audio[start : start + frame])
        spent.append((time.perf_counter() - began) * 1000)
    p50, p95, p99 = np.percentile(spent, [50, 95, 99])
    return {
        "sample_rate": rate,
        "frames": len(spent),
        "per_20ms_frame_ms": {"p50": round(p50, 4), "p95": round(p95, 4), "p99": round(p99, 4)},
        "real_time_factor": round(sum(spent) / 1000 / seconds, 5),
        "added_latency_ms": suppressor.delay_s * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=int, default=16_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = run(args.seconds, args.rate)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
