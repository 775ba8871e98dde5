"""A TCP proxy that can fail on command: put it in front of PostgreSQL (5432) or Redis
(6379) and point one server at it, then ``cut`` to drop every open connection and
refuse new ones (the listening socket is closed: a connect is refused, as when the
service is restarting), and ``restore`` to listen again on the same port. The real
services are shared by everyone on this machine and are never touched.

It runs its own event loop in a thread, so a test can drive it from anywhere (sync or
async code, while subprocesses talk through it)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Coroutine, Iterator
from typing import Any

__all__ = ["FaultProxy", "fault_proxy"]

_CHUNK = 65536


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class FaultProxy:
    """Forwards ``127.0.0.1:port`` to ``target_host:target_port`` until ``cut``."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = _free_port()
        self.connections_made = 0
        self.connections_cut = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    # -- driven from the test's thread --------------------------------------------------

    def start(self) -> None:
        self._thread.start()
        self._call(self._listen())

    def cut(self) -> None:
        """Drop every connection and refuse new ones until ``restore``."""
        self._call(self._cut())

    def restore(self) -> None:
        """Accept connections again (on the same port)."""
        self._call(self._listen())

    def close(self) -> None:
        self._call(self._cut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def _call(self, work: Coroutine[Any, Any, None]) -> None:
        future = asyncio.run_coroutine_threadsafe(work, self._loop)
        future.result(timeout=30)

    # -- on the proxy's loop ------------------------------------------------------------

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._accepted, "127.0.0.1", self.port, reuse_address=True
            )

    async def _cut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            self.connections_cut += 1
            writer.transport.abort()  # a reset, as a dying server's socket gives
        self._writers.clear()
        if server is not None:
            await server.wait_closed()

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                self.target_host, self.target_port
            )
        except OSError:
            writer.transport.abort()
            return
        self.connections_made += 1
        self._writers.update((writer, upstream_writer))
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._pipe(reader, upstream_writer))
                group.create_task(self._pipe(upstream_reader, writer))
        finally:
            for side in (writer, upstream_writer):
                self._writers.discard(side)
                side.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while chunk := await reader.read(_CHUNK):
                writer.write(chunk)
                await writer.drain()
        # One side finished: so does the other (both are aborted by the caller).
        writer.transport.abort()


@contextlib.contextmanager
def fault_proxy(target_host: str, target_port: int) -> Iterator[FaultProxy]:
    """A started proxy, closed at the end of the block."""
    proxy = FaultProxy(target_host, target_port)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.close()
