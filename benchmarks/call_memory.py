"""What a server process keeps per call: many calls through the real app, heap compared.

    .venv/bin/python benchmarks/call_memory.py [--calls 120] [--concurrency 8]
        [--warm-up 16] [--every 24] [--vad silero|energy] [--database postgres|sqlite]

The app (``create_app`` with the load harness's fixed-latency providers of
``load_server.py``, PostgreSQL and Redis as the soak runs it) serves in this process, on
uvicorn with its lifespan; ``--concurrency`` callers of the load harness
(``load_caller.one_call``: Twilio's signed voice webhook, then the Media Stream in real
time, the four-turn conversation with a barge-in) place the calls in rounds: a
``--warm-up`` round, then rounds of ``--every`` calls up to ``--calls``, each followed by
``--settle-s`` with no call up. After the warm-up ``tracemalloc`` starts and a baseline
is taken; after each round it prints

- the cyclic garbage the round left (objects in reference cycles, which reference
  counting never frees and which wait for the collector; kept by ``gc.DEBUG_SAVEALL``
  and counted by type, with the frames and exceptions among them);
- with that collected, what grew since the baseline: the allocation sites
  (``Snapshot.compare_to(..., "traceback")``, the callers' own allocations filtered
  out), the live objects by type (``gc.get_objects``), the open file descriptors, the
  asyncio tasks, and the resident memory before and after glibc's ``malloc_trim``.

A structure that keeps something per call shows as a site or a type growing in step
with the rounds; a bounded cache as one that stops growing; memory the C allocator
holds free as the difference ``malloc_trim`` makes.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import ctypes
import gc
import os
import secrets
import socket
import sys
import tempfile
import time
import tracemalloc
import types
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT / "src"), str(HERE), str(ROOT)]

import psutil  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from load import set_up  # noqa: E402
from load_caller import (  # noqa: E402
    Clip,
    load_clip,
    one_call,
    serve_in_process,
    twilio_api,
    webhook_receiver,
)
from load_databases import database  # noqa: E402
from load_server import SCRIPT, Latencies, bootstrap, provider_factory  # noqa: E402

from callwright.api.app import create_app  # noqa: E402
from callwright.settings import Settings  # noqa: E402

# Allocations made by the callers (this process plays Twilio too) are not the server's.
CALLER_FILES = ("*/benchmarks/load_caller.py", "*/benchmarks/call_memory.py")


@contextlib.asynccontextmanager
async def serve_app(app: FastAPI, sock: socket.socket) -> AsyncIterator[None]:
    """``app`` on ``sock`` with its lifespan, as ``callwright serve`` runs it."""
    config = uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    async with asyncio.TaskGroup() as group:
        task = group.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if task.done():
                raise RuntimeError("the app did not start")
            await asyncio.sleep(0.02)
        try:
            yield
        finally:
            server.should_exit = True


def live_types() -> collections.Counter[str]:
    counts: collections.Counter[str] = collections.Counter()
    for obj in gc.get_objects():
        kind = type(obj)
        counts[f"{kind.__module__}.{kind.__qualname__}"] += 1
    return counts


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


class Probe:
    """The baseline, and what grew since it."""

    def __init__(self, top: int) -> None:
        self.top = top
        tracemalloc.start(12)
        gc.collect()
        self.snapshot = self._snapshot()
        self.types = live_types()
        self.fds = open_fds()
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        self.rss = psutil.Process().memory_info().rss / 2**20
        # From here what the collector finds unreachable (objects in reference cycles,
        # which reference counting never frees) is kept in gc.garbage, to be counted.
        gc.set_debug(gc.DEBUG_SAVEALL)

    @staticmethod
    def _snapshot() -> tracemalloc.Snapshot:
        filters = [tracemalloc.Filter(False, name, all_frames=True) for name in CALLER_FILES]
        filters.append(tracemalloc.Filter(False, tracemalloc.__file__))
        return tracemalloc.take_snapshot().filter_traces(filters)

    def report(self, calls_since: int) -> None:
        gc.collect()
        cyclic: collections.Counter[str] = collections.Counter()
        cyclic_bytes: collections.Counter[str] = collections.Counter()
        for obj in gc.garbage:
            name = f"{type(obj).__module__}.{type(obj).__qualname__}"
            cyclic[name] += 1
            cyclic_bytes[name] += sys.getsizeof(obj)
        print(
            f"\n-- cyclic garbage since the last report (freed only by the collector): "
            f"{len(gc.garbage)} objects, {cyclic_bytes.total() / 2**20:.2f} MB (own sizes)"
        )
        for name, size in cyclic_bytes.most_common(self.top):
            print(f"  {size / 1024:9.1f} KiB {cyclic[name]:6d} {name}")
        ours = sorted(name for name in cyclic if name.startswith("callwright."))
        print("   of callwright's own types: " + ", ".join(f"{cyclic[n]} {n}" for n in ours))
        frames = collections.Counter(
            f"{obj.f_code.co_filename.rsplit('/', 2)[-1]}:{obj.f_code.co_qualname}"
            for obj in gc.garbage
            if type(obj) is types.FrameType
        )
        print("   frames: " + ", ".join(f"{n} {name}" for name, n in frames.most_common(30)))
        errors = collections.Counter(
            type(obj).__qualname__ for obj in gc.garbage if issubclass(type(obj), BaseException)
        )
        print("   exceptions: " + ", ".join(f"{n} {name}" for name, n in errors.most_common()))
        buffers: collections.Counter[str] = collections.Counter()
        for obj in gc.garbage:  # the buffers garbage refers to, by who refers to them
            for referent in gc.get_referents(obj):
                if isinstance(referent, (bytes, bytearray, memoryview)):
                    buffers[type(obj).__qualname__] += sys.getsizeof(referent)
        print(
            "   buffers it refers to: "
            + ", ".join(f"{n / 2**20:.2f} MB from {name}" for name, n in buffers.most_common(8))
        )
        held = tracemalloc.get_traced_memory()[0]
        gc.garbage.clear()
        gc.set_debug(0)
        gc.collect()  # now freed: what follows is what is still reachable
        gc.set_debug(gc.DEBUG_SAVEALL)
        freed = (held - tracemalloc.get_traced_memory()[0]) / 2**20
        print(f"   freed by collecting it (with what it alone referenced): {freed:.2f} MB")
        snapshot = self._snapshot()
        rss = psutil.Process().memory_info().rss / 2**20
        # What the C allocator holds free: glibc gives it back on malloc_trim.
        trim_started = time.perf_counter()
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        trim_ms = (time.perf_counter() - trim_started) * 1000
        trimmed = psutil.Process().memory_info().rss / 2**20
        traced = sum(s.size for s in snapshot.statistics("filename")) / 2**20
        print(
            f"\n== {calls_since} calls after the baseline: Python heap traced +{traced:.2f} MB,"
            f" RSS {rss:.1f} MB ({trimmed:.1f} after malloc_trim, {trim_ms:.1f} ms;"
            f" baseline {self.rss:.1f}),"
            f" fds {open_fds()} (baseline {self.fds}), tasks {len(asyncio.all_tasks())}",
            flush=True,
        )
        print("-- allocation sites that grew (size, count):")
        for stat in snapshot.compare_to(self.snapshot, "traceback")[: self.top]:
            if stat.size_diff <= 0:
                break
            print(f"+{stat.size_diff / 1024:.1f} KiB, +{stat.count_diff} blocks")
            for line in stat.traceback.format(limit=6, most_recent_first=True):
                print("    " + line)
        print("-- live objects by type that grew:")
        grown = live_types()
        grown.subtract(self.types)
        for name, diff in grown.most_common(self.top):
            if diff <= 0:
                break
            print(f"  +{diff:6d} {name}")


async def run(args: argparse.Namespace) -> None:
    numbers: set[str] = set()
    hooks: dict[str, int] = {}
    clips: dict[str, Clip] = {turn.clip: load_clip(turn.clip) for turn in SCRIPT}
    with tempfile.TemporaryDirectory() as tmp, socket.socket() as sock:
        data = Path(tmp)
        sock.bind(("127.0.0.1", 0))
        base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        async with (
            database(args.database) as database_url,
            serve_in_process(twilio_api(numbers)) as twilio_url,
            serve_in_process(webhook_receiver(hooks)) as receiver_url,
        ):
            url = (
                database_url.replace("postgresql://", "postgresql+asyncpg://", 1)
                if database_url
                else f"sqlite+aiosqlite:///{data / 'callwright.db'}"
            )
            settings = Settings(
                database_url=url,
                data_dir=data,
                public_url=base_url,  # the TwiML's stream URL
                secret_key=secrets.token_urlsafe(48),
                redis_url="redis://127.0.0.1:6379/0" if args.redis else None,
                redis_namespace=f"mem{uuid.uuid4().hex[:8]}",
                rate_limit_per_key_per_minute=10**8,
                rate_limit_per_ip_per_minute=10**8,
                twilio_api_base_url=twilio_url,
                max_concurrent_calls=4 * args.concurrency,
                outbound_allowed_hosts="127.0.0.1",
                outbound_allow_http=True,
                webhook_poll_interval_seconds=1,
            )
            api_key = await bootstrap(settings)
            factory = provider_factory(Latencies(), args.vad, 5.0)
            app = create_app(settings, provider_factory=factory)
            async with serve_app(app, sock):
                await set_up(
                    SimpleNamespace(base_url=base_url, api_key=api_key),  # type: ignore[arg-type]
                    numbers,
                    receiver_url + "/hook",
                )
                await place(args, base_url, clips, hooks)


async def place(
    args: argparse.Namespace, base_url: str, clips: dict[str, Clip], hooks: dict[str, int]
) -> None:
    """Rounds of calls with nothing up between them: the warm-up, then ``--every``
    calls a round; each checkpoint is taken with no call up and the records written,
    so what the server holds then is what the calls left behind."""
    failed: collections.Counter[str] = collections.Counter()
    started = time.monotonic()

    async def round_of(calls: int) -> None:
        left = calls

        async def caller(slot: int) -> None:
            nonlocal left
            await asyncio.sleep(slot * 25.0 / args.concurrency)  # spread over a call's length
            while left > 0:
                left -= 1
                result = await one_call(base_url, clips, 0.1 / 5.0, time.monotonic())
                if not result.ok:
                    failed[str(result.error)] += 1

        async with asyncio.TaskGroup() as group:
            for slot in range(min(args.concurrency, calls)):
                group.create_task(caller(slot))
        await asyncio.sleep(args.settle_s)  # the last records and webhooks written

    await round_of(args.warm_up)
    probe = Probe(args.top)
    print(f"baseline after {args.warm_up} calls, {time.monotonic() - started:.0f} s", flush=True)
    for done in range(args.every, args.calls + 1, args.every):
        await round_of(args.every)
        probe.report(done)
        print(f"caller failures so far: {dict(failed) or 0}; webhooks {hooks}", flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=120, help="calls after the warm-up")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--warm-up", type=int, default=16, help="calls before the baseline")
    parser.add_argument("--every", type=int, default=24, help="calls between reports")
    parser.add_argument("--top", type=int, default=15, help="sites and types per report")
    parser.add_argument("--settle-s", type=float, default=8, help="quiet time before a report")
    parser.add_argument("--vad", choices=("silero", "energy"), default="silero")
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--no-redis", dest="redis", action="store_false")
    return parser.parse_args(argv)


def main() -> None:
    import uvloop

    uvloop.run(run(parse_args()))


if __name__ == "__main__":
    main()
