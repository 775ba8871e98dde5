"""The engine's own share of a turn, with instant providers, on the real clock.

A scripted caller speaks and pauses; the STT, LLM and TTS fakes answer with zero
latency, so whatever time passes between the end-of-turn decision and the first audio
frame sent is the engine's own work (sentence chunking, TTS plumbing, resampling,
transport writes) plus event-loop scheduling. The configured endpointing delay is
reported separately (it is a setting, not overhead).

    .venv/bin/python benchmarks/engine_turn.py [--turns 200] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from callwright.clock import MonotonicClock
from callwright.domain.assistants.schemas import AssistantIn
from callwright.engine.config import CallConfig
from callwright.engine.events import SessionEvent, TurnTiming
from callwright.engine.session import CallSession
from callwright.engine.session_providers import SessionProviders
from callwright.providers.fakes import EnergyVAD, ScriptedLLM, ScriptedSTT, ToneTTS, speech
from callwright.transports.loopback import LoopbackTransport


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def run(turns: int) -> dict[str, object]:
    clock = MonotonicClock()
    settings = AssistantIn(
        name="bench",
        idle_timeout=None,
        max_duration_seconds=None,
        stt_settings={
            "endpointing": {"silence_threshold": 200, "min_silence_duration": 200},
            "vad_turnoff": 200,
        },
    ).model_dump(mode="json")
    config = CallConfig.from_settings(settings)
    transport = LoopbackTransport(clock)
    stt = ScriptedSTT.saying(
        clock, *(f"question number {i}" for i in range(turns)), final_latency_s=0.0
    )
    llm = ScriptedLLM(
        clock, [f"Answer {i}. It is short." for i in range(turns)], first_token_s=0.0, token_s=0.0
    )
    tts = ToneTTS(clock, first_audio_s=0.0, seconds_per_char=0.01)
    events: list[SessionEvent] = []
    session = CallSession(
        config, SessionProviders((llm,), stt, tts, EnergyVAD()), transport, clock, events.append
    )

    async def caller() -> None:
        for _ in range(turns):
            await transport.say(speech(0.3))
            await transport.silence(0.6)
        await transport.hang_up_caller()

    started = time.perf_counter()
    cpu_started = time.process_time()
    async with asyncio.TaskGroup() as group:
        group.create_task(session.run())
        group.create_task(caller())
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    timings = [e for e in events if isinstance(e, TurnTiming) and e.turn > 0]
    share = [
        (t.first_frame_out_at - t.end_of_turn_at) * 1000
        for t in timings
        if t.first_frame_out_at is not None and t.end_of_turn_at is not None
    ]
    endpointing = [
        (t.end_of_turn_at - t.user_stopped_at) * 1000
        for t in timings
        if t.end_of_turn_at is not None and t.user_stopped_at is not None
    ]
    return {
        "turns": len(share),
        "engine_share_ms": {q: round(percentile(share, q), 3) for q in (50, 95, 99)},
        "engine_share_mean_ms": round(statistics.fmean(share), 3),
        "endpointing_ms": {q: round(percentile(endpointing, q), 1) for q in (50, 95, 99)},
        "configured_silence_threshold_ms": 200,
        "cpu_s_per_call_minute": round(cpu / wall * 60, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = asyncio.run(run(args.turns))
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
