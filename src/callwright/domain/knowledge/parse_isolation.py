"""Parsing a document in a worker process of its own, with memory and time limits, so
that no document can take the serving process's memory, CPU or event loop.

One fresh interpreter per document (``python -m callwright.domain.knowledge.parse_worker``):
it inherits no socket (``close_fds``), no database engine and no secret (its
environment is a short allow-list), limits its own address space and CPU time before it
reads anything, and exits when the document is done, handing all its memory back.
The document goes in through stdin, the text comes back as one JSON object on stdout.
The parent waits without blocking the event loop, kills the worker past a wall-clock
deadline (twice the CPU limit: the CPU limit is the measure, the deadline the backstop
for a worker that stalls without using CPU), and turns every way a worker can end
into a ``DocumentRejected`` naming the document and the limit, the document's
``failed`` reason. Only a worker that cannot be started at all is the server's
problem (``ParserUnavailable``: the document is retried later).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import callwright
from callwright.domain.knowledge.documents import (
    DocumentFormat,
    DocumentRejected,
    ParsedDocument,
    ParseLimits,
    Section,
    UnsupportedDocumentType,
    document_label,
)
from callwright.domain.knowledge.parse_worker import EXIT_OUT_OF_MEMORY
from callwright.errors import CallwrightError
from callwright.settings import Settings

__all__ = ["ParserUnavailable", "WorkerParser", "WorkerReport"]

logger = logging.getLogger(__name__)

_WORKER_MODULE: Final = "callwright.domain.knowledge.parse_worker"
# What the worker may see of the server's environment: enough to start Python, no
# credentials (DATABASE_URL, CALLWRIGHT_SECRET_KEY, vendor keys stay behind).
_INHERITED_ENVIRONMENT: Final = (
    "PATH",
    "LD_LIBRARY_PATH",
    "PYTHONHOME",
    "LANG",
    "LC_ALL",
    "TMPDIR",
)
_SEND_BYTES: Final = 256 * 1024
_READ_BYTES: Final = 64 * 1024
_REPLY_OVERHEAD_BYTES: Final = 1024 * 1024


class ParserUnavailable(CallwrightError):
    """The parser's worker process could not be started (the server's problem, not the
    document's: processing is retried)."""

    status_code = 503
    code = "parser_unavailable"


def _worker_command() -> tuple[str, ...]:
    # -P: not the server's working directory on the path; -s: no user site-packages.
    return (sys.executable, "-P", "-s", "-m", _WORKER_MODULE)


def _worker_environment() -> dict[str, str]:
    environment = {name: os.environ[name] for name in _INHERITED_ENVIRONMENT if name in os.environ}
    # The worker imports the very callwright this process runs (a checkout, an
    # editable install or site-packages alike), then whatever the path held.
    package_root = str(Path(callwright.__file__).resolve().parent.parent)
    environment["PYTHONPATH"] = os.pathsep.join(
        path for path in (package_root, os.environ.get("PYTHONPATH")) if path
    )
    return environment


