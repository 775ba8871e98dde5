"""The per-frame work of a realtime call's audio on the adapter side, per vendor.

OpenAI Realtime takes and gives the call's own format (μ-law 8 kHz on a phone line), so
its adapter only base64-encodes and frames JSON. Gemini Live takes PCM16 16 kHz and
gives PCM16 24 kHz: on a phone line its adapter decodes μ-law and upsamples 8 → 16 kHz
each caller frame, and downsamples 24 → 8 kHz and encodes μ-law each chunk of the
model's audio (``providers.realtime.gemini_wire``). This times both directions, as the
adapters do them (conversion, base64, the JSON message), per 20 ms caller frame and
per 100 ms model chunk, and prints p50/p95/p99 in µs, and the share of one core that
a call's audio costs (the per-second work at real time), with Gemini's against OpenAI's.

    .venv/bin/python benchmarks/realtime_audio.py [--repeat 3000]
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from callwright.audio.codec import mulaw_encode  # noqa: E402
from callwright.providers.realtime.gemini_wire import INPUT_MIME, AudioIn, AudioOut24  # noqa: E402

CALLER_FRAME_S = 0.02  # what Twilio sends
MODEL_CHUNK_S = 0.1  # a typical audio delta / inlineData part


def _tone(rate: int, seconds: float) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * 330 * t) * 6000).astype("<i2").tobytes()


def _percentiles(samples: list[float]) -> dict[str, float]:
    values = np.array(samples) * 1e6
    return {f"p{q}": round(float(np.percentile(values, q)), 1) for q in (50, 95, 99)}


def _time(work: Callable[[], object], repeat: int) -> list[float]:
    for _ in range(50):  # warm caches and the resamplers' state
        work()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        samples.append(time.perf_counter() - started)
    return samples


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3000)
    args = parser.parse_args(argv)

    caller_mulaw = mulaw_encode(_tone(8_000, CALLER_FRAME_S))
    model_mulaw = mulaw_encode(_tone(8_000, MODEL_CHUNK_S))
    model_pcm24 = _tone(24_000, MODEL_CHUNK_S)
    model_b64 = base64.b64encode(model_pcm24).decode()
    model_mulaw_b64 = base64.b64encode(model_mulaw).decode()

    def openai_in() -> object:
        audio = base64.b64encode(caller_mulaw).decode("ascii")
        return json.dumps({"type": "input_audio_buffer.append", "audio": audio})

    gemini_audio_in = AudioIn("pcmu")

    def gemini_in() -> object:
        pcm16 = gemini_audio_in.convert(caller_mulaw)
        data = base64.b64encode(pcm16).decode("ascii")
        return json.dumps({"realtimeInput": {"audio": {"data": data, "mimeType": INPUT_MIME}}})

    openai_event = json.dumps(
        {"type": "response.output_audio.delta", "item_id": "item_1", "delta": model_mulaw_b64}
    )

    def openai_out() -> object:
        event = json.loads(openai_event)
        return base64.b64decode(event["delta"], validate=True)

    gemini_audio_out = AudioOut24("pcmu")
    part = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": model_b64}}
    gemini_message = json.dumps({"serverContent": {"modelTurn": {"parts": [part]}}}).encode()

    def gemini_out() -> object:
        message = json.loads(gemini_message)
        data = message["serverContent"]["modelTurn"]["parts"][0]["inlineData"]["data"]
        return gemini_audio_out.convert(base64.b64decode(data, validate=True))

    rows = []
    for name, work, seconds in (
        ("openai  caller frame (20 ms) in", openai_in, CALLER_FRAME_S),
        ("gemini  caller frame (20 ms) in", gemini_in, CALLER_FRAME_S),
        ("openai  model chunk (100 ms) out", openai_out, MODEL_CHUNK_S),
        ("gemini  model chunk (100 ms) out", gemini_out, MODEL_CHUNK_S),
    ):
        samples = _time(work, args.repeat)
        figures = _percentiles(samples)
        core_share = float(np.median(samples)) / seconds  # work per second of audio
        rows.append((name, figures, core_share))
        print(
            f"{name:<34} p50 {figures['p50']:>7} µs  p95 {figures['p95']:>7} µs  "
            f"p99 {figures['p99']:>7} µs  core share at real time {core_share * 100:.3f} %"
        )
    per_call = dict.fromkeys(("openai", "gemini"), 0.0)
    for name, _, share in rows:
        per_call[name.split()[0]] += share
    print(
        f"a phone call's adapter audio work, both ways: openai {per_call['openai'] * 100:.3f} % "
        f"of a core, gemini {per_call['gemini'] * 100:.3f} % "
        f"(ratio {per_call['gemini'] / per_call['openai']:.1f}×)"
    )


if __name__ == "__main__":
    main()
