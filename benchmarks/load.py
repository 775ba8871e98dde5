"""Concurrent simulated phone calls against a real server process, over real WebSockets.

    .venv/bin/python benchmarks/load.py [--calls 1,10,20,40,60,80] [--databases sqlite,postgres]

For each database it starts ``load_server.py`` (the real app on uvicorn, providers of
fixed latency: STT final 100 ms, LLM first token 200 ms, TTS first audio 100 ms), sets
up an assistant and a phone number through the API (against a fake of Twilio's REST
API), makes one warm-up call, then for each N runs N concurrent inbound calls the way
Twilio drives them: a signed voice webhook, the TwiML's Media Stream, and on it 20 ms
μ-law frames in real time, continuously (speech from the fixture WAVs, silence
between). Each call hears the greeting, asks, listens to the answer, asks again, talks
over the long answer 1 s into it (barge-in), asks a last time and hangs up (``stop``):
about 20 s. Replies are played out at real time; marks are echoed when played; a
``clear`` drops the buffer, as Twilio does.

Per N it reports (see benchmarks/README.md for the definitions):

- turn latency from the call records' timing rows: voice-to-voice split into
  endpointing (a setting), provider time (LLM first token + TTS first audio) and
  platform time (``callwright.observability.metrics.platform_ms``), p50/p95/p99;
  and the caller's own voice-to-voice (last speech frame sent → first audio back);
- outbound jitter: RFC 3550-style transit-time differences of consecutive audio
  messages within a sentence against the TTS's own pacing, as the caller receives them
  and as the server sent them; mid-sentence underruns;
- the server's event-loop lag (a 20 ms timer's lateness) p99;
- server CPU-seconds per call-minute, memory per call (psutil);
- failed or lost calls: any caller-side failure, or a record that is not complete.

Writes benchmarks/results/load.json, load.md and load.png.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import platform
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

import httpx  # noqa: E402
import psutil  # noqa: E402
from load_caller import (  # noqa: E402
    ACCOUNT_SID,
    AUTH_TOKEN,
    OUR_NUMBER,
    Clip,
    load_clip,
    one_call,
    serve_in_process,
    spawn_server,
    twilio_api,
    voice_webhook,
    webhook_receiver,
)
from load_databases import database  # noqa: E402
from load_report import largest_good_n, summarise, write_results  # noqa: E402
from load_server import GREETING, REALTIME_KEY, SCRIPT  # noqa: E402

from callwright.observability.eventloop import LagSamples, watch_event_loop  # noqa: E402
from callwright.observability.metrics import Metrics  # noqa: E402

RESULTS = HERE / "results"
SERVER_SCRIPT = HERE / "load_server.py"


# -- the server process ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    """``load_server.py``; with ``--server-workers`` above 1, ``pids`` are its workers
    (the supervisor itself serves nothing) and CPU and memory are theirs, summed."""

    process: asyncio.subprocess.Process
    base_url: str
    api_key: str
    log: Path
    pids: list[int]

    def serving(self) -> list[psutil.Process]:
        return [psutil.Process(pid) for pid in self.pids]

    def cpu_s(self) -> float:
        return sum(sum(process.cpu_times()[:2]) for process in self.serving())

    def rss(self) -> int:
        return sum(process.memory_info().rss for process in self.serving())


def server_flags(args: argparse.Namespace) -> list[str]:
    """load_server.py's options for this run's providers and settings."""
    flags = [
        f"--max-calls={args.max_calls}",
        f"--stt-final-ms={args.stt_final_ms}",
        f"--llm-first-token-ms={args.llm_first_token_ms}",
        f"--llm-token-ms={args.llm_token_ms}",
        f"--tts-first-audio-ms={args.tts_first_audio_ms}",
        f"--tts-speed={args.tts_speed}",
        f"--vad={args.vad}",
        f"--vad-batch-window-ms={args.vad_batch_window_ms}",
        f"--loop={args.server_loop}",
        f"--ws={args.server_ws}",
    ]
    if args.server_gc_freeze:
        flags.append("--gc-freeze")
        if args.server_gc_thresholds:
            flags.append(f"--gc-thresholds={args.server_gc_thresholds}")
    if args.server_profile:
        flags.append(f"--profile={args.server_profile}")
    if args.server_workers > 1:
        # Each worker's limit well above the run's calls: a call's place is held on the
        # worker that answered its webhook until its token expires when another worker
        # runs its stream, and the refusal probe needs one full process (workers 1).
        flags[0] = f"--max-calls={10 * args.max_calls}"
        flags.append(f"--workers={args.server_workers}")
    return flags


@contextlib.asynccontextmanager
async def server_process(
    flags: list[str],
    database_url: str | None,
    twilio_url: str,
    work: Path,
    workers: int = 1,
    cpus: str | None = None,
) -> AsyncIterator[ServerProcess]:
    """``load_server.py`` as a child process, until it has stopped."""
    port = free_port()
    ready = work / "ready.json"
    log = work / "server.log"
    # ``--server-cpus``: taskset pins the server (and any workers it forks) to those cores.
    pin = ["taskset", "--cpu-list", cpus] if cpus else []
    argv = [
        *pin,
        sys.executable,
        str(SERVER_SCRIPT),
        f"--port={port}",
        f"--data-dir={work / 'data'}",
        f"--ready-file={ready}",
        f"--twilio-api-base-url={twilio_url}",
        *flags,
    ]
    if database_url:
        argv.append(f"--database-url={database_url}")
    process = await spawn_server(argv, log)
    try:
        deadline = time.monotonic() + 90 * workers

        def announced() -> list[Path]:
            # One worker: ready.json; N workers: ready.json.<pid> each.
            return [ready] if ready.exists() else sorted(work.glob(f"{ready.name}.*"))

        while len(announced()) < workers:
            if process.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start:\n{log.read_text()[-3000:]}")
            await asyncio.sleep(0.1)
        infos = [json.loads(path.read_text()) for path in announced()]
        pids = [info["pid"] for info in infos]
        info = infos[0]
        yield ServerProcess(process, info["base_url"], info["api_key"], log, pids)
    finally:
        if process.returncode is None:
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 20)
        except TimeoutError:
            process.kill()
            await process.wait()


@contextlib.asynccontextmanager
async def realtime_model(args: argparse.Namespace) -> AsyncIterator[list[str]]:
    """With ``--realtime``: the Gemini Live fake, served by this process, every session
    playing ``SCRIPT`` (the server's flags to reach it); else nothing."""
    if not args.realtime:
        yield []
        return
    sys.path.insert(0, str(HERE.parent))
    from tests.vendor_fakes import Reply
    from tests.vendor_fakes.gemini_live import GeminiLiveFake

    fake = GeminiLiveFake(api_key=REALTIME_KEY)
    fake.per_session = (
        tuple(turn.heard for turn in SCRIPT),
        tuple(Reply((turn.reply,)) for turn in SCRIPT),
    )
    async with serve_in_process(fake.app) as url:
        yield [f"--realtime-url={url}"]


# -- set-up, records, one phase -----------------------------------------------------------


REALTIME = {"provider": "gemini", "model": "gemini-3.1-flash-live-preview", "voice": "Kore"}


async def set_up(
    server: ServerProcess, numbers: set[str], webhook_url: str | None, *, realtime: bool = False
) -> None:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    mode = {"mode": "realtime", "realtime_settings": REALTIME} if realtime else {}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=30) as api:
        assistant = await api.post(
            "/api/v1/assistants",
            json=mode
            | {
                "name": "Load test",
                "llm_settings": {"welcome_message": GREETING},
                "twilio_config": {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN},
                "webhook_url": webhook_url,
                "idle_timeout": None,
                "stt_settings": {
                    "endpointing": {"silence_threshold": 200, "min_silence_duration": 200},
                    "vad_turnoff": 200,
                },
            },
        )
        assistant.raise_for_status()
        numbers.add(OUR_NUMBER)
        number = await api.post(
            "/api/v1/phone-numbers",
            json={
                "number": OUR_NUMBER,
                "assistant_id": assistant.json()["id"],
                "configure_webhook": True,
            },
        )
        number.raise_for_status()


