"""The parser's worker process: the limits act, every way a worker ends is a reason
naming the document and the limit, and the worker sees nothing of the server (no
secret, no socket) and never outlives its parse."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import os
import secrets
import socket
import sys
from pathlib import Path

import psutil
import pytest

import callwright
from callwright.domain.knowledge.documents import ParseLimits
from callwright.domain.knowledge.parse_isolation import ParserUnavailable, WorkerParser
from callwright.settings import Settings
from tests.knowledge.conftest import Gate, docx_bomb, docx_with_body, gated_parser, worker_processes


def settings(tmp_path: Path, **values: int) -> Settings:
    return Settings(data_dir=tmp_path, **values)


async def test_a_docx_bomb_is_refused_by_a_worker_that_stays_small() -> None:
    bomb = docx_bomb(100)
    serving = psutil.Process()
    before = serving.memory_info().rss
    report = await WorkerParser().run(bomb, "docx", name="bomb.docx")
    grown = serving.memory_info().rss - before
    assert report.document is None
    assert report.rejection is not None
    assert report.rejection.message == (
        "'bomb.docx' is compressed more than 100 to 1 (word/document.xml); "
        "the compression ratio limit is 100"
    )
    # Measured apart: the worker (its own peak) and this process (what it grew by).
    assert report.peak_rss_bytes is not None
    assert report.peak_rss_bytes < 64 * 1024 * 1024
    assert grown < 16 * 1024 * 1024
    assert worker_processes() == []


async def test_knowledge_parser_time_limit_s(tmp_path: Path) -> None:
    parser = WorkerParser.from_settings(settings(tmp_path, knowledge_parser_time_limit_s=1))
    # Millions of inline tags: no text, but seconds of CPU in HTMLParser.
    tags = b"<i>" * 2_000_000
    report = await parser.run(tags, "html", name="tags.html")
    assert report.rejection is not None
    assert report.rejection.message == "'tags.html' exceeds the parser's time limit of 1 s"
    assert worker_processes() == []


async def test_knowledge_max_unpacked_bytes(tmp_path: Path) -> None:
    parser = WorkerParser.from_settings(
        settings(tmp_path, knowledge_max_unpacked_bytes=1024 * 1024)
    )
    # Random text barely compresses: the ratio is fine, the size is what is too much.
    body = (
        b"<w:p><w:r><w:t>" + secrets.token_hex(1024).encode() + b"</w:t></w:r></w:p>"
        for _ in range(1000)
    )
    document = docx_with_body(body)  # about 2 MB of XML
    report = await parser.run(document, "docx", name="long.docx")
    assert report.rejection is not None
    assert report.rejection.message == (
        "'long.docx' unpacks to more than 1048576 bytes; the limit is 1048576"
    )
    assert (await WorkerParser().run(document, "docx", name="long.docx")).document is not None


async def test_a_worker_that_stalls_is_killed_at_the_deadline() -> None:
    stalls = (sys.executable, "-c", "import time; time.sleep(3600)")
    parser = WorkerParser(time_limit_s=1, command=stalls)
    report = await parser.run(b"hello", "txt", name="a.txt")
    assert report.rejection is not None
    assert report.rejection.message == "'a.txt' exceeds the parser's time limit of 1 s"
    assert worker_processes() == []


async def test_a_worker_out_of_memory_is_a_reason_not_a_crash() -> None:
    # Three million empty objects: a few MB of JSON, hundreds of MB of Python objects.
    objects = b"[" + b"{}," * 3_000_000 + b"{}]"
    report = await WorkerParser(memory_limit_mb=128).run(objects, "json", name="objects.json")
    assert report.rejection is not None
    assert report.rejection.message == "'objects.json' exceeds the parser's memory limit of 128 MB"


_REPORT_SURROUNDINGS = """
import json, os, sys
import callwright
sys.stdin.buffer.read()
seen = {"environment": sorted(os.environ), "descriptors": sorted(os.listdir("/proc/self/fd")),
        "package": callwright.__file__}
print(json.dumps({"ok": True, "format": "txt", "sections": [[json.dumps(seen), {}]],
                  "peak_rss_kb": None, "cpu_s": 0}))
"""


async def test_the_worker_sees_no_secret_and_no_socket_of_the_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CALLWRIGHT_SECRET_KEY", "s" * 48)
    monkeypatch.setenv("DATABASE_URL", "postgresql://user:password@db/callwright")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    parser = dataclasses.replace(
        WorkerParser(), command=(sys.executable, "-c", _REPORT_SURROUNDINGS)
    )
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        document = await parser.parse(b"anything", "txt")
    seen = json.loads(document.sections[0].text)
    assert set(seen["environment"]) <= {
        "PATH", "LD_LIBRARY_PATH", "PYTHONHOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH",
        "LC_CTYPE",  # set by Python itself when it coerces the C locale
    }  # fmt: skip
    # stdin, stdout, stderr, and the directory listdir had open.
    assert set(seen["descriptors"]) <= {"0", "1", "2", "3"}
    assert seen["package"] == callwright.__file__


async def test_a_worker_that_cannot_start_is_the_servers_problem() -> None:
    parser = WorkerParser(command=("/nonexistent/python",))
    with pytest.raises(ParserUnavailable, match="cannot start the document parser"):
        await parser.parse(b"hello", "txt")


async def test_a_cancelled_parse_kills_its_worker() -> None:
    gate = Gate()
    running = asyncio.create_task(gated_parser(gate).parse(b"word " * 100_000, "txt"))
    await gate.started.wait()
    assert len(worker_processes()) == 1
    running.cancel()
    async with asyncio.timeout(30):  # a hang detector, not a timing assertion
        await asyncio.wait([running])
    assert running.cancelled()
    assert worker_processes() == []


_WRITES_WITHOUT_END = """
import sys
out = sys.stdout.buffer
for _ in range(64):
    out.write(b"x" * 65536)
with open(sys.argv[1], "w") as writing:  # a FIFO the test waits on
    writing.write("writing\\n")
while True:
    out.write(b"x" * 65536)
"""


async def test_a_parse_cancelled_while_its_worker_writes_still_ends(tmp_path: Path) -> None:
    # Cancelled while the worker writes: the reader stops, the pipe fills and is no
    # longer read, yet the worker must be killed and reaped and the parse must end.
    signal_path = tmp_path / "writing"
    os.mkfifo(signal_path)
    # Read and write ends both here, so the FIFO is not at EOF before the worker opens it.
    signal_pipe = os.fdopen(os.open(signal_path, os.O_RDWR | os.O_NONBLOCK), "rb", buffering=0)
    signals = asyncio.StreamReader()
    transport, _ = await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(signals), signal_pipe
    )
    command = (sys.executable, "-c", _WRITES_WITHOUT_END, str(signal_path))
    parser = WorkerParser(limits=ParseLimits(max_chars=10**9), command=command)
    try:
        running = asyncio.create_task(parser.parse(b"anything", "txt"))
        async with asyncio.timeout(30):  # hang detectors, not timing assertions
            assert await signals.readline() == b"writing\n"  # 4 MB out, and more coming
            running.cancel()
            await asyncio.wait([running])
        assert running.cancelled()
    finally:
        transport.close()
    assert worker_processes() == []
    gc.collect()  # a pipe left open shows here, as a ResourceWarning (an error)
