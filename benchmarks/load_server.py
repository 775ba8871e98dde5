"""The server under load: the real app (``create_app``) on uvicorn, with providers of
fixed, configurable latency in place of vendors.

    .venv/bin/python benchmarks/load_server.py --port 8765 --data-dir /tmp/x \\
        --ready-file /tmp/x/ready.json [--database-url postgresql://…] [--vad silero]

Before serving it migrates the database and creates an organization, a user and an API
key; once uvicorn listens it writes ``{"pid", "base_url", "api_key"}`` to the ready
file. Providers per call: ``ScriptedSTT`` (Deepgram's stand-in, built for the line's
rate as production builds Deepgram: 8 kHz on a phone call; final transcript
``--stt-final-ms`` after it is asked), ``ScriptedLLM`` (first token after
``--llm-first-token-ms``, then one word per ``--llm-token-ms``), a paced tone TTS
(first audio after ``--tts-first-audio-ms``, then 100 ms chunks at ``--tts-speed`` ×
real time) and Silero VAD (the real model, as production runs it; ``--vad energy``
for the fake, at the line's rate too). The conversation they script is
``SCRIPT`` below; ``load.py`` plays the caller's side of it.

``--workers N`` (N > 1) runs N server processes on the port, as ``callwright serve
--workers N`` does (uvicorn's supervisor, an app per process built by ``worker_app``):
the database is prepared once, and each worker writes its own ready file
(``<ready-file>.<pid>``) once it serves; ``/bench/*`` answers for the worker that
took the request (its ``pid`` is in the answer).

Besides the app's own routes: ``GET /metrics`` (Prometheus, with the HTTP middleware)
and ``GET /bench/loop-lag[?reset=1]`` (the event loop's lag samples, taken every
``--lag-interval-ms``: p50/p95/p99/max in ms since the last reset, each stall over
50 ms with where its time went, and garbage-collection pauses).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import os
import secrets
import signal
import sys
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
# ``load_server:worker_app`` is imported by name in every worker process.
sys.path.insert(0, str(Path(__file__).resolve().parent))

import psutil
import uvicorn
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from callwright.api.app import create_app
from callwright.api.routes.metrics import metrics_router
from callwright.clock import Clock, MonotonicClock
from callwright.domain.accounts.service import AccountsService
from callwright.engine.session_providers import SessionProviders
from callwright.observability.eventloop import LagSamples
from callwright.observability.metrics import Metrics, default_metrics
from callwright.observability.middleware import HttpMetricsMiddleware
from callwright.providers.fakes import EnergyVAD, ScriptedLLM, ScriptedSTT, speech
from callwright.providers.protocols import VAD, TTSOptions
from callwright.runtime.heap import CALL_SERVER_GC_THRESHOLDS, settle_heap
from callwright.runtime.registry import ProviderChoice, ProviderFactory, hearing_rate
from callwright.settings import Settings
from callwright.store.database import create_engine, create_session_factory
from callwright.store.migrate import upgrade_to_head

__all__ = ["REALTIME_KEY", "SCRIPT", "Latencies", "Turn", "main", "parse_args", "worker_app"]

REALTIME_KEY = "load-test-gemini-key"


@dataclass(frozen=True)
class Turn:
    """One exchange: the caller says ``heard`` (the STT's transcript of the clip
    ``clip``), the assistant answers ``reply``. ``barge_in_after_s``: the caller talks
    over the *previous* reply that long after it started."""

    clip: str
    heard: str
    reply: str
    barge_in_after_s: float | None = None


GREETING = "Hello, thanks for calling Acme. How can I help?"
# Each reply opens with a one-word sentence, as assistants often do: the first audio
# then waits for exactly one more token (the one that confirms the sentence ended), so
# the measured sentence wait is the platform's choice, not the model's streaming speed.
# Turn 3 talks over turn 2's long reply (barge-in), so that reply is cut off.
SCRIPT: tuple[Turn, ...] = (
    Turn(
        "open_tomorrow.wav",
        "What time do you open tomorrow?",
        "Sure. We open at nine in the morning and close at six in the evening.",
    ),
    Turn(
        "book_table.wav",
        "I would like to book a table for two.",
        "Certainly. We have a table for two at seven and another at half past eight, "
        "and there is a quiet one by the window if you would prefer that. "
        "Shall I hold one of them for you?",
    ),
    Turn(
        "open_tomorrow.wav",
        "Sorry, what time do you open tomorrow?",
        "Okay. We open at nine tomorrow morning.",
        barge_in_after_s=1.0,
    ),
    Turn(
        "book_table.wav",
        "Then book a table for two at seven.",
        "Done. Your table for two is booked for seven. Goodbye!",
    ),
)


@dataclass(frozen=True)
class Latencies:
    """The providers' fixed latencies, in seconds."""

    stt_final_s: float = 0.1
    llm_first_token_s: float = 0.2
    llm_token_s: float = 0.02
    tts_first_audio_s: float = 0.1
    tts_speed: float = 5.0
    tts_seconds_per_char: float = 0.065


