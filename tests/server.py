"""Run ``callwright serve`` as a real process on a free port, for tests that need the
live app (the OpenAPI fuzzer, the CLI)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

CALLWRIGHT = str(Path(sys.executable).with_name("callwright"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# Vendor credentials and endpoints a developer's shell may hold: a test server must
# never reach a real vendor with them.
_VENDOR_ENV = re.compile(
    r"^(OPENAI|ANTHROPIC|GEMINI|GOOGLE|GROQ|XAI|DEEPGRAM|ASSEMBLYAI|ELEVENLABS|CARTESIA"
    r"|AZURE_SPEECH|TWILIO)_"
)


def environment(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("CALLWRIGHT_") and not _VENDOR_ENV.match(key)
    }
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env.update(
        CALLWRIGHT_DATABASE_URL=database_url,
        CALLWRIGHT_DATA_DIR=str(data_dir),
        **extra,
    )
    return env


@dataclass
class LiveServer:
    url: str
    bootstrap_api_key: str | None
    output: list[str]


@contextmanager
def live_server(env: dict[str, str], log_path: Path, timeout_s: float = 30) -> Iterator[LiveServer]:
    """The server's output goes to a file: a pipe nobody drains would fill up and
    block the server on its next log line."""
    port = free_port()
    log = log_path.open("w")
    process = subprocess.Popen(
        # One process: these tests need the app, not the supervisor (tests/test_workers.py).
        [CALLWRIGHT, "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    output: list[str] = []
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited {process.returncode}:\n{log_path.read_text()}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not become healthy in time")
            time.sleep(0.1)
        key = None
        # The first-run banner is printed before uvicorn starts listening.
        banner = log_path.read_text()
        output.append(banner)
        match = re.search(r"API key (cw_[A-Za-z0-9_-]+)", banner)
        if match:
            key = match.group(1)
        yield LiveServer(url, key, output)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
