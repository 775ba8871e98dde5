"""The OpenAPI document is complete and truthful: schemathesis, run against the live
server, finds no 5xx and no response that the document does not describe."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.calls.harness import FakeTwilioApi
from tests.server import environment, live_server

ST = str(Path(sys.executable).with_name("st"))
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
    ]
)


@contextlib.contextmanager
def twilio_knowing_no_account() -> Iterator[str]:
    """The local fake of Twilio's REST API, on a thread of its own: it refuses every
    AccountSid and AuthToken the fuzzer makes up, as Twilio would. Yields its URL."""
    started: queue.Queue[tuple[str, asyncio.AbstractEventLoop, asyncio.Event]] = queue.Queue()

    async def serve() -> None:
        stop = asyncio.Event()
        async with FakeTwilioApi(tokens={}).serving() as url:
            started.put((url, asyncio.get_running_loop(), stop))
            await stop.wait()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    url, loop, stop = started.get(timeout=30)
    try:
        yield url
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)


def test_schemathesis_finds_no_5xx_and_no_schema_violation(
    database_url: str, tmp_path: Path
) -> None:
    with twilio_knowing_no_account() as twilio_url:
        _fuzz(database_url, tmp_path, twilio_url)


def _fuzz(database_url: str, tmp_path: Path, twilio_url: str) -> None:
    env = environment(
        database_url,
        tmp_path / "data",
        CALLWRIGHT_RATE_LIMIT_PER_KEY_PER_MINUTE="1000000",
        CALLWRIGHT_RATE_LIMIT_PER_IP_PER_MINUTE="1000000",
        # Stored Twilio credentials are proven with Twilio: never the real one here.
        CALLWRIGHT_TWILIO_API_BASE_URL=twilio_url,
    )
    with live_server(env, tmp_path / "server.log") as server:
        assert server.bootstrap_api_key, server.output
        auth = f"Authorization: Bearer {server.bootstrap_api_key}"
        # Something to find, so that the by-id operations also answer 200.
        httpx.post(
            f"{server.url}/api/v1/assistants",
            json={"name": "seed", "external_id": "x1"},
            headers={"Authorization": f"Bearer {server.bootstrap_api_key}"},
        )
        httpx.post(
            f"{server.url}/api/v1/tools",
            json={"function": {"name": "seed"}, "server": {"url": "https://example.com/t"}},
            headers={"Authorization": f"Bearer {server.bootstrap_api_key}"},
        )
        result = subprocess.run(
            [
                ST,
                "run",
                f"{server.url}/openapi.json",
                "--header",
                auth,
                "--checks",
                CHECKS,
                "--phases",
                "examples,coverage,fuzzing",
                "--max-examples",
                "40",
                "--seed",
                "20261122",
                # One worker: CPython 3.11 can fail with "AST constructor recursion depth
                # mismatch" when schemathesis compiles in several threads at once.
                "--workers",
                "1",
                # Revoking its own key would leave the rest of the run at 401 (the
                # revocation itself is tested in test_auth).
                "--exclude-operation-id",
                "revoke_api_key",
                "--no-color",
                "--generation-database",
                "none",
                "--report-dir",
                str(tmp_path / "report"),
            ],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,  # schemathesis writes a cache folder into its working directory
            check=False,
        )
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