@dataclass
class PacedToneTTS:
    """A streaming TTS of fixed latency: first audio after ``first_audio_s``, then
    ``chunk_s`` of audio every ``chunk_s / speed`` seconds (a vendor streaming faster
    than real time), the length following the text."""

    clock: Clock
    first_audio_s: float
    speed: float
    seconds_per_char: float
    chunk_s: float = 0.1
    name: str = "paced-tone-tts"
    sample_rate: int = 16_000

    async def synthesize(self, text: str, options: TTSOptions) -> AsyncGenerator[bytes, None]:
        await self.clock.sleep(self.first_audio_s)
        audio = speech(len(text) * self.seconds_per_char, self.sample_rate)
        step = int(self.chunk_s * self.sample_rate) * 2
        for offset in range(0, len(audio), step):
            if offset:
                await self.clock.sleep(self.chunk_s / self.speed)
            yield audio[offset : offset + step]


@dataclass
class UnbatchedSilero:
    """The VAD as it ran before batching (the baseline for A/B runs): Silero's 16 kHz
    model, one frame per model run."""

    detector: Any

    @property
    def sample_rate(self) -> int:
        return int(self.detector.sample_rate)

    @property
    def frame_samples(self) -> int:
        return int(self.detector.frame_samples)

    async def probability(self, pcm16_frame: bytes) -> float:
        return float(self.detector.speech_probability(pcm16_frame))

    def reset(self) -> None:
        self.detector.reset()


def provider_factory(latencies: Latencies, vad: str, vad_window_ms: float) -> ProviderFactory:
    clock = MonotonicClock()
    if vad != "energy":
        from callwright.providers.vad.silero import SileroVAD, load_model

        load_model()  # once, before the first call

    def detector(rate: int) -> VAD:
        if vad == "silero":  # as callwright.runtime.registry builds it
            return SileroVAD(rate, batch_window_s=vad_window_ms / 1000)
        if vad == "silero-unbatched":
            return UnbatchedSilero(SileroVAD(16_000))
        return EnergyVAD(rate, 256 if rate == 8_000 else 512)

    async def build(
        settings: Mapping[str, Any], organization_id: int, sample_rate: int
    ) -> tuple[SessionProviders, list[ProviderChoice]]:
        # The transcriber (Deepgram's stand-in) takes the rate the call is heard at, as
        # callwright.runtime.registry builds it (decisions 012, 028).
        heard_at = hearing_rate(sample_rate)
        providers = SessionProviders(
            llms=(
                ScriptedLLM(
                    clock,
                    [turn.reply for turn in SCRIPT],
                    first_token_s=latencies.llm_first_token_s,
                    token_s=latencies.llm_token_s,
                ),
            ),
            stt=ScriptedSTT.saying(
                clock,
                *(turn.heard for turn in SCRIPT),
                final_latency_s=latencies.stt_final_s,
                sample_rate=heard_at,
            ),
            # At the line's rate, as a cloud voice is asked for it in production
            # (CloudProviders.tts: ElevenLabs' μ-law/PCM 8 kHz for a phone call).
            tts=PacedToneTTS(
                clock,
                first_audio_s=latencies.tts_first_audio_s,
                speed=latencies.tts_speed,
                seconds_per_char=latencies.tts_seconds_per_char,
                sample_rate=sample_rate,
            ),
            vad=detector(heard_at),
        )
        choices = [
            ProviderChoice("llm", "openai", "scripted-llm", "benchmark"),
            ProviderChoice("stt", "nova-2", "scripted-stt", "benchmark"),
            ProviderChoice("tts", "elevenlabs", "paced-tone-tts", "benchmark"),
        ]
        return providers, choices

    return build


