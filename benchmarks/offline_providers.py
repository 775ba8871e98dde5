"""How fast the offline providers are on this machine: real-time factors and time to
first output, each through callwright's own adapter (so the figures include what the
adapter adds: worker processes, threads, streaming).

    .venv/bin/python benchmarks/offline_providers.py [--repeat 5] [--only whisper,piper]

- whisper tiny.en (faster-whisper): a fixture sentence pushed in 20 ms chunks, then
  ``end_utterance``: time from the end of the audio to the final transcript; RTF =
  that time / the audio's length (the caller waits for it at every turn);
- Piper and espeak-ng: a sentence: time to the first audio chunk, and RTF = synthesis
  time / audio length;
- SmolLM2-135M (llama.cpp): time to the first token, tokens per second after it;
- MiniLM-L6 (int8 ONNX): embeddings per second (batches of 32) and one query's latency.

A model whose extra is not installed is reported as skipped. Writes
benchmarks/results/offline_providers.json, .md and .png.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import wave
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from callwright.providers.errors import ProviderError  # noqa: E402
from callwright.providers.protocols import (  # noqa: E402
    ChatMessage,
    LLMRequest,
    STTOptions,
    TextDelta,
    TTSOptions,
)

FIXTURES = HERE.parent / "tests" / "fixtures" / "audio"
SENTENCE = "Our shop opens at nine tomorrow morning, and the workshop is open until six."
RESULTS = HERE / "results"


def summary(values: list[float], digits: int = 3) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), digits),
        "min": round(ordered[0], digits),
        "max": round(ordered[-1], digits),
    }


def read_wav(name: str) -> tuple[bytes, int]:
    with wave.open(str(FIXTURES / name), "rb") as wav:
        return wav.readframes(wav.getnframes()), wav.getframerate()


async def whisper(repeat: int) -> dict[str, Any]:
    from callwright.providers.stt.whisper_local import LocalWhisperSTT

    stt = LocalWhisperSTT()
    started = time.perf_counter()
    await stt.load()
    load_s = time.perf_counter() - started
    results: dict[str, Any] = {"load_s": round(load_s, 2)}
    try:
        for name in ("open_tomorrow.wav", "book_table.wav"):
            pcm, rate = read_wav(name)
            seconds = len(pcm) / 2 / rate
            finals: list[float] = []
            text = ""
            for _ in range(repeat):
                stream = await stt.open_stream(STTOptions(interim_results=False))
                try:
                    step = rate // 50 * 2
                    for offset in range(0, len(pcm), step):
                        await stream.push_audio(pcm[offset : offset + step])
                    asked = time.perf_counter()
                    await stream.end_of_audio()
                    async for transcript in stream.transcripts():
                        if transcript.is_final:
                            finals.append(time.perf_counter() - asked)
                            text = transcript.text
                finally:
                    await stream.aclose()
            results[name] = {
                "audio_s": round(seconds, 2),
                "final_after_s": summary(finals),
                "rtf": round(statistics.median(finals) / seconds, 3),
                "text": text,
            }
    finally:
        await stt.aclose()
    return results


async def tts(make: Callable[[], Any], repeat: int, start: bool = False) -> dict[str, Any]:
    synthesiser = make()
    load_s = 0.0
    if start:
        started = time.perf_counter()
        await synthesiser.start()
        load_s = time.perf_counter() - started
    firsts: list[float] = []
    rtfs: list[float] = []
    try:
        await _drain(synthesiser.synthesize("Warming up.", TTSOptions()))
        for _ in range(repeat):
            started = time.perf_counter()
            first = None
            audio = 0
            async for chunk in synthesiser.synthesize(SENTENCE, TTSOptions()):
                first = first if first is not None else time.perf_counter() - started
                audio += len(chunk)
            total = time.perf_counter() - started
            assert first is not None
            firsts.append(first * 1000)
            rtfs.append(total / (audio / 2 / synthesiser.sample_rate))
    finally:
        close = getattr(synthesiser, "aclose", None)
        if close is not None:
            await close()
    return {
        "start_s": round(load_s, 2),
        "first_audio_ms": summary(firsts, 1),
        "rtf": summary(rtfs),
        "sentence_chars": len(SENTENCE),
    }


async def _drain(stream: Any) -> None:
    async for _ in stream:
        pass


async def smollm(repeat: int) -> dict[str, Any]:
    from callwright.providers.llm.local import LocalLlamaLLM

    llm = LocalLlamaLLM()
    started = time.perf_counter()
    await llm.load()
    load_s = time.perf_counter() - started
    request = LLMRequest(
        messages=(
            ChatMessage("system", "You are a helpful assistant on a phone line. Be brief."),
            ChatMessage("user", "What should I check before a long bike ride?"),
        ),
        max_tokens=64,
        temperature=0.0,
    )
    firsts: list[float] = []
    rates: list[float] = []
    for _ in range(repeat):
        started = time.perf_counter()
        first = None
        deltas = 0
        async for event in llm.stream(request):
            if isinstance(event, TextDelta):
                first = first if first is not None else time.perf_counter()
                deltas += 1
        end = time.perf_counter()
        assert first is not None
        firsts.append((first - started) * 1000)
        if deltas > 1:
            rates.append((deltas - 1) / (end - first))
    return {
        "load_s": round(load_s, 2),
        "first_token_ms": summary(firsts, 1),
        "tokens_per_s": summary(rates, 1),
        "max_tokens": 64,
    }


async def minilm(repeat: int) -> dict[str, Any]:
    from callwright.providers.embeddings.minilm import MiniLMEmbeddings

    embeddings = MiniLMEmbeddings()
    texts = [f"{SENTENCE} Passage number {i} of the handbook." for i in range(256)]
    await embeddings.embed(texts[:4])  # load
    rates: list[float] = []
    singles: list[float] = []
    for _ in range(repeat):
        started = time.perf_counter()
        await embeddings.embed(texts)
        rates.append(len(texts) / (time.perf_counter() - started))
        started = time.perf_counter()
        await embeddings.embed(["When do you open tomorrow?"])
        singles.append((time.perf_counter() - started) * 1000)
    return {"embeddings_per_s": summary(rates, 1), "one_query_ms": summary(singles, 2)}


def _piper() -> Any:
    from callwright.providers.tts.piper import PiperTTS

    return PiperTTS()


def _espeak() -> Any:
    from callwright.providers.tts.espeak import EspeakTTS

    return EspeakTTS()


BENCHMARKS: dict[str, Callable[[int], Awaitable[dict[str, Any]]]] = {
    "whisper": whisper,
    "piper": lambda repeat: tts(_piper, repeat, start=True),
    "espeak": lambda repeat: tts(_espeak, repeat),
    "smollm2": smollm,
    "minilm": minilm,
}


async def run(names: list[str], repeat: int) -> dict[str, Any]:
    report: dict[str, Any] = {
        "measured_at": time.strftime("%Y-%m-%d %H:%M"),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "repeat": repeat,
        "providers": {},
    }
    for name in names:
        try:
            report["providers"][name] = await BENCHMARKS[name](repeat)
        except (ImportError, OSError, ProviderError) as exc:
            # The extra is not installed, or its model cannot load here.
            report["providers"][name] = {"skipped": f"{type(exc).__name__}: {exc}"}
        print(name, json.dumps(report["providers"][name]), flush=True)
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return report


def write(report: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "offline_providers.json").write_text(json.dumps(report, indent=2))
    p = report["providers"]
    lines = [
        "# Offline providers",
        "",
        f"Measured {report['measured_at']}, median of {report['repeat']} runs; load average "
        f"{report['load_average_before']} before, {report['load_average_after']} after.",
        "",
        "| provider | figure |",
        "|---|---|",
    ]
    for name, result in p.items():
        if "skipped" in result:
            lines.append(f"| {name} | skipped: {result['skipped']} |")
        elif name == "whisper":
            for clip, r in result.items():
                if isinstance(r, dict):
                    lines.append(
                        f"| whisper tiny.en, {clip} ({r['audio_s']} s) | final "
                        f"{r['final_after_s']['median']} s after the audio ended, RTF {r['rtf']} |"
                    )
        elif name in ("piper", "espeak"):
            lines.append(
                f"| {name} ({result['sentence_chars']} chars) | first audio "
                f"{result['first_audio_ms']['median']} ms, RTF {result['rtf']['median']} |"
            )
        elif name == "smollm2":
            lines.append(
                f"| SmolLM2-135M | first token {result['first_token_ms']['median']} ms, "
                f"{result['tokens_per_s']['median']} tokens/s |"
            )
        elif name == "minilm":
            lines.append(
                f"| MiniLM-L6 int8 | {result['embeddings_per_s']['median']} embeddings/s "
                f"(batches of 32), one query {result['one_query_ms']['median']} ms |"
            )
    (out / "offline_providers.md").write_text("\n".join(lines) + "\n")
    plot(report, out / "offline_providers.png")


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = report["providers"]
    waits: list[tuple[str, float]] = []
    for name, result in p.items():
        if "skipped" in result:
            continue
        if name == "whisper":
            for clip, r in result.items():
                if isinstance(r, dict):
                    waits.append(
                        (f"whisper final\n{clip[:-4]}", r["final_after_s"]["median"] * 1000)
                    )
        elif name in ("piper", "espeak"):
            waits.append((f"{name}\nfirst audio", result["first_audio_ms"]["median"]))
        elif name == "smollm2":
            waits.append(("SmolLM2\nfirst token", result["first_token_ms"]["median"]))
        elif name == "minilm":
            waits.append(("MiniLM\none query", result["one_query_ms"]["median"]))
    figure, axis = plt.subplots(figsize=(9, 4))
    axis.bar([w[0] for w in waits], [w[1] for w in waits], color="#4477aa")
    axis.set_ylabel("ms (median)")
    axis.set_title("What a turn waits for, per offline provider (one call at a time)")
    for index, (_, value) in enumerate(waits):
        axis.annotate(f"{value:.0f}", (index, value), ha="center", va="bottom", fontsize=8)
    axis.tick_params(axis="x", labelsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--only",
        default=",".join(BENCHMARKS),
        type=lambda s: [x.strip() for x in s.split(",") if x.strip()],
        help=f"comma-separated subset of {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    unknown = [name for name in args.only if name not in BENCHMARKS]
    if unknown:
        parser.error(f"--only: unknown {', '.join(unknown)} (choose from {', '.join(BENCHMARKS)})")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    report = asyncio.run(run(args.only, args.repeat))
    write(report, args.out)


if __name__ == "__main__":
    main()
