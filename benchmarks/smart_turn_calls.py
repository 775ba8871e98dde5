"""End-of-turn strategies on real speech, in real time: a quick comparison.

Each caller line is synthesised by Piper, played in 20 ms frames in real time over the
loopback transport into a real session: Silero VAD, the end-of-turn strategy (with the
real Smart Turn v3.2 model for the smart ones), a scripted transcriber (its interims at
``--interim-wps`` words a second, its final ``--stt-final-ms`` after it is asked for)
and a scripted LLM (first token 200 ms). Two small corpora:

- complete lines → end-of-turn latency (the caller's last speech → the decision) and
  voice-to-voice (→ the first audio out), p50/p95, and the early LLM requests used;
- lines with a mid-thought pause → cut-offs (a turn taken in the pause) and wasted
  early requests.

    .venv/bin/python benchmarks/smart_turn_calls.py [--strategies silence,smart] [--pause-s 0.8]

The issue's full benchmark (``benchmarks/conversation.py``, 50+ items per corpus, several
voices) is another script; this one checks the strategies behave as designed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from dataclasses import dataclass

import numpy as np

from callwright.audio.resample import Resampler
from callwright.clock import MonotonicClock
from callwright.domain.assistants.schemas import AssistantIn
from callwright.engine.config import CallConfig
from callwright.engine.events import SessionEvent, TurnTiming, UserMessage
from callwright.engine.session import CallSession
from callwright.engine.session_providers import SessionProviders
from callwright.engine.smart_turn import STRATEGIES, TurnStrategy, end_of_turn_policy
from callwright.providers.fakes import ScriptedLLM, ScriptedSTT, ToneTTS
from callwright.providers.protocols import TTSOptions
from callwright.providers.tts.piper import PiperTTS
from callwright.providers.turn import TurnModel
from callwright.providers.turn.smart_turn_v3 import smart_turn_model
from callwright.providers.vad.silero import SileroVAD
from callwright.transports.loopback import LoopbackTransport

COMPLETE = (
    "What time do you open on Saturday?",
    "Can I pay with a credit card?",
    "I'd like to cancel my appointment.",
    "Yes, that's right.",
    "Do you deliver to the city center?",
    "My name is Ada Lovelace.",
    "No thanks.",
    "How much is the large pizza?",
)
PAUSED = (
    ("I'd like to book a table for", "four people at eight."),
    ("My phone number is five five five", "one two three four."),
    ("I need eggs, milk,", "and some bread."),
    ("Can you send it to", "my office address?"),
)
_RATE = 16_000


@dataclass
class Outcome:
    endpointing_ms: list[float]
    voice_to_voice_ms: list[float]
    cut_offs: int = 0
    used: int = 0
    wasted: int = 0


async def _speech(tts: PiperTTS, text: str) -> bytes:
    """The line's speech without Piper's leading and trailing silence (so a pause is
    as long as the corpus says)."""
    options = TTSOptions(extra={"noise_scale": 0.0, "noise_w_scale": 0.0})
    pcm = b"".join([chunk async for chunk in tts.synthesize(text, options)])
    samples = np.frombuffer(Resampler(tts.sample_rate, _RATE).process(pcm), "<i2")
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > 500)
    return samples[loud[0] : loud[-1] + 1].tobytes() if loud.size else samples.tobytes()


@dataclass(frozen=True)
class Transcriber:
    words_per_second: float  # how fast its interims keep up with the speech
    final_s: float  # its final, after it is asked for


async def _call(
    strategy: TurnStrategy,
    pieces: list[bytes | float],
    words: tuple[str, ...],
    model: TurnModel,
    stt: Transcriber,
) -> list[SessionEvent]:
    settings = {"turn_detection": "smart" if strategy != "silence" else "silence"}
    document = AssistantIn(
        name="bench", idle_timeout=None, max_duration_seconds=None, stt_settings=settings
    ).model_dump(mode="json")
    config = CallConfig.from_settings(document)
    clock = MonotonicClock()
    transport = LoopbackTransport(clock)
    providers = SessionProviders(
        llms=(ScriptedLLM(clock, ["Okay.", "Sure.", "Right."]),),
        stt=ScriptedSTT.saying(
            clock, *words, words_per_second=stt.words_per_second, final_latency_s=stt.final_s
        ),
        tts=ToneTTS(clock),
        vad=SileroVAD(_RATE),
    )
    policy = end_of_turn_policy(strategy, config.endpointing, "en-US", model)
    events: list[SessionEvent] = []
    session = CallSession(config, providers, transport, clock, events.append, end_of_turn=policy)

    async def caller() -> None:
        for piece in pieces:
            if isinstance(piece, bytes):
                await transport.say(piece)
            else:
                await transport.silence(piece)
        await transport.silence(2.0)
        await transport.hang_up_caller()

    async with asyncio.TaskGroup() as group:
        group.create_task(session.run())
        group.create_task(caller())
    return events


def _timings(events: list[SessionEvent]) -> list[TurnTiming]:
    return [e for e in events if isinstance(e, TurnTiming) and e.turn > 0]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--pause-s", type=float, default=0.8)
    parser.add_argument("--interim-wps", type=float, default=5.0)
    parser.add_argument("--stt-final-ms", type=float, default=100.0)
    args = parser.parse_args()
    stt = Transcriber(args.interim_wps, args.stt_final_ms / 1000)
    strategies: list[TurnStrategy] = [s for s in STRATEGIES if s in args.strategies.split(",")]
    print(
        f"load average: {os.getloadavg()[0]:.2f}; mid-thought pause {args.pause_s} s; "
        f"interims {args.interim_wps:g} words/s, final {args.stt_final_ms:g} ms after asked"
    )
    tts = PiperTTS()
    model = smart_turn_model()
    try:
        complete = {text: await _speech(tts, text) for text in COMPLETE}
        paused = {
            pair: (await _speech(tts, pair[0]), await _speech(tts, pair[1])) for pair in PAUSED
        }
    finally:
        await tts.aclose()
    for strategy in strategies:
        outcome = Outcome([], [])
        for text, pcm in complete.items():
            for timing in _timings(await _call(strategy, [pcm], (text,), model, stt)):
                if timing.end_of_turn_at and timing.user_stopped_at:
                    outcome.endpointing_ms.append(
                        1000 * (timing.end_of_turn_at - timing.user_stopped_at)
                    )
                if timing.first_frame_out_at and timing.user_stopped_at:
                    outcome.voice_to_voice_ms.append(
                        1000 * (timing.first_frame_out_at - timing.user_stopped_at)
                    )
                outcome.used += timing.preempted
                outcome.wasted += timing.preemptions_wasted
        for (first, second), (one, two) in paused.items():
            events = await _call(strategy, [one, args.pause_s, two], (first, second), model, stt)
            said = [e.text for e in events if isinstance(e, UserMessage)]
            outcome.cut_offs += bool(said) and said[0] == first
            outcome.wasted += sum(t.preemptions_wasted for t in _timings(events))
        e, v = outcome.endpointing_ms, outcome.voice_to_voice_ms
        print(
            f"{strategy:12s} end of turn p50 {_pct(e, 0.5):5.0f} p95 {_pct(e, 0.95):5.0f} ms | "
            f"voice-to-voice p50 {_pct(v, 0.5):5.0f} p95 {_pct(v, 0.95):5.0f} ms | "
            f"cut-offs {outcome.cut_offs}/{len(PAUSED)} | early requests used "
            f"{outcome.used}/{len(COMPLETE)}, wasted {outcome.wasted}",
            flush=True,
        )


if __name__ == "__main__":
    asyncio.run(main())