async def bootstrap(settings: Settings) -> str:
    """Migrate the database; create an organization, a user and an API key."""
    engine = create_engine(settings.resolved_database_url)
    try:
        await upgrade_to_head(engine)
        async with create_session_factory(engine)() as session:
            accounts = AccountsService(session)
            organization = await accounts.create_organization("Load test")
            user = await accounts.create_user(
                organization.id, "load@localhost", secrets.token_urlsafe(12)
            )
            _, key = await accounts.issue_api_key(organization.id, user.id, "load", "organization")
            await session.commit()
    finally:
        await engine.dispose()
    return str(key)


def _percentiles(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"samples": 0}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] * 1000, 2)

    return {
        "samples": len(ordered),
        "p50": at(50),
        "p95": at(95),
        "p99": at(99),
        "max": round(ordered[-1] * 1000, 2),
    }


class LoopDiagnostics:
    """Event-loop lag samples, and for each stall (lag over ``stall_s``) whose time it
    was: the loop thread's own CPU (a callback that blocked, or a GC pause), other
    threads of this process holding the GIL (onnxruntime releases it; to_thread work
    and aiosqlite take it back), or neither (the OS ran other processes: the machine
    is shared). Garbage-collection pauses are timed through ``gc.callbacks``."""

    def __init__(self, stall_s: float = 0.05) -> None:
        self.stall_s = stall_s
        self.lag = LagSamples()
        self.stalls: list[dict[str, float]] = []
        # (wall, loop-thread CPU) per collection: a pause whose CPU falls short of its
        # wall time was stretched by the OS, not by the collector.
        self.gc_pauses: dict[int, list[tuple[float, float]]] = {0: [], 1: [], 2: []}
        # Unreachable objects each generation's collections freed: garbage in cycles,
        # which only the collector frees (what rarer collections leave lying longer).
        self.gc_collected: dict[int, int] = {0: 0, 1: 0, 2: 0}
        self._gc_started = (0.0, 0.0)
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = (time.perf_counter(), time.thread_time())
        else:
            wall, cpu = self._gc_started
            self.gc_pauses[info["generation"]].append(
                (time.perf_counter() - wall, time.thread_time() - cpu)
            )
            self.gc_collected[info["generation"]] += info["collected"]

    async def watch(self, metrics: Metrics, interval_s: float) -> None:
        process = psutil.Process()
        while True:
            wall, thread = time.perf_counter(), time.thread_time()
            cpu = sum(process.cpu_times()[:2])
            await asyncio.sleep(interval_s)
            elapsed = time.perf_counter() - wall
            lag = max(0.0, elapsed - interval_s)
            metrics.event_loop_lag.observe(lag)
            self.lag(lag)
            if lag >= self.stall_s:
                own = time.thread_time() - thread
                total = sum(process.cpu_times()[:2]) - cpu
                self.stalls.append(
                    {
                        "lag_ms": round(lag * 1000, 1),
                        "loop_thread_cpu_ms": round(own * 1000, 1),
                        "other_threads_cpu_ms": round(max(0.0, total - own) * 1000, 1),
                        "not_running_ms": round(max(0.0, elapsed - total) * 1000, 1),
                    }
                )

    def report(self, reset: bool) -> dict[str, Any]:
        stalls = sorted(self.stalls, key=lambda s: -s["lag_ms"])
        gc_pauses = {
            f"gen{generation}": {
                "count": len(pauses),
                "max_ms": round(max((w for w, _ in pauses), default=0.0) * 1000, 2),
                "max_cpu_ms": round(max((c for _, c in pauses), default=0.0) * 1000, 2),
                "total_ms": round(sum(w for w, _ in pauses) * 1000, 1),
                "total_cpu_ms": round(sum(c for _, c in pauses) * 1000, 1),
                "collected": self.gc_collected[generation],
            }
            for generation, pauses in self.gc_pauses.items()
        }
        report = _percentiles(list(self.lag.values)) | {
            "stalls_over_50ms": len(stalls),
            "worst_stalls": stalls[:5],
            "stall_time_by_cause_ms": {
                key: round(sum(s[key] for s in stalls), 1)
                for key in ("loop_thread_cpu_ms", "other_threads_cpu_ms", "not_running_ms")
            },
            "gc": gc_pauses,
            "gc_tracked_objects": len(gc.get_objects()),
            "gc_frozen_objects": gc.get_freeze_count(),
        }
        if reset:
            self.lag.clear()
            self.stalls.clear()
            for pauses in self.gc_pauses.values():
                pauses.clear()
            self.gc_collected = dict.fromkeys(self.gc_collected, 0)
        return report


