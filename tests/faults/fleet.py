"""Server processes for the fault tests, on one PostgreSQL and one Redis.

``Node`` is one server process (``tests.faults.node``: the app as ``callwright serve``
runs it, on scripted providers) that can be started, stopped (SIGTERM), killed
(SIGKILL) and started again (a new node id each time). ``Tenant`` API helpers and a
browser-call ``Page`` speak to them over real sockets. Every wait is on an event the
test can see (a record, a message, a request received), bounded by a generous safety
timeout that only a hang reaches."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import websockets

from callwright.domain.accounts.service import AccountsService
from callwright.store.database import create_engine, create_session_factory
from tests.conftest import Tenant
from tests.server import environment, free_port

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[2]
SAFETY_S = 60.0  # a hang detector: every wait normally ends within seconds
API_TIMEOUT = httpx.Timeout(30)
FRAME = 640  # 20 ms of 16 kHz PCM16


async def eventually(probe: Callable[[], Awaitable[T | None]], what: str) -> T:
    """Poll ``probe`` until it returns something, failing only past the safety bound."""
    deadline = time.monotonic() + SAFETY_S
    while True:
        found = await probe()
        if found is not None:
            return found
        assert time.monotonic() < deadline, f"still waiting for {what}"
        await asyncio.sleep(0.05)


@dataclass
class Node:
    """One server process; ``env`` is its environment (database, Redis, folders)."""

    name: str
    env: dict[str, str]
    log_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}-{self.starts}.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _launch(self) -> None:
        self.starts += 1
        env = {**self.env, "CALLWRIGHT_PUBLIC_URL": self.url}
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.faults.node", str(self.port)],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def start(self) -> None:
        """Start the process (a new node id) and wait until it serves."""
        self._launch()

        async def healthy() -> bool | None:
            assert self.process is not None
            assert self.process.poll() is None, f"{self.name} exited:\n{self.log()}"
            try:
                async with httpx.AsyncClient(timeout=2) as http:
                    if (await http.get(f"{self.url}/healthz")).status_code == 200:
                        return True
            except httpx.TransportError:
                return None
            return None

        await eventually(healthy, f"{self.name} to serve")

    def kill(self) -> None:
        """SIGKILL: nothing of the process's own shutdown runs."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    async def stop(self) -> None:
        """SIGTERM, and wait for the process to exit (its calls ended, its node
        stopped)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            await asyncio.to_thread(self.process.wait, SAFETY_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def fleet_environment(
    database_url: str, data_dir: Path, redis_url: str, namespace: str, **extra: str
) -> dict[str, str]:
    """What every node of one test shares: the database, Redis (one namespace), the
    data folder (recordings and their spools), short heartbeats and webhook retries."""
    script = {
        "utterances": ["Do you deliver?", "On Sundays too?", "Thanks."],
        "replies": ["Yes, every day.", "Sundays too.", "Goodbye."],
    }
    return environment(
        database_url,
        data_dir,
        CALLWRIGHT_REDIS_URL=redis_url,
        CALLWRIGHT_REDIS_NAMESPACE=namespace,
        CALLWRIGHT_SECRET_KEY="test-secret-key-" + "x" * 40,
        CALLWRIGHT_OUTBOUND_ALLOWED_HOSTS="127.0.0.1",
        CALLWRIGHT_NODE_HEARTBEAT_INTERVAL_S="0.5",
        # Generous: on a loaded machine a live node's beat may come late, and a test
        # that took it for dead would prove nothing.
        CALLWRIGHT_NODE_EXPIRY_S="6",
        CALLWRIGHT_WEBHOOK_RETRY_BASE_DELAY_SECONDS="0.3",
        CALLWRIGHT_WEBHOOK_RETRY_MAX_DELAY_SECONDS="1",
        CALLWRIGHT_WEBHOOK_POLL_INTERVAL_SECONDS="0.5",
        CALLWRIGHT_RATE_LIMIT_PER_KEY_PER_MINUTE="10000",
        CALLWRIGHT_RATE_LIMIT_PER_IP_PER_MINUTE="10000",
        CALLWRIGHT_FAULTS_SCRIPT=json.dumps(script),
        **extra,
    )


async def make_tenant(database_url: str) -> Tenant:
    """An organization, a user and an organization key, straight through the service."""
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            accounts = AccountsService(session)
            organization_id = (await accounts.create_organization("Faults")).id
            user = await accounts.create_user(
                organization_id, "ops@faults.test", "correct horse battery"
            )
            _, key = await accounts.issue_api_key(organization_id, user.id, "test", "organization")
            await session.commit()
    finally:
        await engine.dispose()
    return Tenant(organization_id, user.id, "ops@faults.test", "correct horse battery", key)


@asynccontextmanager
async def api(node: Node, tenant: Tenant) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        timeout=API_TIMEOUT, base_url=node.url, headers=tenant.headers
    ) as client:
        yield client


async def make_assistant(node: Node, tenant: Tenant, **settings: Any) -> int:
    async with api(node, tenant) as client:
        response = await client.post(
            "/api/v1/assistants",
            json={
                "name": "Faults",
                "llm_settings": {"welcome_message": "Hello there."},
                "idle_timeout": None,
                **settings,
            },
        )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def start_web_call(node: Node, tenant: Tenant, assistant_id: int) -> dict[str, Any]:
    async with api(node, tenant) as client:
        response = await client.post("/api/v1/calls/web", json={"assistant_id": assistant_id})
    assert response.status_code in (200, 201), response.text
    started: dict[str, Any] = response.json()
    return started


async def record_of(node: Node, tenant: Tenant, call_id: int) -> dict[str, Any]:
    async with api(node, tenant) as client:
        response = await client.get(f"/api/v1/calls/{call_id}")
    assert response.status_code == 200, response.text
    record: dict[str, Any] = response.json()
    return record


async def ended_record(node: Node, tenant: Tenant, call_id: int) -> dict[str, Any]:
    async def ended() -> dict[str, Any] | None:
        record = await record_of(node, tenant, call_id)
        return record if record["status"] == "ended" else None

    return await eventually(ended, f"call {call_id} to end")


@dataclass
class Page:
    """A browser's side of a web call: 20 ms frames in real time, marks echoed."""

    websocket: Any
    messages: list[dict[str, Any]] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    async def listen(self) -> None:
        try:
            async for raw in self.websocket:
                if isinstance(raw, bytes):
                    continue
                message = json.loads(raw)
                self.messages.append(message)
                if message["type"] == "mark":
                    await self.websocket.send(json.dumps({"type": "mark", "name": message["name"]}))
        except websockets.ConnectionClosed:
            return
        finally:
            self.closed.set()

    def said(self, role: str) -> list[str]:
        return [
            m["text"]
            for m in self.messages
            if m["type"] == "transcript" and m["role"] == role and m["final"]
        ]

    async def send_audio(self, pcm16: bytes) -> None:
        start = time.monotonic()
        for index, offset in enumerate(range(0, len(pcm16), FRAME)):
            if self.closed.is_set():
                return
            try:
                await self.websocket.send(pcm16[offset : offset + FRAME])
            except websockets.ConnectionClosed:
                return
            delay = start + (index + 1) * 0.02 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    async def until(self, done: Callable[[], bool], what: str) -> None:
        """Send silence until ``done`` (the call's clock is the caller's audio)."""
        deadline = time.monotonic() + SAFETY_S
        while not done():
            assert time.monotonic() < deadline, f"still waiting for {what}: {self.messages}"
            assert not self.closed.is_set(), (
                f"the call closed ({self.websocket.close_code} {self.websocket.close_reason})"
                f" waiting for {what}: {self.messages}"
            )
            await self.send_audio(bytes(3200))

    async def until_found(self, probe: Callable[[], Awaitable[T | None]], what: str) -> T:
        """``eventually`` with the line kept open: silence between probes (a call's
        clock is its caller's audio, and a line that goes dead is ended)."""
        deadline = time.monotonic() + SAFETY_S
        while True:
            found = await probe()
            if found is not None:
                return found
            assert time.monotonic() < deadline, f"still waiting for {what}"
            await self.send_audio(bytes(3200))


@asynccontextmanager
async def open_page(ws_url: str) -> AsyncIterator[Page]:
    async with websockets.connect(ws_url) as websocket:
        page = Page(websocket)
        async with asyncio.TaskGroup() as group:
            listening = group.create_task(page.listen())
            try:
                yield page
            finally:
                await websocket.close()
                await asyncio.wait({listening}, timeout=5)
