"""A greeting with no wait (issue 17 item 5): from a Twilio stream's ``start`` to its
first ``media`` message, cold and from the greeting cache, on the real offline voice.

    .venv/bin/python benchmarks/greeting.py [--cached-calls 20] [--variable-calls 10] [--json]

A server process runs the real app (``create_app``) with no API keys, so every call
runs on the offline providers (Piper for the voice, whisper tiny.en, SmolLM2, Silero);
this process plays Twilio: its REST API (a fake, ``load_caller.twilio_api``) and, for
each call, the signed voice webhook and the Media Stream from the TwiML, on which it
sends ``connected`` and ``start`` and then a silent 20 ms μ-law frame every 20 ms, as
Twilio does. A call's figure is the time from sending ``start`` to the first ``media``
message back; the call hangs up (``stop``) once the greeting's mark arrives (the audio
is then all sent, and the cache filled). Calls go one after another, to one assistant:

1. a warm-up call (the models load; not counted);
2. a static ``welcome_message``: its first call is cold (the voice synthesises it),
   the next ``--cached-calls`` are sent from the cache;
3. the welcome message changed through the API (``PATCH``): cold again, then cached;
4. a welcome message with a call variable (``{{ customer.name | default: '' }}``,
   rendering to the very same text): never cached, synthesised on each call: the
   baseline, like for like.

A cached call's audio must be the cold call's, byte for byte: the script checks it.
``--json`` writes ``benchmarks/results/greeting.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import platform
import secrets
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
import websockets  # noqa: E402
from load import free_port  # noqa: E402
from load_caller import (  # noqa: E402
    ACCOUNT_SID,
    AUTH_TOKEN,
    OUR_NUMBER,
    Caller,
    CallResult,
    serve_in_process,
    spawn_server,
    twilio_api,
    voice_webhook,
)
from load_databases import database  # noqa: E402
from load_report import percentiles  # noqa: E402

RESULTS = HERE / "results"
STATIC = "Hello, thanks for calling Acme. How can I help?"
CHANGED = "Hi, you have reached Acme. What can I do for you today?"
# Renders to STATIC itself (no caller has a name here): the same words in the same
# voice, but a template, so never cached.
VARIABLE = "Hello{{ customer.name | default: '' }}, thanks for calling Acme. How can I help?"
CALL_LIMIT_S = 60.0
_WARM_UP_CALLS = 5


# -- the server process -----------------------------------------------------------------


async def serve(args: argparse.Namespace) -> None:
    """The real app on uvicorn, on the offline providers (no keys in its settings)."""
    import uvicorn
    from load_server import _settings, bootstrap

    from callwright.api.app import create_app

    server_args = argparse.Namespace(
        host="127.0.0.1",
        port=args.port,
        data_dir=args.data_dir,
        database_url=args.database_url,
        public_url=None,
        twilio_api_base_url=args.twilio_api_base_url,
        max_calls=10,
        realtime_url=None,
    )
    # The offline models load at start-up (``warm_up_models``), not in a caller's wait.
    settings = _settings(server_args, secrets.token_urlsafe(48)).model_copy(
        update={"warm_up_models": True}
    )
    api_key = await bootstrap(settings)
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        proxy_headers=True,
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)

    async def announce() -> None:
        while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, no event
            await asyncio.sleep(0.02)
        ready = {"base_url": f"http://127.0.0.1:{args.port}", "api_key": api_key}
        args.ready_file.write_text(json.dumps(ready))

    async with asyncio.TaskGroup() as group:
        announcer = group.create_task(announce())
        await server.serve()
        announcer.cancel()


@dataclass(frozen=True)
class Server:
    base_url: str
    api_key: str
    pid: int


@contextlib.asynccontextmanager
async def server_process(
    database_url: str | None, twilio_url: str, work: Path, profile: Path | None
) -> AsyncIterator[Server]:
    """This script's ``--serve`` as a child process, until it has stopped."""
    ready, log = work / "ready.json", work / "server.log"
    argv = [
        sys.executable,
        *(["-m", "cProfile", "-o", str(profile)] if profile else []),
        str(HERE / "greeting.py"),
        "--serve",
        f"--port={free_port()}",
        f"--data-dir={work / 'data'}",
        f"--ready-file={ready}",
        f"--twilio-api-base-url={twilio_url}",
    ]
    if database_url:
        argv.append(f"--database-url={database_url}")
    process = await spawn_server(argv, log)  # no key reaches it: offline providers
    try:
        deadline = time.monotonic() + 90
        while not ready.exists():
            if process.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start:\n{log.read_text()[-3000:]}")
            await asyncio.sleep(0.1)
        info = json.loads(ready.read_text())
        yield Server(info["base_url"], info["api_key"], process.pid)
    finally:
        if process.returncode is None:
            # SIGINT: uvicorn shuts down and the interpreter exits normally, so a
            # cProfile run writes its file.
            process.send_signal(2)
        try:
            await asyncio.wait_for(process.wait(), 20)
        except TimeoutError:
            process.kill()
            await process.wait()