class SendPacing:
    """When the server wrote each outbound audio message, per stream, taken where the
    transport sends it (``TwilioMediaStream.send_audio`` wrapped in this process only):
    the server's own pacing, apart from what loopback TCP and the caller's process add
    on the way. Jitter is computed as the caller computes it, per sentence (a mark ends
    one, a ``clear`` drops it), without the sentence's last message (the resampler's
    flush, sent at once)."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.jitter_s: list[float] = []
        self._sentences: dict[str, list[float]] = {}

    def install(self) -> None:
        from callwright.transports.twilio.media_stream import TwilioMediaStream

        pacing = self
        send_audio, mark = TwilioMediaStream.send_audio, TwilioMediaStream.mark
        clear_audio = TwilioMediaStream.clear_audio

        async def timed_send_audio(stream: TwilioMediaStream, pcm16: bytes) -> None:
            pacing._sentences.setdefault(id(stream), []).append(time.monotonic())
            await send_audio(stream, pcm16)

        async def timed_mark(stream: TwilioMediaStream, name: str) -> None:
            pacing._end_sentence(id(stream))
            await mark(stream, name)

        async def timed_clear_audio(stream: TwilioMediaStream) -> None:
            pacing._sentences.pop(id(stream), None)  # a barge-in: the sentence was cut
            await clear_audio(stream)

        TwilioMediaStream.send_audio = timed_send_audio  # type: ignore[method-assign]
        TwilioMediaStream.clear_audio = timed_clear_audio  # type: ignore[method-assign]
        TwilioMediaStream.mark = timed_mark  # type: ignore[method-assign]

    def _end_sentence(self, stream: int) -> None:
        sent = self._sentences.pop(stream, [])[:-1]
        self.jitter_s.extend(
            abs((later - earlier) - self.interval_s) for earlier, later in itertools.pairwise(sent)
        )

    def report(self, reset: bool) -> dict[str, Any]:
        report = _percentiles(self.jitter_s)  # in ms
        if reset:
            self.jitter_s = []
        return report


_BARE_BODY = b'{"status":"ok"}'


async def _bare_asgi(scope: Scope, receive: Receive, send: Send) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"15")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": _BARE_BODY})


def _gc_freeze(thresholds: tuple[int, int, int]) -> Callable[[], Awaitable[dict[str, int]]]:
    """``POST /bench/gc-freeze``: what ``callwright serve`` does once it is up
    (``settle_heap``: collect, freeze what the warm process holds, set the collector's
    thresholds), here after the warm-up call so lazily imported modules are frozen too."""

    async def freeze() -> dict[str, int]:
        return {"frozen": settle_heap(thresholds), "pid": os.getpid()}

    return freeze


async def _trivial_route() -> dict[str, str]:
    return {"status": "ok"}


def _settings(args: argparse.Namespace, secret_key: str) -> Settings:
    base_url = f"http://{args.host}:{args.port}"
    return Settings(
        database_url=args.database_url
        or f"sqlite+aiosqlite:///{(args.data_dir / 'callwright.db').resolve()}",
        data_dir=args.data_dir,
        secret_key=secret_key,
        redis_url=None,
        # Every caller is 127.0.0.1: budgets no test traffic can reach, limiter still on.
        rate_limit_per_key_per_minute=10**8,
        rate_limit_per_ip_per_minute=10**8,
        public_url=args.public_url or base_url,
        twilio_api_base_url=args.twilio_api_base_url,
        max_concurrent_calls=args.max_calls,
        # The harness's webhook receiver and fake Twilio listen on loopback: allowed by
        # the operator setting a real deployment would use (decision 014).
        outbound_allowed_hosts="127.0.0.1",
        outbound_allow_http=True,
        # A realtime assistant's Gemini Live model: the fake load.py serves.
        gemini_api_key=REALTIME_KEY if args.realtime_url else None,
        gemini_base_url=args.realtime_url,
    )


def bench_app(
    args: argparse.Namespace, settings: Settings
) -> tuple[FastAPI, LoopDiagnostics, Metrics]:
    """The app with the benchmark's providers and its ``/bench`` routes."""
    latencies = Latencies(
        stt_final_s=args.stt_final_ms / 1000,
        llm_first_token_s=args.llm_first_token_ms / 1000,
        llm_token_s=args.llm_token_ms / 1000,
        tts_first_audio_s=args.tts_first_audio_ms / 1000,
        tts_speed=args.tts_speed,
    )
    app = create_app(
        settings, provider_factory=provider_factory(latencies, args.vad, args.vad_batch_window_ms)
    )
    metrics = default_metrics()
    diagnostics = LoopDiagnostics()
    pacing = SendPacing(interval_s=0.1 / latencies.tts_speed)
    pacing.install()

    async def loop_lag(reset: bool = False) -> dict[str, Any]:
        report = diagnostics.report(reset) | {"send_jitter_ms": pacing.report(reset)}
        return report | {"pid": os.getpid()}

    app.add_api_route("/bench/loop-lag", loop_lag, methods=["GET"], include_in_schema=False)
    app.add_api_route(
        "/bench/gc-freeze",
        _gc_freeze(args.gc_thresholds),
        methods=["POST"],
        include_in_schema=False,
    )
    # api_throughput.py's floors: the same process and middleware stack, no routing
    # into FastAPI (a mounted ASGI callable), and a FastAPI route with no dependencies.
    app.mount("/bench/bare", _bare_asgi)
    app.add_api_route("/bench/route", _trivial_route, methods=["GET"], include_in_schema=False)
    app.include_router(metrics_router(metrics=metrics))
    app.add_middleware(HttpMetricsMiddleware, metrics=metrics)
    return app, diagnostics, metrics