async def fetch_records(server: ServerProcess, call_sids: set[str]) -> dict[str, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    found: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=30) as api:
        while True:
            listed = (await api.get("/api/v1/calls", params={"limit": 1000})).json()
            for call in listed:  # the list carries whole records
                sid = call["provider_call_id"]
                if sid in call_sids and call["status"] == "ended":
                    found[sid] = call
            if set(found) >= call_sids or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.5)


async def _from_each_worker(
    server: ServerProcess, method: str, path: str, params: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """One answer from every worker: each request goes to whichever worker accepts its
    connection, so ask (new connections) until every pid has answered."""
    answers: dict[int, dict[str, Any]] = {}
    for _ in range(200 * len(server.pids)):
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as api:
            answer = await api.request(method, path, params=params)
            answer.raise_for_status()
            body = dict(answer.json())
        answers.setdefault(body["pid"], body)
        if set(answers) >= set(server.pids):
            return [answers[pid] for pid in server.pids]
    raise RuntimeError(f"{path}: workers {set(server.pids) - set(answers)} never answered")


def _worst(reports: list[Any]) -> Any:
    """Several workers' reports as one: every figure the worst (largest) of them."""
    first = reports[0]
    if isinstance(first, dict):
        return {key: _worst([r[key] for r in reports if key in r]) for key in first}
    if isinstance(first, int | float) and not isinstance(first, bool):
        return max(reports)
    return first


async def server_loop_lag(server: ServerProcess, reset: bool) -> dict[str, Any]:
    """The event loop's lag report; with several workers, the worst worker's figures
    (reset on every worker)."""
    reports = await _from_each_worker(
        server, "GET", "/bench/loop-lag", {"reset": str(reset).lower()}
    )
    for report in reports:
        report.pop("pid")
    merged: dict[str, Any] = _worst(reports)
    if len(reports) > 1:
        merged["per_worker_p99_ms"] = [report.get("p99") for report in reports]
    return merged


async def gc_freeze(server: ServerProcess) -> None:
    """Freeze what the warm server holds (models, lazily imported modules included)."""
    await _from_each_worker(server, "POST", "/bench/gc-freeze")


async def idle_cores(server: ServerProcess, seconds: float = 5.0) -> float:
    """Cores the server uses with no call up (its timers and pollers)."""
    before = server.cpu_s()
    await asyncio.sleep(seconds)
    return (server.cpu_s() - before) / seconds


async def run_phase(
    server: ServerProcess,
    n: int,
    clips: dict[str, Clip],
    args: argparse.Namespace,
    rss_floor: int | None = None,
) -> dict[str, Any]:
    """N calls at once; memory per call is counted from ``rss_floor`` (the server's
    resident size after the warm-up call: the allocator keeps what earlier phases
    freed, so each phase's own starting size would undercount)."""
    await server_loop_lag(server, reset=True)
    load_before = os.getloadavg()[0]
    client_lag = LagSamples()
    rss_base = rss_floor or server.rss()
    cpu_base = server.cpu_s()
    client = psutil.Process()
    client_cpu_base = sum(client.cpu_times()[:2])
    rss_peak = rss_base
    wall_base = time.monotonic()
    interval = 0.1 / args.tts_speed
    ramp = min(args.ramp_s, 0.25 * n)
    starts = [wall_base + 0.2 + ramp * i / max(1, n) for i in range(n)]
    busy_probe: str | None = None

    async def sample_memory() -> None:
        nonlocal rss_peak
        while True:
            rss_peak = max(rss_peak, server.rss())
            await asyncio.sleep(0.25)

    async def probe_capacity() -> None:
        # Past max_concurrent_calls a new call must be refused at once, not queued.
        nonlocal busy_probe
        await asyncio.sleep(max(0.0, starts[-1] + 2.0 - time.monotonic()))
        try:
            await voice_webhook(server.base_url, "CA" + uuid.uuid4().hex)
            busy_probe = "accepted (should have been refused)"
        except RuntimeError as exc:
            busy_probe = str(exc)

    async with asyncio.TaskGroup() as group:
        sampler = group.create_task(sample_memory())
        lagger = group.create_task(
            watch_event_loop(Metrics(process=False), interval_s=0.02, also=client_lag)
        )
        probing = n == args.max_calls and args.server_workers == 1
        prober = group.create_task(probe_capacity()) if probing else None
        calls = [group.create_task(one_call(server.base_url, clips, interval, t)) for t in starts]
        results = [await call for call in calls]
        if prober is not None:
            await prober
        phase_wall = time.monotonic() - wall_base
        records = await fetch_records(server, {r.call_sid for r in results})
        sampler.cancel()
        lagger.cancel()
    cpu = server.cpu_s() - cpu_base
    client_cpu = sum(client.cpu_times()[:2]) - client_cpu_base
    server_lag = await server_loop_lag(server, reset=True)
    phase = summarise(
        n,
        results,
        records,
        args.realtime,
        args.idle_cores,
        cpu,
        client_cpu,
        phase_wall,
        rss_base,
        rss_peak,
        server_lag,
        client_lag,
        busy_probe,
    )
    # The cores are shared: what else ran on them is part of every figure.
    phase["load_average_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return phase


# -- the run ------------------------------------------------------------------------------


async def run_database(
    kind: str, args: argparse.Namespace, clips: dict[str, Clip]
) -> dict[str, Any]:
    numbers: set[str] = set()
    hooks: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix=f"cw-load-{kind}-") as tmp:
        work = Path(tmp)
        async with (
            database(kind) as database_url,
            serve_in_process(twilio_api(numbers)) as twilio_url,
            serve_in_process(webhook_receiver(hooks)) as receiver_url,
            realtime_model(args) as realtime_flags,
            server_process(
                server_flags(args) + realtime_flags,
                database_url,
                twilio_url,
                work,
                args.server_workers,
                args.server_cpus,
            ) as server,
        ):
            await set_up(
                server,
                numbers,
                receiver_url + "/hook" if args.webhooks else None,
                realtime=args.realtime,
            )
            print(f"[{kind}] server pids {server.pids} at {server.base_url}", flush=True)
            warm = await run_phase(server, 1, clips, args)
            if warm["failed_or_lost"]:
                raise RuntimeError(f"the warm-up call failed: {warm['failures']}")
            if args.server_gc_freeze:
                await gc_freeze(server)
            # This process plays every caller (and the fake Twilio API and webhook
            # receiver): a full collection here would read as the server's jitter.
            gc.collect()
            gc.freeze()
            await asyncio.sleep(1.0)
            rss_floor = server.rss()
            args.idle_cores = await idle_cores(server)
            phases = []
            for n in args.calls:
                await asyncio.sleep(1.0)
                phase = await run_phase(server, n, clips, args, rss_floor)
                phases.append(phase)
                print(
                    f"[{kind}] N={n:>3}: platform p50/p95/p99 "
                    f"{phase['platform_ms'].get('p50')}/{phase['platform_ms'].get('p95')}/"
                    f"{phase['platform_ms'].get('p99')} ms, client v2v p95 "
                    f"{phase['client_voice_to_voice_ms'].get('p95')} ms, jitter p99 "
                    f"{phase['outbound_jitter_ms'].get('p99')} ms (server sends "
                    f"{phase['server_send_jitter_ms'].get('p99')} ms), loop lag p99 "
                    f"{phase['server_loop_lag_ms'].get('p99')} ms, cpu/call-min "
                    f"{phase['server_cpu_s_per_call_minute']} s, failed "
                    f"{phase['failed_or_lost']}",
                    flush=True,
                )
                if phase["failed_or_lost"]:
                    for failure in phase["failures"][:5]:
                        print(f"    {failure}", flush=True)
                if args.stop_on_failure and phase["failed_or_lost"] and n != args.max_calls:
                    break
    return {
        "database": kind,
        "server_idle_cores": round(args.idle_cores, 4),
        "phases": phases,
        "webhook_events_received": hooks,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--calls",
        default="1,10,20,40,60,80",
        type=lambda s: [int(x) for x in s.split(",")],
        help="concurrent calls per phase",
    )
    parser.add_argument(
        "--databases", default="sqlite,postgres", type=lambda s: [x.strip() for x in s.split(",")]
    )
    parser.add_argument(
        "--max-calls",
        type=int,
        default=None,
        help="the server's max_concurrent_calls (default: the largest N, "
        "so that one more call is refused at the largest N)",
    )
    parser.add_argument(
        "--ramp-s",
        type=float,
        default=5.0,
        help="calls start spread over this long (at most 0.25 s apart)",
    )
    parser.add_argument("--stt-final-ms", type=float, default=100)
    parser.add_argument("--llm-first-token-ms", type=float, default=200)
    parser.add_argument("--llm-token-ms", type=float, default=20)
    parser.add_argument("--tts-first-audio-ms", type=float, default=100)
    parser.add_argument("--tts-speed", type=float, default=5.0)
    parser.add_argument(
        "--vad",
        choices=("silero", "silero-unbatched"),
        default="silero",
        help="silero-unbatched: the 16 kHz model one frame per run (the earlier baseline)",
    )
    parser.add_argument("--vad-batch-window-ms", type=float, default=5.0)
    parser.add_argument("--server-loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument(
        "--server-ws",
        choices=("auto", "websockets", "websockets-sansio", "wsproto"),
        default="auto",
    )
    parser.add_argument("--client-loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument(
        "--no-webhooks",
        dest="webhooks",
        action="store_false",
        help="no webhook_url on the assistant (no outbox writes)",
    )
    parser.add_argument("--stop-on-failure", action="store_true")
    parser.add_argument(
        "--realtime",
        action="store_true",
        help="a realtime assistant (mode realtime, Gemini Live) instead of the pipeline, "
        "its model the Live API fake served by this process",
    )
    parser.add_argument(
        "--no-server-gc-freeze",
        dest="server_gc_freeze",
        action="store_false",
        help="the server does not freeze its heap after the warm-up call "
        "(`callwright serve` freezes it after start-up)",
    )
    parser.add_argument(
        "--server-gc-thresholds",
        help="young,middle,old: the server's collector thresholds once frozen (default: "
        "the call server's own, decision 025; 700,10,10 for CPython's defaults)",
    )
    parser.add_argument(
        "--server-profile",
        type=Path,
        help="cProfile the server (slower!); pstats file written at exit",
    )
    parser.add_argument(
        "--server-workers",
        type=int,
        default=1,
        help="server processes on one port (`callwright serve --workers`); CPU and memory "
        "are the workers' summed, loop lag the worst worker's",
    )
    parser.add_argument(
        "--server-cpus",
        help="pin the server's process(es) to these cores (taskset list, e.g. 0), so that "
        "the caller and the server do not take each other's core",
    )
    parser.add_argument(
        "--client-cpus",
        type=lambda s: {int(x) for x in s.split(",")},
        help="pin this process (the callers, fake Twilio, webhook receiver) to these cores",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--name", default="load", help="output files: NAME.json/.md/.png")
    args = parser.parse_args(argv)
    for kind in args.databases:
        if kind not in ("sqlite", "postgres"):
            parser.error(f"--databases: unknown database {kind!r} (sqlite, postgres)")
    if any(n < 1 for n in args.calls):
        parser.error("--calls: every N must be at least 1")
    args.max_calls = args.max_calls or max(args.calls)
    args.idle_cores = 0.0
    return args


async def run(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    clips = {turn.clip: load_clip(turn.clip) for turn in SCRIPT}
    report: dict[str, Any] = {
        "name": args.name,
        "measured_at": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()}, {psutil.cpu_count()} cores, Python "
        f"{platform.python_version()}",
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "command": "python benchmarks/load.py " + " ".join(argv),
        "providers": {
            "STT final": f"{args.stt_final_ms:g} ms",
            "LLM first token": f"{args.llm_first_token_ms:g} ms",
            "LLM per word": f"{args.llm_token_ms:g} ms",
            "TTS first audio": f"{args.tts_first_audio_ms:g} ms",
            "TTS speed": f"{args.tts_speed:g}x real time",
            "VAD": "silero",
            "endpointing": "silence 200 ms, vad_turnoff 200 ms",
            "server loop": args.server_loop,
            "server gc.freeze()": args.server_gc_freeze,
            "server gc thresholds": args.server_gc_thresholds or "callwright serve's",
            "server workers": args.server_workers,
            "server cores (taskset)": args.server_cpus or "any",
            "caller cores": ",".join(map(str, sorted(args.client_cpus or []))) or "any",
            "mode": "realtime (Gemini Live fake)" if args.realtime else "pipeline",
        },
        "databases": [],
        "realtime": args.realtime,
    }
    for kind in args.databases:
        try:
            result = await run_database(kind, args, clips)
        except OSError as exc:
            print(f"[{kind}] skipped: {exc}", flush=True)
            continue
        result["largest_good_n"] = largest_good_n(result["phases"], args.realtime)
        report["databases"].append(result)
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return report


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.client_cpus:
        os.sched_setaffinity(0, args.client_cpus)
    if args.client_loop == "uvloop":
        import uvloop

        report = uvloop.run(run(args, argv))
    else:
        report = asyncio.run(run(args, argv))
    write_results(report, args.out)
    print(json.dumps({d["database"]: d["largest_good_n"] for d in report["databases"]}))


if __name__ == "__main__":
    main()