# -- the calls ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Greeting:
    """One call as the caller heard it: ``start`` → first ``media``, and the greeting's
    audio (its length, and a digest to tell cached audio from a new synthesis)."""

    call_sid: str
    first_media_ms: float
    audio_s: float
    digest: str


async def greeting_call(base_url: str) -> Greeting:
    """One inbound call: the voice webhook, the stream, the greeting, then ``stop``."""
    call_sid = "CA" + uuid.uuid4().hex
    stream_url, parameters = await voice_webhook(base_url, call_sid)
    audio = hashlib.sha256()
    seconds = 0.0
    first: float | None = None
    async with websockets.connect(stream_url, compression=None, max_size=None) as ws:
        caller = Caller(ws, "MZ" + uuid.uuid4().hex, tts_interval_s=0.02)
        result = CallResult(call_sid)
        await caller.send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        start = json.dumps(
            {
                "event": "start",
                "sequenceNumber": "1",
                "start": {
                    "accountSid": ACCOUNT_SID,
                    "streamSid": caller.stream_sid,
                    "callSid": call_sid,
                    "tracks": ["inbound"],
                    "customParameters": parameters,
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                },
                "streamSid": caller.stream_sid,
            }
        )
        started = time.monotonic()
        await ws.send(start)
        async with asyncio.TaskGroup() as group:
            line = group.create_task(caller.line(result))
            try:
                async with asyncio.timeout(CALL_LIMIT_S):
                    async for raw in ws:
                        now = time.monotonic()
                        message = json.loads(raw)
                        kind = message.get("event")
                        if kind == "media":
                            first = first or now
                            chunk = message["media"]["payload"].encode()
                            audio.update(chunk)
                            seconds += (len(chunk) * 3 // 4 - chunk.count(b"=", -2)) / 8000
                        elif kind == "mark":
                            break  # the greeting is all sent (and kept, if it may be)
                await caller.send(
                    {
                        "event": "stop",
                        "sequenceNumber": caller._next(),
                        "streamSid": caller.stream_sid,
                        "stop": {"accountSid": ACCOUNT_SID, "callSid": call_sid},
                    }
                )
            finally:
                caller.hung_up = True
                line.cancel()
    if first is None:
        raise RuntimeError(f"call {call_sid}: the greeting's mark came with no audio before it")
    ms = round((first - started) * 1000, 1)
    return Greeting(call_sid, ms, round(seconds, 2), audio.hexdigest())


async def set_up(server: Server, numbers: set[str], voice: str) -> tuple[httpx.AsyncClient, int]:
    """The assistant (the offline voice asked for by name) and its number."""
    headers = {"Authorization": f"Bearer {server.api_key}"}
    api = httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=30)
    assistant = await api.post(
        "/api/v1/assistants",
        json={
            "name": "Greeting benchmark",
            "llm_settings": {"welcome_message": VARIABLE},
            "tts_settings": {"provider": voice},
            "twilio_config": {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN},
            "idle_timeout": None,
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
    return api, int(assistant.json()["id"])


async def welcome(api: httpx.AsyncClient, assistant_id: int, text: str) -> None:
    """Change the welcome message through the API, as a user would."""
    answer = await api.patch(
        f"/api/v1/assistants/{assistant_id}", json={"llm_settings": {"welcome_message": text}}
    )
    answer.raise_for_status()


async def voices(api: httpx.AsyncClient, sids: set[str]) -> dict[str, list[str]]:
    """Per call (its sid), the voices that spoke in it, from the call records (once
    written): the one chosen, then any that took over after a failure."""
    deadline = time.monotonic() + 30
    while True:
        records = (await api.get("/api/v1/calls", params={"limit": 1000})).json()
        found = {
            record["provider_call_id"]: [
                choice["chosen"] for choice in record["providers"] if choice["kind"] == "tts"
            ]
            for record in records
            if record["status"] == "ended"
        }
        if sids <= found.keys() or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


def summary(calls: list[Greeting]) -> dict[str, Any]:
    figures = [call.first_media_ms for call in calls]
    return percentiles(figures, (50, 95)) | {"max": max(figures)} if figures else {"n": 0}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    numbers: set[str] = set()
    phases: dict[str, list[Greeting]] = {}
    with tempfile.TemporaryDirectory(prefix="cw-greeting-") as tmp:
        async with (
            database(args.database) as database_url,
            serve_in_process(twilio_api(numbers)) as twilio_url,
            server_process(database_url, twilio_url, Path(tmp), args.server_profile) as server,
        ):
            api, assistant_id = await set_up(server, numbers, args.voice)
            async with contextlib.aclosing(api):

                async def calls(name: str, count: int) -> list[Greeting]:
                    made = phases.setdefault(name, [])
                    for _ in range(count):
                        await asyncio.sleep(args.pause_s)  # the last call's record written
                        made.append(await greeting_call(server.base_url))
                        print(f"  {name}: {made[-1].first_media_ms:8.1f} ms", flush=True)
                    return made

                # Until the voice asked for is the one that speaks: a model still
                # loading makes the call fall over to the next voice.
                for _ in range(_WARM_UP_CALLS):
                    warm = (await calls("warm-up", 1))[-1]
                    if (await voices(api, {warm.call_sid})).get(warm.call_sid) == [args.voice]:
                        break
                await welcome(api, assistant_id, STATIC)
                await calls("static, first call", 1)
                await calls("static, cached", args.cached_calls)
                await welcome(api, assistant_id, CHANGED)
                await calls("changed, first call", 1)
                await calls("changed, cached", args.changed_calls)
                await welcome(api, assistant_id, VARIABLE)
                await calls("with a variable", args.variable_calls)
                made = {call.call_sid for calls in phases.values() for call in calls}
                spoken = await voices(api, made)
    return {"voices": spoken, "phases": phases}


def check(phases: dict[str, list[Greeting]], voices: dict[str, list[str]], voice: str) -> list[str]:
    """What would make the figures dishonest: a call another voice spoke in, cached
    audio that is not the cold call's, or a changed message not synthesised anew."""
    problems = [
        f"{name}: call {call.call_sid} spoken by {voices.get(call.call_sid)}, not {voice}"
        for name, calls in phases.items()
        if name != "warm-up"
        for call in calls
        if voices.get(call.call_sid) != [voice]
    ]
    for first, cached in (
        ("static, first call", "static, cached"),
        ("changed, first call", "changed, cached"),
    ):
        digest = phases[first][0].digest
        if any(call.digest != digest for call in phases[cached]):
            problems.append(f"{cached}: audio other than the first call's")
    if phases["changed, first call"][0].digest == phases["static, first call"][0].digest:
        problems.append("the changed welcome message was sent as the old one's audio")
    return problems


def report(
    args: argparse.Namespace, result: dict[str, Any], load_before: list[float]
) -> dict[str, Any]:
    phases: dict[str, list[Greeting]] = result["phases"]
    return {
        "measured_at": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()}, {psutil.cpu_count()} cores, Python "
        f"{platform.python_version()}",
        "load_average_before": load_before,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "command": "python benchmarks/greeting.py " + " ".join(args.argv),
        "voice": args.voice,
        "database": args.database,
        "texts": {"static": STATIC, "changed": CHANGED, "variable": VARIABLE},
        "start_to_first_media_ms": {
            name: summary(calls) for name, calls in phases.items() if name != "warm-up"
        },
        "greeting_audio_s": {name: calls[0].audio_s for name, calls in phases.items() if calls},
        "calls_ms": {name: [c.first_media_ms for c in calls] for name, calls in phases.items()},
        "problems": check(phases, result["voices"], args.voice),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cached-calls", type=int, default=20)
    parser.add_argument("--changed-calls", type=int, default=3, help="cached, after the change")
    parser.add_argument("--variable-calls", type=int, default=10)
    parser.add_argument("--voice", choices=("piper", "espeak"), default="piper")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--pause-s", type=float, default=0.5, help="between calls (the last record written)"
    )
    parser.add_argument("--json", action="store_true", help="write results/greeting.json")
    parser.add_argument("--out", type=Path, default=RESULTS / "greeting.json")
    parser.add_argument("--server-profile", type=Path, help="cProfile the server into this file")
    # The server process (this script, started by itself).
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--ready-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--twilio-api-base-url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ("cached_calls", "changed_calls", "variable_calls"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')}: at least 1")
    args.argv = argv
    return args


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    args = parse_args(argv)
    if args.serve:
        try:  # what `callwright serve` runs on when it is installed
            import uvloop
        except ImportError:
            asyncio.run(serve(args))
        else:
            uvloop.run(serve(args))
        return None
    load_before = [round(x, 2) for x in os.getloadavg()]
    result = report(args, asyncio.run(run(args)), load_before)
    print(f"voice {args.voice}, load average {load_before} → {result['load_average_after']}")
    for name, figures in result["start_to_first_media_ms"].items():
        shown = ", ".join(f"{k} {v}" for k, v in figures.items())
        print(f"{name:>22}: start → first media {shown} (ms)")
    for problem in result["problems"]:
        print(f"PROBLEM: {problem}")
    if args.json:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"written {args.out}")
    return result


if __name__ == "__main__":
    main()
