"""A webhook receiver on a loopback port: a real HTTP server (uvicorn) whose answers a
test scripts, recording every request and checking its signature."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

import uvicorn

from callwright.security.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from tests.server import free_port

Mode = Literal["ok", "unavailable", "error", "hold"]
_START_TIMEOUT_S = 10


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it, and what it answered."""

    event_id: str
    event_type: str
    attempt: int
    status: int
    body: bytes
    headers: dict[str, str]
    signed_by: str | None  # which of the candidate secrets verifies it

    @property
    def payload(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


class Receiver:
    """``mode``: ``ok`` answers 200, ``unavailable`` 503, ``error`` 500, ``hold`` waits
    for ``release()`` and then answers 503. ``delay_s`` slows every answer."""

    def __init__(self, secrets: Callable[[], dict[str, str]] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self.mode: Mode = "ok"
        self.delay_s = 0.0
        self.requests: list[Received] = []
        self.holding = asyncio.Event()
        self._gate = asyncio.Event()
        # name -> secret: each request records which one verifies its signature.
        self._secrets = secrets or dict

    def release(self) -> None:
        self._gate.set()

    def accepted(self) -> Counter[str]:
        """How many times each event id was answered with 2xx."""
        return Counter(r.event_id for r in self.requests if 200 <= r.status < 300)

    def _signed_by(self, headers: dict[str, str], body: bytes) -> str | None:
        for name, secret in self._secrets().items():
            timestamp = headers.get(TIMESTAMP_HEADER.lower(), "")
            signature = headers.get(SIGNATURE_HEADER.lower(), "")
            if verify_signature(secret, timestamp, body, signature):
                return name
        return None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {name.decode().lower(): value.decode() for name, value in scope["headers"]}
        mode = self.mode
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if mode == "hold":
            self.holding.set()
            await self._gate.wait()
        status = {"ok": 200, "unavailable": 503, "error": 500, "hold": 503}[mode]
        self.requests.append(
            Received(
                event_id=headers.get("x-callwright-event-id", ""),
                event_type=headers.get("x-callwright-event-type", ""),
                attempt=int(headers.get("x-callwright-attempt", "0")),
                status=status,
                body=body,
                headers=headers,
                signed_by=self._signed_by(headers, body),
            )
        )
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send(
            {
                "type": "http.response.body",
                "body": b"down for maintenance" if status >= 500 else b"ok",
            }
        )

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[Receiver]:
        """Listen on the port for the duration of the block (closed before and after)."""
        config = uvicorn.Config(
            self,
            host="127.0.0.1",
            port=self.port,
            lifespan="off",
            ws="none",
            http="h11",
            log_level="warning",
            access_log=False,
        )
        server = uvicorn.Server(config)
        async with asyncio.TaskGroup() as group:
            group.create_task(server.serve())
            try:
                async with asyncio.timeout(_START_TIMEOUT_S):
                    while True:  # uvicorn has a flag, not an event
                        if server.started:
                            break
                        await asyncio.sleep(0.01)
                yield self
            finally:
                self.release()  # a held request must not keep the server from stopping
                server.should_exit = True
