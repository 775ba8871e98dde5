"""A soak: a fleet of server processes under steady phone calls, with faults on a schedule.

    .venv/bin/python benchmarks/soak.py [--minutes 30] [--nodes 2] [--calls 10]

``--nodes`` server processes (this script with ``--node PORT``: the app as ``callwright
serve`` runs it, settings from the environment, its own node id, on the load harness's
fixed-latency providers of ``load_server.py``) share one throwaway PostgreSQL database,
reached through ``tests/support/faultproxy.py``, and one Redis (a namespace of the run's
own). ``--calls`` callers (``load_caller.one_call``: Twilio's signed voice webhook, then
the Media Stream with real-time μ-law frames, the four-turn conversation with a
barge-in) keep that many calls up, spread over the nodes that are up, for ``--minutes``.
Faults, at fixed fractions of the run:

- 15 %: provider faults for 45 s — each node's primary LLM and TTS raise
  ``ProviderUnavailable`` (the engine falls over to the backup of each);
- 35 %: the first node SIGKILLed, started again 5 s later (a new node id; its calls
  are swept by another node with the transcript saved so far);
- 55 %: PostgreSQL cut at the proxy for 15 s (every connection reset, connects refused);
- 75 %: the webhook receiver answering 503 for 60 s.

Then no new call is placed, the calls up finish, and once every record has ended and
every end-of-call report is in (or ``--settle-s`` has passed) it reports, from the
database and the local webhook receiver: calls lost (a call placed with no ended record),
transcript lines lost (lines the caller said and heard against the record's; calls cut
by the SIGKILL counted apart, where the turn in flight may be lost), end-of-call reports
lost, each node's resident memory sampled every ``--sample-s`` (slope in MB/minute) and
the caller's voice-to-voice p50/p95 per time window. A table is printed; JSON and
markdown go to ``benchmarks/results/soak-<time>.{json,md}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncGenerator, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT / "src"), str(HERE), str(ROOT)]

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import psutil  # noqa: E402
from load import free_port, set_up  # noqa: E402
from load_caller import CallResult, Clip, load_clip, one_call, serve_in_process, twilio_api  # noqa: E402
from load_databases import database  # noqa: E402
from load_server import SCRIPT, Latencies, bootstrap, provider_factory  # noqa: E402
from tests.support.faultproxy import fault_proxy  # noqa: E402
from tests.webhooks.receiver import Receiver  # noqa: E402

from callwright.providers.errors import ProviderUnavailable  # noqa: E402
from callwright.providers.protocols import LLM, TTS, LLMEvent, LLMRequest, TTSOptions  # noqa: E402
from callwright.runtime.registry import ProviderChoice, ProviderFactory  # noqa: E402
from callwright.settings import Settings  # noqa: E402

RESULTS = HERE / "results"
REDIS = ("127.0.0.1", 6379)
HEARD = {turn.heard for turn in SCRIPT}


# -- one node: the app on the harness's providers, LLM and TTS failing on a flag ----------


@dataclasses.dataclass
class FlakyLLM:
    """``inner`` unless the fault flag file exists; then ``ProviderUnavailable`` before
    the request reaches it (so the scripted conversation does not skip a reply)."""

    inner: LLM
    flag: Path
    name: str = "soak-primary-llm"

    async def stream(self, request: LLMRequest) -> AsyncGenerator[LLMEvent, None]:
        if self.flag.exists():
            raise ProviderUnavailable(self.name, "injected fault")
        async for event in self.inner.stream(request):
            yield event


@dataclasses.dataclass
class FlakyTTS:
    inner: TTS
    flag: Path
    name: str = "soak-primary-tts"

    @property
    def sample_rate(self) -> int:
        return self.inner.sample_rate

    async def synthesize(self, text: str, options: TTSOptions) -> AsyncGenerator[bytes, None]:
        if self.flag.exists():
            raise ProviderUnavailable(self.name, "injected fault")
        async for chunk in self.inner.synthesize(text, options):
            yield chunk


def flaky_factory(inner: ProviderFactory, flag: Path) -> ProviderFactory:
    async def build(
        settings: Mapping[str, Any], organization_id: int, sample_rate: int
    ) -> tuple[Any, list[ProviderChoice]]:
        providers, choices = await inner(settings, organization_id, sample_rate)
        llm = providers.llms[0]
        flaky = dataclasses.replace(
            providers,
            llms=(FlakyLLM(llm, flag), llm),
            tts=FlakyTTS(providers.tts, flag),
            tts_fallbacks=(providers.tts,),
        )
        return flaky, choices

    return build


def run_node(port: int) -> None:
    import uvicorn

    from callwright.api.app import create_app

    settings = Settings()
    factory = provider_factory(Latencies(), os.environ.get("SOAK_VAD", "silero"), 5.0)
    # As ``callwright serve``'s worker_app builds it: the heap frozen after start-up,
    # drained on SIGTERM.
    app = create_app(
        settings,
        provider_factory=flaky_factory(factory, Path(os.environ["SOAK_FAULT_FLAG"])),
        freeze_heap_after_startup=True,
        drain_on_signals=True,
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# -- the fleet, seen from the soak ----------------------------------------------------------


@dataclasses.dataclass
class Node:
    name: str
    env: dict[str, str]
    logs: Path
    port: int = dataclasses.field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    generation: int = 0
    up: bool = False
    rss: dict[str, list[tuple[float, float]]] = dataclasses.field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def label(self) -> str:
        return f"{self.name}#{self.generation}"

    def _launch(self) -> subprocess.Popen[bytes]:
        self.generation += 1
        env = self.env | {"CALLWRIGHT_PUBLIC_URL": self.url}
        with (self.logs / f"{self.label}.log").open("wb") as log:
            return subprocess.Popen(  # noqa: S603 - this script, our own arguments
                [sys.executable, str(Path(__file__)), "--node", str(self.port)],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def start(self) -> None:
        self.process = self._launch()
        deadline = time.monotonic() + 120
        async with httpx.AsyncClient(timeout=2) as http:
            while True:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{self.label} did not start; see {self.logs}")
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get(self.url + "/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.2)
        self.up = True

    def kill(self) -> None:
        assert self.process is not None
        self.up = False
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    async def stop(self) -> None:
        self.up = False
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                await asyncio.to_thread(self.process.wait, 60)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def sample(self, t: float) -> None:
        if self.up and self.process is not None:
            with contextlib.suppress(psutil.Error):
                mb = psutil.Process(self.process.pid).memory_info().rss / 2**20
                self.rss.setdefault(self.label, []).append((round(t, 1), round(mb, 1)))


@dataclasses.dataclass
class Placed:
    """One call the soak made: where, when, and what its caller experienced."""

    node: str
    started: float
    result: CallResult
    ended: float = 0.0
    killed: bool = False  # its node was SIGKILLed while it was up


# -- the run --------------------------------------------------------------------------------


def node_environment(
    args: argparse.Namespace, database_url: str, work: Path, **extra: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLWRIGHT_")}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(HERE), str(ROOT)])
    return env | {
        "CALLWRIGHT_DATABASE_URL": database_url.replace(
            "postgresql://", "postgresql+asyncpg://", 1
        ),
        "CALLWRIGHT_DATA_DIR": str(work / "data"),
        "CALLWRIGHT_REDIS_URL": f"redis://{REDIS[0]}:{REDIS[1]}/0",
        "CALLWRIGHT_REDIS_NAMESPACE": f"soak{uuid.uuid4().hex[:8]}",
        "CALLWRIGHT_NODE_HEARTBEAT_INTERVAL_S": "1",
        "CALLWRIGHT_NODE_EXPIRY_S": "10",
        "CALLWRIGHT_DRAIN_TIMEOUT_S": "5",
        "CALLWRIGHT_WEBHOOK_RETRY_BASE_DELAY_SECONDS": "2",
        "CALLWRIGHT_WEBHOOK_RETRY_MAX_DELAY_SECONDS": "20",
        "CALLWRIGHT_WEBHOOK_POLL_INTERVAL_SECONDS": "1",
        "CALLWRIGHT_RATE_LIMIT_PER_KEY_PER_MINUTE": str(10**8),
        "CALLWRIGHT_RATE_LIMIT_PER_IP_PER_MINUTE": str(10**8),
        "CALLWRIGHT_MAX_CONCURRENT_CALLS": str(4 * args.calls),
        "CALLWRIGHT_OUTBOUND_ALLOWED_HOSTS": "127.0.0.1",
        "CALLWRIGHT_OUTBOUND_ALLOW_HTTP": "true",
        "SOAK_FAULT_FLAG": str(work / "provider-fault"),
        "SOAK_VAD": args.vad,
        **extra,
    }


class Soak:
    def __init__(self, args: argparse.Namespace, nodes: list[Node], receiver: Receiver) -> None:
        self.args = args
        self.nodes = nodes
        self.receiver = receiver
        self.calls: list[Placed] = []
        self.events: list[tuple[float, str]] = []
        self.t0 = time.monotonic()
        self.placing = True
        self.clips: dict[str, Clip] = {turn.clip: load_clip(turn.clip) for turn in SCRIPT}

    def now(self) -> float:
        return time.monotonic() - self.t0

    def note(self, what: str) -> None:
        self.events.append((round(self.now(), 1), what))
        print(f"[{self.now():7.1f} s] {what}", flush=True)

    async def caller(self, slot: int) -> None:
        # Staggered over one call's length (~25 s), so that the calls are not in step
        # (a fault then meets calls in every phase: greeting, turns, barge-in, hang-up).
        await asyncio.sleep(slot * 25 / self.args.calls)
        turn = slot
        while self.placing:
            up = [node for node in self.nodes if node.up]
            if not up:
                await asyncio.sleep(0.5)
                continue
            node = up[turn % len(up)]
            turn += 1
            placed = Placed(node.label, self.now(), CallResult(""))
            self.calls.append(placed)
            placed.result = await one_call(node.url, self.clips, 0.1 / 5.0, time.monotonic())
            placed.ended = self.now()
            if not placed.result.ok:
                await asyncio.sleep(1.0)

    async def schedule(self, work: Path) -> None:
        duration = self.args.minutes * 60
        flag = work / "provider-fault"
        victim = self.nodes[0]

        async def at(fraction: float) -> None:
            await asyncio.sleep(max(0.0, fraction * duration - self.now()))

        await at(0.15)
        flag.touch()
        self.note("provider faults on (primary LLM and TTS unavailable)")
        await asyncio.sleep(45)
        flag.unlink()
        self.note("provider faults off")
        await at(0.35)
        killed_label = victim.label
        victim.kill()
        for placed in self.calls:
            if placed.node == killed_label and not placed.ended:
                placed.killed = True
        self.note(f"{killed_label} SIGKILLed")
        await asyncio.sleep(5)
        await victim.start()
        self.note(f"{victim.label} started")
        await at(0.55)
        self.proxy.cut()
        self.note("PostgreSQL cut at the proxy")
        await asyncio.sleep(15)
        self.proxy.restore()
        self.note("PostgreSQL back")
        await at(0.75)
        self.receiver.mode = "unavailable"
        self.note("webhook receiver answering 503")
        await asyncio.sleep(min(60, 0.15 * duration))
        self.receiver.mode = "ok"
        self.note("webhook receiver back")

    async def memory(self) -> None:
        while True:
            for node in self.nodes:
                node.sample(self.now())
            await asyncio.sleep(self.args.sample_s)

    async def run(self, work: Path, proxy: Any) -> None:
        self.proxy = proxy
        async with asyncio.TaskGroup() as group:
            sampler = group.create_task(self.memory())
            faults = group.create_task(self.schedule(work))
            callers = [group.create_task(self.caller(slot)) for slot in range(self.args.calls)]
            await asyncio.sleep(self.args.minutes * 60)
            self.placing = False
            self.note("no new calls; waiting for the calls up to finish")
            await faults
            await asyncio.gather(*callers)
            sampler.cancel()


# -- the findings -----------------------------------------------------------------------------


async def rows(database_url: str) -> dict[str, dict[str, Any]]:
    connection = await asyncpg.connect(database_url, timeout=10)
    try:
        found = await connection.fetch(
            "SELECT id, provider_call_id, status, end_reason, messages FROM calls"
        )
    finally:
        await connection.close()
    out = {}
    for row in found:
        messages = row["messages"]
        out[row["provider_call_id"]] = dict(row) | {
            "messages": json.loads(messages) if isinstance(messages, str) else messages or []
        }
    return out


def reported_call_ids(receiver: Receiver) -> set[str]:
    ids = set()
    for request in receiver.requests:
        if request.event_type == "end-of-call-report" and 200 <= request.status < 300:
            call = request.payload.get("message", {}).get("call", {})
            ids.add(str(call.get("id")))
    return ids


async def settle(soak: Soak, database_url: str) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """Wait until every placed call's row has ended and its report is in."""
    deadline = time.monotonic() + soak.args.settle_s
    while True:
        found = await rows(database_url)
        ended = {str(r["id"]) for r in found.values() if r["status"] == "ended"}
        reported = reported_call_ids(soak.receiver)
        if (len(ended) == len(found) and ended <= reported) or time.monotonic() > deadline:
            return found, reported
        await asyncio.sleep(2)


