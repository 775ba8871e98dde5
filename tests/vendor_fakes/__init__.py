"""Local stand-ins for the cloud vendors' streaming HTTP APIs, for contract tests.

Each fake is a small ASGI app speaking one vendor's documented wire format (request
shape, auth header, SSE framing, error bodies) and nothing more. They share what this
module holds: the script of replies, the fault switches, the record of every request
received, and ``serve`` to run an app on a real loopback port (the SDKs' own HTTP
stacks, and servers nobody here wrote, need a real socket; an in-process transport
would also hide how streaming responses behave on the wire).

A fake's switches (``fault``, ``retry_after_s``, ``slow_s``, ``chunk_delay_s``) apply
to every request until changed; replies are consumed one per successful request.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import enum
import json
import socket
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import uvicorn

__all__ = [
    "Fault",
    "Received",
    "Reply",
    "ScriptedCall",
    "VendorFake",
    "serve",
    "sse",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True)
class ScriptedCall:
    """A tool call the fake model makes; ``id`` is the vendor's (generated if None)."""

    name: str
    arguments: Mapping[str, Any]
    id: str | None = None


@dataclass(frozen=True)
class Reply:
    """One scripted answer: text streamed in these pieces, then tool calls, then usage."""

    text: tuple[str, ...] = ()
    calls: tuple[ScriptedCall, ...] = ()
    prompt_tokens: int = 21
    completion_tokens: int = 8


class Fault(enum.Enum):
    """What goes wrong on every request while set."""

    UNAUTHORIZED = "unauthorized"  # the vendor's own answer to a bad key
    RATE_LIMITED = "rate_limited"  # 429 telling the client when to come back
    SERVER_ERROR = "server_error"  # 500
    DISCONNECT = "disconnect"  # 200, the first event of the reply, then the socket drops
    SLOW_FIRST_BYTE = "slow_first_byte"  # nothing at all (not even headers) for slow_s
    # 200 with the whole answer as one JSON object: a server that ignored "stream"
    NOT_A_STREAM = "not_a_stream"


@dataclass
class Received:
    """One request as it reached the fake."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased
    body: Any  # parsed JSON (None when the body was not JSON)


class _Dropped(Exception):
    """The client went away while the fake was answering."""


@dataclass
class VendorFake(abc.ABC):
    """What every vendor fake shares. Subclasses say how their vendor authenticates,
    validates, fails and streams; this class decides which of those happens."""

    api_key: str
    replies: deque[Reply] = field(default_factory=deque)
    fault: Fault | None = None
    retry_after_s: int = 7
    slow_s: float = 30.0
    chunk_delay_s: float = 0.0
    received: list[Received] = field(default_factory=list)
    aborted: int = 0  # responses the client walked away from before their end
    completed: int = 0
    client_left: asyncio.Event = field(default_factory=asyncio.Event)

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    @property
    def last(self) -> Received:
        return self.received[-1]

    # -- what each vendor defines --------------------------------------------------

    @abc.abstractmethod
    def route(self, method: str, path: str) -> bool:
        """Whether this is the vendor's streaming endpoint."""
        ...

    @abc.abstractmethod
    def authorized(self, request: Received) -> bool:
        """Whether the request carries ``api_key`` where the vendor expects it."""
        ...

    @abc.abstractmethod
    def invalid(self, request: Received) -> str | None:
        """Why the vendor would refuse this request (400), or None."""
        ...

    @abc.abstractmethod
    def error(self, kind: str, message: str) -> tuple[int, dict[str, str], Any]:
        """The vendor's error response: kind is auth, rate, server, invalid or missing."""
        ...

    @abc.abstractmethod
    def frames(self, reply: Reply, request: Received) -> list[bytes]:
        """The reply as the vendor's SSE frames, in order."""
        ...

    def whole(self, reply: Reply, request: Received) -> Any:
        """The reply as one JSON body (``Fault.NOT_A_STREAM``): the vendor's
        non-streaming answer where a fake knows it."""
        return {"text": "".join(reply.text)}

    # -- the ASGI app -----------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = await _read_request(scope, receive)
        self.received.append(request)
        if not self.route(request.method, request.path):
            await _send_json(send, *self.error("missing", f"no route {request.path}"))
            return
        try:
            await self._answer(request, receive, send)
        except _Dropped:
            self.aborted += 1
            self.client_left.set()

    async def _answer(self, request: Received, receive: Receive, send: Send) -> None:
        if self.fault is Fault.SLOW_FIRST_BYTE:
            await _wait_or_drop(self.slow_s, receive)
        if self.fault is Fault.UNAUTHORIZED or not self.authorized(request):
            await _send_json(send, *self.error("auth", "invalid API key"))
            return
        if self.fault is Fault.RATE_LIMITED:
            await _send_json(send, *self.error("rate", "rate limit exceeded"))
            return
        if self.fault is Fault.SERVER_ERROR:
            await _send_json(send, *self.error("server", "internal error"))
            return
        if (problem := self.invalid(request)) is not None:
            await _send_json(send, *self.error("invalid", problem))
            return
        reply = self.replies.popleft() if self.replies else Reply(("OK.",))
        if self.fault is Fault.NOT_A_STREAM:
            await _send_json(send, 200, {}, self.whole(reply, request))
            self.completed += 1
            return
        frames = self.frames(reply, request)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream; charset=utf-8"),
                    (b"cache-control", b"no-cache"),
                ],
            }
        )
        for index, frame in enumerate(frames):
            if index and self.chunk_delay_s:
                await _wait_or_drop(self.chunk_delay_s, receive)
            await send({"type": "http.response.body", "body": frame, "more_body": True})
            if self.fault is Fault.DISCONNECT:
                # Returning with the response unfinished makes the server close the
                # socket mid-body: the client sees a truncated chunked stream.
                return
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        self.completed += 1


