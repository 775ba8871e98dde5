"""The cost of the Smart Turn v3.2 end-of-turn model (turn_detection: smart).

Prints, for one prediction (8 s of 16 kHz audio): the Whisper log-mel front end and the
ONNX run, p50/p95/p99 in milliseconds; then the model run for batches of 1, 2, 4 and 8
(per batch and per prediction), the way the worker thread runs the questions queued
while it was busy; then the worker itself (``predict`` from the event loop, N calls
asking at once); and the CPU-seconds per call-minute at a given rate of pauses.

    .venv/bin/python benchmarks/smart_turn_model.py [--runs 40] [--pauses-per-minute 12]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

import numpy as np

from callwright.providers.turn.features import log_mel, to_model_rate
from callwright.providers.turn.smart_turn_v3 import SmartTurnV3, load_model


def _percentiles(samples_ms: list[float]) -> str:
    ordered = sorted(samples_ms)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    return f"p50 {at(0.5):7.1f}  p95 {at(0.95):7.1f}  p99 {at(0.99):7.1f} ms"


def _speechlike(seconds: float, sample_rate: int, seed: int) -> bytes:
    """Noise shaped like speech in amplitude (the cost does not depend on the words)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
    signal = rng.normal(0, 3000, t.size) * envelope
    return signal.astype("<i2").tobytes()


def _time(function: object, runs: int) -> list[float]:
    assert callable(function)
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def _worker(model: SmartTurnV3, calls: int, rounds: int) -> tuple[list[float], float]:
    audio = [_speechlike(6.0, 16_000, seed) for seed in range(calls)]
    waits: list[float] = []
    before = (model.batches, model.predictions)
    for _ in range(rounds):
        started = time.perf_counter()
        await asyncio.gather(*(model.predict(pcm, 16_000) for pcm in audio))
        waits.append((time.perf_counter() - started) * 1000)
    batches = model.batches - before[0]
    predictions = model.predictions - before[1]
    return waits, predictions / max(1, batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--pauses-per-minute", type=float, default=12.0)
    args = parser.parse_args()

    print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores shared)")
    session = load_model()
    audio = to_model_rate(_speechlike(6.0, 16_000, 0), 16_000)
    features = log_mel(audio)  # warms the extractor (faster_whisper import)
    session.run(None, {"input_features": features[np.newaxis]})

    cpu_started = time.process_time()
    front = _time(lambda: log_mel(audio), args.runs)
    run = _time(lambda: session.run(None, {"input_features": features[np.newaxis]}), args.runs)
    cpu_per_prediction_s = (time.process_time() - cpu_started) / args.runs
    total = [f + r for f, r in zip(front, run, strict=True)]
    print(f"front end (log-mel, 8 s)      {_percentiles(front)}")
    print(f"model run (batch 1)           {_percentiles(run)}")
    print(f"one prediction                {_percentiles(total)}")
    phone = _speechlike(6.0, 8_000, 1)
    print(
        "8 kHz → 16 kHz interpolation  "
        f"{_percentiles(_time(lambda: to_model_rate(phone, 8_000), args.runs))}"
    )

    print("\nbatched model runs (the worker runs what was queued while it was busy):")
    for size in (1, 2, 4, 8):
        batch = np.stack([features] * size)
        samples = _time(lambda b=batch: session.run(None, {"input_features": b}), args.runs // 2)
        median = statistics.median(samples)
        print(f"  batch {size}: {median:7.1f} ms per run, {median / size:6.1f} ms per prediction")

    print("\nthe worker thread, N calls asking at the same moment (predict → answer):")
    model = SmartTurnV3()
    try:
        for calls in (1, 4, 8):
            waits, mean_batch = asyncio.run(_worker(model, calls, max(3, args.runs // 8)))
            print(f"  {calls} calls: {_percentiles(waits)}, mean batch {mean_batch:.1f}")
    finally:
        model.close()

    # CPU time, not wall time: on a shared machine the wall clock counts the others.
    cpu_per_minute = cpu_per_prediction_s * args.pauses_per_minute
    print(
        f"\nCPU per prediction {cpu_per_prediction_s * 1000:.1f} ms; per call-minute at "
        f"{args.pauses_per_minute:g} pauses a minute: {cpu_per_minute:.2f} CPU-s "
        f"({cpu_per_minute / 60 * 100:.1f} % of one core)"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