def _ready(args: argparse.Namespace, path: Path, api_key: str) -> None:
    if args.gc_freeze:
        settle_heap(args.gc_thresholds)
    ready = {
        "pid": os.getpid(),
        "base_url": f"http://{args.host}:{args.port}",
        "api_key": api_key,
    }
    path.write_text(json.dumps(ready))


async def serve(args: argparse.Namespace) -> None:
    settings = _settings(args, secrets.token_urlsafe(48))
    api_key = await bootstrap(settings)
    app, diagnostics, metrics = bench_app(args, settings)
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        proxy_headers=True,
        ws=args.ws,
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)

    async def announce() -> None:
        while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, no event
            await asyncio.sleep(0.02)
        _ready(args, args.ready_file, api_key)

    async with asyncio.TaskGroup() as group:
        watcher = group.create_task(diagnostics.watch(metrics, args.lag_interval_ms / 1000))
        announcer = group.create_task(announce())
        await server.serve()
        watcher.cancel()
        announcer.cancel()


# The parent hands each worker its arguments, secret key and API key.
_WORKER_ENV = "LOAD_SERVER_WORKER"


def worker_app() -> FastAPI:
    """One worker's app (``--workers`` > 1): the parent's settings, the benchmark's
    routes, the loop watcher running with the app, a ready file once it serves."""
    shared = json.loads(os.environ[_WORKER_ENV])
    args = parse_args(shared["argv"])
    app, diagnostics, metrics = bench_app(args, _settings(args, shared["secret_key"]))
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(served: Any) -> AsyncIterator[Any]:
        async with inner(served) as state, asyncio.TaskGroup() as group:
            watcher = group.create_task(diagnostics.watch(metrics, args.lag_interval_ms / 1000))
            _ready(args, Path(f"{args.ready_file}.{os.getpid()}"), shared["api_key"])
            try:
                yield state
            finally:
                watcher.cancel()

    app.router.lifespan_context = lifespan
    return app