def sse(data: Any, event: str | None = None, *, crlf: bool = False) -> bytes:
    """One server-sent event (``data`` JSON-encoded unless already a string)."""
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    newline = "\r\n" if crlf else "\n"
    head = f"event: {event}{newline}" if event else ""
    return f"{head}data: {text}{newline}{newline}".encode()


async def _read_request(scope: Scope, receive: Receive) -> Received:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    raw = b"".join(chunks)
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    headers = {name.decode().lower(): value.decode() for name, value in scope["headers"]}
    query = dict(parse_qsl(scope.get("query_string", b"").decode()))
    return Received(scope["method"], scope["path"], query, headers, body)


async def _send_json(send: Send, status: int, headers: Mapping[str, str], body: Any) -> None:
    payload = json.dumps(body).encode()
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", b"%d" % len(payload)),
    ]
    raw_headers += [(name.encode(), value.encode()) for name, value in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload, "more_body": False})


async def _wait_or_drop(seconds: float, receive: Receive) -> None:
    """Wait ``seconds`` unless the client disconnects first (then raise ``_Dropped``)."""

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    async with asyncio.TaskGroup() as group:
        timer = group.create_task(asyncio.sleep(seconds))
        watcher = group.create_task(disconnected())
        done, _ = await asyncio.wait({timer, watcher}, return_when=asyncio.FIRST_COMPLETED)
        (timer if watcher in done else watcher).cancel()
    if watcher in done:
        raise _Dropped


class _Server(uvicorn.Server):
    """uvicorn that leaves the test runner's signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        yield


@contextlib.asynccontextmanager
async def serve(
    app: Any, *, listener: socket.socket | None = None, lifespan: str = "off"
) -> AsyncIterator[str]:
    """Serve ``app`` (HTTP and WebSocket) on 127.0.0.1 for the duration of the block;
    yields its base URL (``http://127.0.0.1:<port>``). ``listener``: a socket already
    bound (when the URL must be known before the app is built), else a free port.
    ``lifespan="on"`` runs the app's start-up and shutdown. Shuts down cleanly."""
    if listener is None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(
        app,
        lifespan=lifespan,  # type: ignore[arg-type]
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=2,
        ws="websockets-sansio",  # WebSocket fakes too, with denial responses
    )
    server = _Server(config)
    try:
        async with asyncio.TaskGroup() as group:
            task = group.create_task(server.serve(sockets=[listener]))
            while not server.started:
                if task.done():
                    raise RuntimeError("the fake vendor server did not start")
                await asyncio.sleep(0.01)
            try:
                yield f"http://127.0.0.1:{port}"
            finally:
                server.should_exit = True
    finally:
        listener.close()