def line_counts(messages: list[dict[str, Any]]) -> tuple[int, int]:
    def text(m: dict[str, Any]) -> str:
        return str(m.get("text") or m.get("message") or m.get("content") or "")

    user = sum(1 for m in messages if m.get("role") == "user" and text(m) in HEARD)
    assistant = sum(1 for m in messages if m.get("role") in ("assistant", "bot") and text(m))
    return user, assistant


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 1)


def slope_mb_per_min(series: list[tuple[float, float]]) -> float | None:
    if len(series) < 3:
        return None
    ts, ms = [t / 60 for t, _ in series], [m for _, m in series]
    return round(statistics.linear_regression(ts, ms).slope, 3)


def findings(soak: Soak, found: dict[str, dict[str, Any]], reported: set[str]) -> dict[str, Any]:
    by_sid = {p.result.call_sid: p for p in soak.calls}
    placed = {sid: row for sid, row in found.items() if sid in by_sid}
    lost_calls = [sid for sid, row in placed.items() if row["status"] != "ended"]
    lines: dict[str, dict[str, int]] = {
        key: {"expected": 0, "lost": 0, "calls": 0} for key in ("kept", "killed")
    }
    worst_killed = 0
    killed_detail = []
    for sid, row in placed.items():
        result = by_sid[sid].result
        turns = len(result.v2v_ms)  # turns the caller said and heard answered
        expected_user, expected_assistant = turns, (1 + turns) if (turns or result.ok) else 0
        user, assistant = line_counts(row["messages"])
        lost = max(0, expected_user - user) + max(0, expected_assistant - assistant)
        group = lines["killed" if by_sid[sid].killed else "kept"]
        group["expected"] += expected_user + expected_assistant
        group["lost"] += lost
        group["calls"] += 1
        if by_sid[sid].killed:
            worst_killed = max(worst_killed, lost)
            killed_detail.append(
                {"turns_heard": turns, "record_lines": [user, assistant], "error": result.error}
            )
    lines["killed"]["most_lost_in_one_call"] = worst_killed
    lines["killed"]["calls_detail"] = killed_detail  # type: ignore[assignment]
    ended_ids = {str(r["id"]) for r in placed.values() if r["status"] == "ended"}
    failures = [
        f"{p.node} {p.started:.0f}-{p.ended:.0f} s: {p.result.error}"
        for p in soak.calls
        if not p.result.ok and not p.killed
    ]
    window = soak.args.window_s
    windows = []
    for start in range(0, int(soak.args.minutes * 60), window):
        v2v = [
            ms for p in soak.calls if start <= p.started < start + window for ms in p.result.v2v_ms
        ]
        windows.append(
            {"from_s": start, "turns": len(v2v), "p50_ms": pct(v2v, 0.5), "p95_ms": pct(v2v, 0.95)}
        )
    memory = {
        label: {
            "samples": series,
            "slope_mb_per_min": slope_mb_per_min(series),
            "slope_second_half_mb_per_min": slope_mb_per_min(series[len(series) // 2 :]),
        }
        for node in soak.nodes
        for label, series in node.rss.items()
    }
    return {
        "calls_attempted": len(soak.calls),
        "calls_placed": len(placed),
        "calls_not_placed": len(soak.calls) - len(placed),
        "calls_lost": len(lost_calls),
        "lost_call_sids": lost_calls,
        "end_reasons": _count(r["end_reason"] for r in placed.values()),
        "caller_failures_not_on_killed_node": len(failures),
        "caller_failure_samples": failures[:30],
        "calls_on_killed_node": sum(p.killed for p in soak.calls),
        "transcript_lines": lines,
        "end_of_call_reports_expected": len(ended_ids),
        "end_of_call_reports_lost": len(ended_ids - reported),
        "webhook_requests": len(soak.receiver.requests),
        "webhook_refused_503": sum(r.status == 503 for r in soak.receiver.requests),
        "voice_to_voice_windows": windows,
        "memory_rss_mb": memory,
        "events": soak.events,
    }


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[str(value)] = counts.get(str(value), 0) + 1
    return counts


def write(report: dict[str, Any], out: Path) -> str:
    f = report["findings"]
    lines_ = f["transcript_lines"]
    table = [
        "| figure | value |",
        "|---|---|",
        f"| duration run / target | {report['minutes']} min / 30 min |",
        f"| nodes, steady calls | {report['nodes']}, {report['calls']} |",
        f"| calls placed (not placed: refused or node down) | {f['calls_placed']} "
        f"({f['calls_not_placed']}) |",
        f"| **calls lost** | **{f['calls_lost']}** |",
        f"| **transcript lines lost** (calls not killed) | **{lines_['kept']['lost']}** of "
        f"{lines_['kept']['expected']} |",
        f"| lines lost on the killed node's {lines_['killed']['calls']} calls | "
        f"{lines_['killed']['lost']} of {lines_['killed']['expected']} (most in one call: "
        f"{lines_['killed']['most_lost_in_one_call']}) |",
        f"| **end-of-call reports lost** | **{f['end_of_call_reports_lost']}** of "
        f"{f['end_of_call_reports_expected']} |",
        f"| caller failures not on the killed node | {f['caller_failures_not_on_killed_node']} |",
        f"| end reasons | {', '.join(f'{k}: {v}' for k, v in f['end_reasons'].items())} |",
    ]
    for label, memory in f["memory_rss_mb"].items():
        samples = memory["samples"]
        span = f"{samples[0][1]}→{samples[-1][1]} MB" if samples else "–"
        table.append(
            f"| RSS {label} ({len(samples)} samples) | {span}, slope "
            f"{memory['slope_mb_per_min']} MB/min (second half "
            f"{memory['slope_second_half_mb_per_min']}) |"
        )
    table += ["", "| window from | turns | v2v p50 ms | v2v p95 ms |", "|---|---|---|---|"]
    for w in f["voice_to_voice_windows"]:
        table.append(f"| {w['from_s']} s | {w['turns']} | {w['p50_ms']} | {w['p95_ms']} |")
    table += ["", "Faults (seconds into the run):", ""]
    table += [f"- {t} s: {what}" for t, what in f["events"]]
    text = "\n".join(table)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{report['name']}.json").write_text(json.dumps(report, indent=2))
    (out / f"{report['name']}.md").write_text(
        f"# Soak\n\nMeasured {report['measured_at']} on {report['machine']}; load average "
        f"before {report['load_average_before']}, after {report['load_average_after']}. "
        f"Command: `{report['command']}`\n\n{text}\n"
    )
    return text


async def soak(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    numbers: set[str] = set()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    name = args.name or "soak-" + time.strftime("%Y%m%d-%H%M", time.gmtime())
    load_before = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="cw-soak-") as tmp:
        work = Path(tmp)
        (work / "logs").mkdir()
        receiver = Receiver()
        async with (
            database("postgres") as direct_url,
            serve_in_process(twilio_api(numbers)) as twilio_url,
            receiver.serving(),
        ):
            assert direct_url is not None
            with fault_proxy("127.0.0.1", 5432) as proxy:
                through = direct_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
                secret = "soak-secret-key-" + uuid.uuid4().hex * 2
                env = node_environment(
                    args,
                    through,
                    work,
                    CALLWRIGHT_SECRET_KEY=secret,
                    CALLWRIGHT_TWILIO_API_BASE_URL=twilio_url,
                )
                asyncpg_url = direct_url.replace("postgresql://", "postgresql+asyncpg://", 1)
                api_key = await bootstrap(
                    Settings(database_url=asyncpg_url, secret_key=secret, data_dir=work / "data")
                )
                nodes = [Node(chr(ord("a") + i), env, work / "logs") for i in range(args.nodes)]
                for node in nodes:
                    await node.start()
                await set_up(
                    SimpleNamespace(base_url=nodes[0].url, api_key=api_key),  # type: ignore[arg-type]
                    numbers,
                    receiver.url,
                )
                run = Soak(args, nodes, receiver)
                print(f"nodes {[n.url for n in nodes]}, logs in {work / 'logs'}", flush=True)
                try:
                    await run.run(work, proxy)
                    run.note("settling: waiting for every record and report")
                    found, reported = await settle(run, direct_url)
                    run.note("settled")
                finally:
                    for node in nodes:
                        await node.stop()
    return {
        "name": name,
        "measured_at": started,
        "machine": f"{platform.machine()}, {psutil.cpu_count()} cores, Python "
        f"{platform.python_version()}",
        "load_average_before": load_before,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "command": "python benchmarks/soak.py " + " ".join(argv),
        "minutes": args.minutes,
        "nodes": args.nodes,
        "calls": args.calls,
        "findings": findings(run, found, reported),
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node", type=int, help=argparse.SUPPRESS)  # one server process
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--calls", type=int, default=10, help="calls kept up at once")
    parser.add_argument("--sample-s", type=float, default=30, help="RSS sampling period")
    parser.add_argument("--window-s", type=int, default=0, help="v2v windows (default T/10)")
    parser.add_argument("--settle-s", type=float, default=240)
    parser.add_argument("--vad", choices=("silero", "energy"), default="silero")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--name")
    args = parser.parse_args(argv)
    if args.nodes < 2:
        parser.error("--nodes: at least 2 (one is killed)")
    if args.minutes < 3:
        parser.error("--minutes: at least 3 (the faults need the time)")
    args.window_s = args.window_s or max(30, int(args.minutes * 6))
    return args


def main() -> None:
    argv = sys.argv[1:]
    args = parse_args(argv)
    if args.node:
        run_node(args.node)
        return
    import uvloop

    report = uvloop.run(soak(args, argv))
    print(write(report, args.out))


if __name__ == "__main__":
    main()
