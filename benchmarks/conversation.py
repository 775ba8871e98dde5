"""Conversation quality: how well each turn-taking strategy takes turns, on corpora.

Every item of the corpora (``conversation_corpus.py``: complete questions, utterances
with a mid-thought pause, backchannels and noises, real interruptions; >= 50 each,
several offline voices and speaking rates) is played in real time through the real
engine: ``CallSession`` on a loopback call, the real Silero VAD, a streaming
transcriber that reports the words as they are spoken (100 ms late, final 100 ms after
the end of the utterance), an LLM whose first token takes 200 ms and a voice whose
first audio takes 100 ms. Items run ``--concurrency`` at a time (each its own call).

Per strategy it reports:

- **cut-offs** (pauses corpus): the assistant's audio went out while the caller was in
  a mid-thought pause (the caller heard it start talking over the rest of the thought);
  ``premature replies`` counts replies started in the pause and cancelled before a
  sound (silent, but wasted LLM requests);
- **false interruptions** (backchannels corpus): the assistant's speech was stopped by a
  backchannel or a noise; ``resumed`` how many of those it took up again;
- **missed barge-ins** (interruptions corpus): the assistant was still talking 2 s after
  the caller's interruption began; ``stop`` the time from the caller's first word to
  the assistant's silence;
- **end-of-turn latency** (complete corpus): caller's last word → the engine's end-of-turn
  decision; **voice-to-voice**: caller's last word → the assistant's first audio out;
- the CPU seconds the whole run took per call-minute (all of the engine, the VAD and the
  turn model; the difference between strategies is the turn model's cost).

    .venv/bin/python benchmarks/conversation.py [--strategies silence,smart]
        [--corpora pauses,backchannels] [--per-corpus 60] [--concurrency 6] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.conversation_corpus import (
    CORPORA,
    PROMPT,
    RATE,
    Item,
    build_corpora,
    synthesise,
)

from callwright.clock import Clock, MonotonicClock
from callwright.domain.assistants.schemas import AssistantIn
from callwright.engine.config import CallConfig
from callwright.engine.events import AssistantMessage, SessionEvent, TurnTiming
from callwright.engine.session import CallSession
from callwright.engine.session_providers import SessionProviders
from callwright.engine.smart_turn import STRATEGIES as TURN_STRATEGIES
from callwright.engine.smart_turn import TurnStrategy, end_of_turn_policy
from callwright.providers.fakes import ScriptedLLM, ToneTTS
from callwright.providers.protocols import LLMRequest, STTOptions, Transcript
from callwright.providers.turn import TurnModel
from callwright.providers.turn.smart_turn_v3 import smart_turn_model
from callwright.providers.vad.silero import SileroVAD
from callwright.transports.loopback import LoopbackTransport
from callwright.transports.protocol import AudioReceived

FRAME_S = 0.02
STT_LATENCY_S = 0.1
LONG_ANSWER = (
    "We are open every day of the week. On weekdays the doors open at nine in the "
    "morning and close at ten at night. On Saturdays we open an hour later, and on "
    "Sundays we close at eight. The kitchen takes its last orders half an hour before "
    "closing, and the bar stays open a little longer on Fridays."
)
SHORT_ANSWER = "Sure, I can help with that."
INTERRUPTED_WITHIN_S = 2.0


# -- a strategy is a set of assistant settings ---------------------------------------------


@dataclass(frozen=True)
class Strategy:
    """An end-of-turn strategy (``engine.smart_turn``): ``silence`` is the default, the
    ``smart`` ones are ``stt_settings.turn_detection: smart`` with both signals (the
    words and the Smart Turn audio model) or one alone."""

    name: TurnStrategy

    @property
    def settings(self) -> dict[str, Any]:
        detection = "silence" if self.name == "silence" else "smart"
        return {"stt_settings": {"turn_detection": detection}}


STRATEGIES: dict[str, Strategy] = {name: Strategy(name) for name in TURN_STRATEGIES}


class PacedLoopback(LoopbackTransport):
    """The loopback call on the real clock: each caller frame is due at its place from
    the start of the clip, so a busy loop does not stretch the caller's speech (the
    virtual-time tests keep the plain transport)."""

    async def say(self, pcm16: bytes) -> None:
        step = int(self.sample_rate * FRAME_S) * 2
        start = self.clock.now()
        for index, offset in enumerate(range(0, len(pcm16), step)):
            await self._inbound.put(AudioReceived(pcm16[offset : offset + step]))
            await self._tick(max(0.0, start + (index + 1) * FRAME_S - self.clock.now()))


# -- the caller's transcriber: the words as they are spoken ---------------------------------


class _Stream:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._queue: asyncio.Queue[Transcript | None] = asyncio.Queue(maxsize=512)
        self.spoken: list[str] = []

    async def push_audio(self, pcm16: bytes) -> None:
        return None

    async def end_utterance(self) -> None:
        if not self.spoken:
            return
        await self._clock.sleep(STT_LATENCY_S)
        text, self.spoken = " ".join(self.spoken), []
        await self._queue.put(Transcript(text, True, 0.0, self._clock.now()))

    def discard_utterance(self) -> None:
        return None

    async def end_of_audio(self) -> None:
        await self.end_utterance()
        await self._queue.put(None)

    async def transcripts(self) -> Any:
        while (item := await self._queue.get()) is not None:
            yield item

    async def aclose(self) -> None:
        if not self._queue.full():
            self._queue.put_nowait(None)

    async def words(self, words: list[str]) -> None:
        """The caller has just said ``words``: an interim result STT_LATENCY_S later."""
        self.spoken.extend(words)
        text = " ".join(self.spoken)
        await self._clock.sleep(STT_LATENCY_S)
        if self.spoken and not self._queue.full():
            await self._queue.put(Transcript(text, False, 0.0, self._clock.now()))


class CorpusSTT:
    name = "corpus-stt"
    sample_rate = RATE

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.stream: _Stream | None = None

    async def open_stream(self, options: STTOptions) -> _Stream:
        self.stream = _Stream(self._clock)
        return self.stream


# -- the caller ---------------------------------------------------------------------------------


@dataclass
class Caller:
    """Plays an item's audio frame by frame at real-time pace (a frame arrives when its
    20 ms have been spoken) and tells the transcriber each word as it is said."""

    transport: PacedLoopback
    stt: CorpusSTT
    clock: Clock
    group: asyncio.TaskGroup
    marks: dict[str, float] = field(default_factory=dict)

    async def play(self, pcm16: bytes, text: str = "") -> tuple[float, float]:
        """Returns (start, end) on the clock; the words are spread evenly over the clip
        and each is told to the transcriber once its share of the audio has played."""
        words = text.split()
        start = self.clock.now()
        if not words:
            await self.transport.say(pcm16)
            return start, self.clock.now()
        step = int(RATE * FRAME_S) * 2
        frames = max(1, (len(pcm16) + step - 1) // step)
        cuts = [round(frames * (n + 1) / len(words)) * step for n in range(len(words))]
        offset = 0
        for word, cut in zip(words, cuts, strict=True):
            await self.transport.say(pcm16[offset:cut])
            offset = cut
            if self.stt.stream is not None:
                self.group.create_task(self.stt.stream.words([word]))
        return start, self.clock.now()

    async def silence(self, seconds: float) -> None:
        await self.transport.silence(seconds)

    async def until(self, at: float) -> None:
        await self.transport.silence(max(0.0, at - self.clock.now()))

    async def wait_for_audio_out(self, after: float, timeout_s: float) -> float | None:
        """The first time the assistant's audio went out after ``after``; the caller's line
        carries silence meanwhile."""
        deadline = self.clock.now() + timeout_s
        while self.clock.now() < deadline:
            for sent in self.transport.sent:
                if sent.at >= after:
                    return sent.at
            await self.transport.silence(FRAME_S)  # a phone line never goes quiet
        return None


# -- one item -----------------------------------------------------------------------------------


def _answer(request: LLMRequest) -> str:
    last = next((m.content or "" for m in reversed(request.messages) if m.role == "user"), "")
    return LONG_ANSWER if "opening hours" in last else SHORT_ANSWER


async def run_item(item: Item, strategy: Strategy, model: TurnModel | None) -> dict[str, Any]:
    clock = MonotonicClock()
    settings = AssistantIn.model_validate(
        {
            "name": "conversation-bench",
            "first_message_mode": "assistant-waits-for-user",
            "idle_timeout": None,
            **strategy.settings,
        }
    ).model_dump(mode="json")
    config = CallConfig.from_settings(settings)
    transport = PacedLoopback(clock)
    stt = CorpusSTT(clock)
    llm = ScriptedLLM(clock, [_answer] * 8, first_token_s=0.2, token_s=0.02)
    tts = ToneTTS(clock, first_audio_s=0.1)
    events: list[SessionEvent] = []
    policy = end_of_turn_policy(strategy.name, config.endpointing, config.stt.language, model)
    session = CallSession(
        config,
        SessionProviders((llm,), stt, tts, SileroVAD(RATE), turn_model=model),
        transport,
        clock,
        events.append,
        end_of_turn=policy,
    )
    result: dict[str, Any] = {"corpus": item.corpus, "key": item.key, "voice": item.voice.name}

    async def drive(group: asyncio.TaskGroup) -> None:
        caller = Caller(transport, stt, clock, group)
        await caller.silence(0.3)
        if item.corpus == "complete":
            _, last_word = await caller.play(item.audio[0], item.segments[0].text)
            out = await caller.wait_for_audio_out(last_word, 5.0)
            result["last_word_at"] = last_word
            result["audio_out_at"] = out
            await caller.silence(0.3)
        elif item.corpus == "pauses":
            first, second = item.segments
            _, pause_start = await caller.play(item.audio[0], first.text)
            await caller.silence(first.pause_s)
            _, last_word = await caller.play(item.audio[1], second.text)
            result["pause_s"] = first.pause_s
            result["text"] = f"{first.text} … {second.text}"
            result["cut_off"] = any(pause_start <= s.at < last_word for s in transport.sent)
            result["premature_requests"] = sum(
                1 for t in _timings(events) if t.llm_request_at and t.llm_request_at < last_word
            )
            out = await caller.wait_for_audio_out(last_word, 5.0)
            result["last_word_at"] = last_word
            result["audio_out_at"] = out
            await caller.silence(0.3)
        else:
            _, asked = await caller.play(item.audio[0], PROMPT)
            speaking = await caller.wait_for_audio_out(asked, 5.0)
            if speaking is None:
                result["error"] = "the assistant never answered the prompt"
                return
            await caller.until(speaking + 1.0)
            segment = item.segments[1]
            start, _ = await caller.play(item.audio[1], segment.text)
            await caller.silence(INTERRUPTED_WITHIN_S + 0.5)
            stops = [at for at in transport.cleared_at if at >= start]
            result["sound"] = segment.noise or segment.text
            result["stopped"] = bool(stops) and stops[0] - start <= INTERRUPTED_WITHIN_S
            result["stop_ms"] = (stops[0] - start) * 1000 if stops else None
            result["resumed"] = bool(stops) and any(s.at > stops[0] for s in transport.sent)
        await transport.hang_up_caller()

    async with asyncio.TaskGroup() as group:
        group.create_task(session.run())
        group.create_task(drive(group))
    for timing in _timings(events):
        last_word = result.get("last_word_at")
        if last_word and timing.end_of_turn_at and timing.end_of_turn_at >= last_word - 0.05:
            result["end_of_turn_ms"] = (timing.end_of_turn_at - last_word) * 1000
            break
    if result.get("audio_out_at") is not None:
        result["voice_to_voice_ms"] = (result["audio_out_at"] - result["last_word_at"]) * 1000
    result["assistant_interrupted"] = sum(
        1 for e in events if isinstance(e, AssistantMessage) and e.interrupted
    )
    for key in ("last_word_at", "audio_out_at"):
        result.pop(key, None)
    return result


def _timings(events: list[SessionEvent]) -> list[TurnTiming]:
    return [e for e in events if isinstance(e, TurnTiming) and e.turn > 0]


# -- the run ------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))], 1)


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def of(corpus: str) -> list[dict[str, Any]]:
        return [r for r in rows if r["corpus"] == corpus and "error" not in r]

    complete, pauses = of("complete"), of("pauses")
    backchannels, interruptions = of("backchannels"), of("interruptions")
    eot = [r["end_of_turn_ms"] for r in complete if "end_of_turn_ms" in r]
    v2v = [r["voice_to_voice_ms"] for r in complete if "voice_to_voice_ms" in r]
    stops = [r["stop_ms"] for r in interruptions if r.get("stopped")]
    false = [r for r in backchannels if r.get("stopped")]
    cut = [r for r in pauses if r["cut_off"]]
    by_pause: dict[str, str] = {}
    for pause in sorted({r["pause_s"] for r in pauses}):
        chosen = [r for r in pauses if r["pause_s"] == pause]
        by_pause[f"{pause:.1f}s"] = f"{sum(r['cut_off'] for r in chosen)}/{len(chosen)}"
    return {
        "items": {c: len(of(c)) for c in CORPORA},
        "errors": [r for r in rows if "error" in r],
        "cut_offs": f"{sum(r['cut_off'] for r in pauses)}/{len(pauses)}",
        "cut_offs_by_pause": by_pause,
        "cut_offs_by": [
            {"text": r["text"], "voice": r["voice"], "pause_s": r["pause_s"]}
            for r in sorted(cut, key=lambda r: (r["pause_s"], r["text"], r["voice"]))
        ],
        "premature_replies": sum(r["premature_requests"] for r in pauses),
        "false_interruptions": f"{len(false)}/{len(backchannels)}",
        "false_interruptions_resumed": sum(1 for r in false if r.get("resumed")),
        "false_interruptions_by": sorted({str(r["sound"]) for r in false}),
        "missed_barge_ins": f"{len(interruptions) - len(stops)}/{len(interruptions)}",
        "missed_by": sorted({str(r["sound"]) for r in interruptions if not r.get("stopped")}),
        "stop_ms": {"p50": percentile(stops, 50), "p95": percentile(stops, 95)},
        "end_of_turn_ms": {"p50": percentile(eot, 50), "p95": percentile(eot, 95)},
        "voice_to_voice_ms": {"p50": percentile(v2v, 50), "p95": percentile(v2v, 95)},
    }


async def run_strategy(
    items: list[Item], strategy: Strategy, model: TurnModel | None, concurrency: int
) -> tuple[list[dict[str, Any]], float, float]:
    gate = asyncio.Semaphore(concurrency)
    rows: list[dict[str, Any]] = []

    async def one(item: Item) -> None:
        async with gate:
            rows.append(await run_item(item, strategy, model))

    started, cpu = time.perf_counter(), time.process_time()
    async with asyncio.TaskGroup() as group:
        for item in items:
            group.create_task(one(item))
    return rows, time.perf_counter() - started, time.process_time() - cpu


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    corpora = args.corpora.split(",")
    unknown = sorted(set(corpora) - set(CORPORA))
    if unknown:
        raise SystemExit(f"unknown corpora {unknown}: choose from {', '.join(CORPORA)}")
    items = [i for i in build_corpora(args.per_corpus) if i.corpus in corpora]
    print(f"synthesising {len(items)} items…", file=sys.stderr)
    await synthesise(items)
    caller_s = sum(len(a) for i in items for a in i.audio) / 2 / RATE
    report: dict[str, Any] = {
        "per_corpus": args.per_corpus,
        "corpora": corpora,
        "concurrency": args.concurrency,
    }
    for name in args.strategies.split(","):
        strategy = STRATEGIES[name]
        print(f"running {name}…", file=sys.stderr)
        model = None if strategy.name == "silence" else smart_turn_model()
        rows, wall, cpu = await run_strategy(items, strategy, model, args.concurrency)
        summary = summarise(rows)
        call_minutes = wall * args.concurrency / 60
        summary["cpu_s_per_call_minute"] = round(cpu / call_minutes, 2)
        summary["wall_s"] = round(wall, 1)
        summary["caller_audio_s"] = round(caller_s)
        report[name] = summary
        if args.rows:
            report[f"{name}_rows"] = rows
        print(json.dumps({name: summary}, indent=2), file=sys.stderr)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--corpora", default=",".join(CORPORA), help="a subset, comma-separated")
    parser.add_argument("--per-corpus", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=6)
    parser.add_argument("--rows", action="store_true", help="keep every item's result")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report = asyncio.run(main_async(args))
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