def serve_workers(args: argparse.Namespace, argv: list[str]) -> None:
    """Prepare once, then N processes on the port under uvicorn's supervisor."""
    secret_key = secrets.token_urlsafe(48)
    api_key = asyncio.run(bootstrap(_settings(args, secret_key)))
    os.environ[_WORKER_ENV] = json.dumps(
        {"argv": argv, "secret_key": secret_key, "api_key": api_key}
    )
    uvicorn.run(
        "load_server:worker_app",
        factory=True,
        workers=args.workers,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        proxy_headers=True,
        ws=args.ws,
        loop=args.loop,
        timeout_graceful_shutdown=10,
        timeout_worker_healthcheck=30,
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--ready-file", type=Path, required=True)
    parser.add_argument("--database-url", help="default: a SQLite file in --data-dir")
    parser.add_argument("--public-url")
    parser.add_argument("--twilio-api-base-url", default="https://api.twilio.com")
    parser.add_argument("--max-calls", type=int, default=200)
    parser.add_argument(
        "--realtime-url", help="the Gemini Live endpoint of a realtime assistant (a fake)"
    )
    parser.add_argument("--stt-final-ms", type=float, default=100)
    parser.add_argument("--llm-first-token-ms", type=float, default=200)
    parser.add_argument("--llm-token-ms", type=float, default=20)
    parser.add_argument("--tts-first-audio-ms", type=float, default=100)
    parser.add_argument("--tts-speed", type=float, default=5.0, help="× real time")
    parser.add_argument(
        "--vad",
        choices=("silero", "silero-unbatched", "energy"),
        default="silero",
        help="silero: batched, at the line's rate, as callwright runs it; "
        "silero-unbatched: 16 kHz, one frame per run (the earlier baseline)",
    )
    parser.add_argument("--vad-batch-window-ms", type=float, default=5.0)
    parser.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default="uvloop",
        help="uvloop is what `callwright serve` picks when installed",
    )
    parser.add_argument(
        "--ws",
        choices=("auto", "websockets", "websockets-sansio", "wsproto"),
        default="auto",
        help="uvicorn's WebSocket implementation (auto is what `callwright serve` uses)",
    )
    parser.add_argument("--lag-interval-ms", type=float, default=20)
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() once serving (and on POST "
        "/bench/gc-freeze, which load.py sends after the warm-up call)",
    )
    parser.add_argument(
        "--gc-thresholds",
        type=_thresholds,
        default=CALL_SERVER_GC_THRESHOLDS,
        help="the collector's thresholds set with --gc-freeze (default: the call server's, "
        "decision 025; 700,10,10 is CPython's own)",
    )
    parser.add_argument(
        "--profile", type=Path, help="cProfile the event-loop thread; stats written here at exit"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes on the port (as `callwright serve --workers`)",
    )
    return parser.parse_args(argv)


def _thresholds(text: str) -> tuple[int, int, int]:
    young, middle, old = (int(part) for part in text.split(","))
    return young, middle, old


def _exit(signum: int, frame: object) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    if args.workers > 1:
        if args.profile:
            raise SystemExit("--profile profiles one process: use --workers 1")
        serve_workers(args, argv)
        return
    # uvicorn re-raises the SIGTERM it caught once it has shut down; exit through Python
    # (finally blocks, the profile) rather than the default action.
    signal.signal(signal.SIGTERM, _exit)
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    try:
        if args.loop == "uvloop":
            import uvloop

            uvloop.run(serve(args))
        else:
            asyncio.run(serve(args))
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(str(args.profile))


if __name__ == "__main__":
    main()