@dataclass(frozen=True, slots=True)
class WorkerReport:
    """How one worker run ended: the document or why it was refused, and what the
    worker used (absent when it was killed)."""

    document: ParsedDocument | None
    rejection: CallwrightError | None
    peak_rss_bytes: int | None = None
    cpu_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class WorkerParser:
    """Parses documents in worker processes limited to ``memory_limit_mb`` of address
    space and ``time_limit_s`` of CPU (killed after twice that in wall-clock time)."""

    memory_limit_mb: int = 1024
    time_limit_s: int = 120
    limits: ParseLimits = field(default_factory=ParseLimits)
    command: tuple[str, ...] = field(default_factory=_worker_command)

    @classmethod
    def from_settings(cls, settings: Settings | None) -> WorkerParser:
        settings = settings or Settings()
        return cls(
            memory_limit_mb=settings.knowledge_parser_memory_mb,
            time_limit_s=settings.knowledge_parser_time_limit_s,
            limits=ParseLimits(max_unpacked_bytes=settings.knowledge_max_unpacked_bytes),
        )

    @property
    def deadline_s(self) -> float:
        return 2.0 * self.time_limit_s

    async def parse(
        self, data: bytes, document_format: DocumentFormat, *, name: str | None = None
    ) -> ParsedDocument:
        """The document's text; ``DocumentRejected`` (or ``UnsupportedDocumentType``)
        saying why not; ``ParserUnavailable`` when no worker can be started."""
        report = await self.run(data, document_format, name=name)
        if report.rejection is not None:
            raise report.rejection
        assert report.document is not None
        return report.document

    async def run(
        self, data: bytes, document_format: DocumentFormat, *, name: str | None = None
    ) -> WorkerReport:
        """Parse ``data`` in a new worker and report how it went."""
        label = document_label(name)
        process = await self._start()
        reply = bytearray()
        stderr_tail: deque[str] = deque(maxlen=20)
        request = self._request(document_format, name, len(data))
        try:
            async with asyncio.timeout(self.deadline_s), asyncio.TaskGroup() as group:
                assert process.stdin is not None
                assert process.stderr is not None
                group.create_task(self._send(process.stdin, request, data))
                group.create_task(_read_reply(process, reply, self._reply_limit))
                group.create_task(_read_stderr(process.stderr, stderr_tail))
                group.create_task(process.wait())
        except TimeoutError:
            return WorkerReport(None, self._over_time(label))
        finally:
            # Deadline, oversized reply, or the caller cancelled (shutdown, a lost
            # claim): the worker never outlives the parse.
            await _stop(process)
        return await self._report(process.returncode, reply, label, stderr_tail)

    async def _start(self) -> asyncio.subprocess.Process:
        argv = [
            *self.command,
            "--memory-mb",
            str(self.memory_limit_mb),
            "--cpu-seconds",
            str(self.time_limit_s),
        ]
        try:
            return await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=_worker_environment(),
            )
        except OSError as exc:
            raise ParserUnavailable(f"cannot start the document parser {argv[0]}: {exc}") from exc

    def _request(
        self, document_format: DocumentFormat, name: str | None, size: int
    ) -> dict[str, Any]:
        limits = self.limits
        return {
            "format": document_format,
            "name": name,
            "size": size,
            "limits": {
                "max_chars": limits.max_chars,
                "max_unpacked_bytes": limits.max_unpacked_bytes,
                "max_compression_ratio": limits.max_compression_ratio,
                "max_pdf_pages": limits.max_pdf_pages,
            },
        }

    @property
    def _reply_limit(self) -> int:
        # The text (each character at most 4 bytes of UTF-8, 6 as a JSON escape) and a
        # little structure per section.
        return 6 * self.limits.max_chars + _REPLY_OVERHEAD_BYTES

    async def _report(
        self, returncode: int | None, reply: bytearray, label: str, stderr_tail: deque[str]
    ) -> WorkerReport:
        """What the worker's exit status and reply say about the document."""
        if len(reply) > self._reply_limit:
            logger.warning("document parser's reply on %s passed %d bytes", label, len(reply))
            return WorkerReport(None, DocumentRejected(f"the parser failed on {label}"))
        if returncode == 0:
            # Decoding up to tens of MB of JSON is not for the event loop.
            return await asyncio.to_thread(_report_from_reply, bytes(reply), label)
        if returncode == EXIT_OUT_OF_MEMORY:
            return WorkerReport(None, self._over_memory(label))
        if returncode == -signal.SIGXCPU:
            return WorkerReport(None, self._over_time(label))
        if returncode == -signal.SIGKILL:
            # Not ours (we kill only on the deadline): RLIMIT_CPU's hard limit or the
            # kernel's out-of-memory killer.
            return WorkerReport(
                None,
                DocumentRejected(
                    f"{label} was killed while it was parsed: it exceeds the parser's time "
                    f"limit of {self.time_limit_s} s or its memory limit of "
                    f"{self.memory_limit_mb} MB"
                ),
            )
        logger.warning(
            "document parser exited with %s on %s (reply %d bytes): %s",
            returncode,
            label,
            len(reply),
            " | ".join(stderr_tail),
        )
        return WorkerReport(
            None, DocumentRejected(f"the parser failed on {label} (exit status {returncode})")
        )

    async def _send(
        self, stdin: asyncio.StreamWriter, request: dict[str, Any], data: bytes
    ) -> None:
        """Write the request; a worker that stops reading (it died, or refused the
        request) shows in its exit status, not here."""
        try:
            stdin.write(json.dumps(request).encode() + b"\n")
            await stdin.drain()
            await self._send_document(stdin, data)
            stdin.close()
            await stdin.wait_closed()
        except ConnectionError:
            return

    async def _send_document(self, stdin: asyncio.StreamWriter, data: bytes) -> None:
        view = memoryview(data)
        for start in range(0, len(view), _SEND_BYTES):
            stdin.write(view[start : start + _SEND_BYTES])
            await stdin.drain()

    def _over_time(self, label: str) -> DocumentRejected:
        return DocumentRejected(f"{label} exceeds the parser's time limit of {self.time_limit_s} s")

    def _over_memory(self, label: str) -> DocumentRejected:
        return DocumentRejected(
            f"{label} exceeds the parser's memory limit of {self.memory_limit_mb} MB"
        )


async def _stop(process: asyncio.subprocess.Process) -> None:
    """Kill the worker if it still runs, and reap it. ``wait`` returns only once the
    worker's pipes have closed, and a pipe whose reader was cancelled (its buffer full,
    its transport paused) is never seen to close: what is left in it is read and
    dropped, which ends, since the writer is dead."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                while await stream.read(_READ_BYTES):
                    pass
    await process.wait()


async def _read_reply(process: asyncio.subprocess.Process, reply: bytearray, limit: int) -> None:
    assert process.stdout is not None
    while piece := await process.stdout.read(_READ_BYTES):
        if len(reply) > limit:
            continue  # read to the end all the same: the pipe must close
        reply.extend(piece)
        if len(reply) > limit:
            # Not a reply this parser writes: stop the worker.
            process.kill()


async def _read_stderr(stream: asyncio.StreamReader, tail: deque[str]) -> None:
    # Always read stderr, so a chatty worker never blocks on a full pipe; the tail
    # explains a crash in the log.
    async for raw in stream:
        tail.append(raw.decode(errors="replace").rstrip()[:500])


def _report_from_reply(reply: bytes, label: str) -> WorkerReport:
    try:
        answer = json.loads(reply)
        peak_rss_kb, cpu_seconds = answer["peak_rss_kb"], float(answer["cpu_s"])
        peak_rss_bytes = None if peak_rss_kb is None else int(peak_rss_kb) * 1024
        if not answer["ok"]:
            error = UnsupportedDocumentType if answer["kind"] == "unsupported" else DocumentRejected
            rejection = error(str(answer["message"]))
            return WorkerReport(None, rejection, peak_rss_bytes, cpu_seconds)
        sections = tuple(Section(str(text), dict(meta)) for text, meta in answer["sections"])
        document = ParsedDocument(answer["format"], sections)
    except (ValueError, KeyError, TypeError) as exc:
        logger.warning("document parser's reply on %s is malformed: %r", label, exc)
        return WorkerReport(None, DocumentRejected(f"the parser failed on {label}"))
    return WorkerReport(document, None, peak_rss_bytes, cpu_seconds)
