"""The document parser's worker process (``python -m callwright.domain.knowledge.parse_worker
--memory-mb N --cpu-seconds S``), started once per document by ``parse_isolation``.

First thing, before it reads a byte, it limits itself: its address space to N MiB
(RLIMIT_AS: an allocation past it is a MemoryError), its CPU time to S seconds
(RLIMIT_CPU: SIGXCPU at S, SIGKILL a second later) and no core files. Only then does it
import the parsers and read its request from stdin: one JSON line
``{"format", "name", "size", "limits": {...ParseLimits}}`` followed by ``size`` bytes of
the document. It answers with one JSON object on stdout and exits 0::

    {"ok": true, "format": "docx", "sections": [["text", {"page": 1}], ...],
     "peak_rss_kb": 41234, "cpu_s": 0.31}       (peak_rss_kb: null off Linux)
    {"ok": false, "kind": "rejected" | "unsupported", "message": "...", ...}

Out of memory it exits with ``EXIT_OUT_OF_MEMORY`` (writing anything might need the
memory it lacks); a request it cannot understand is ``EXIT_BAD_REQUEST``. This module
imports only the standard library at the top, so the limits are in place before any
parsing code is loaded.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from typing import Any, Final, get_args

__all__ = ["EXIT_BAD_REQUEST", "EXIT_OUT_OF_MEMORY", "apply_limits", "main"]

EXIT_BAD_REQUEST: Final = 2
EXIT_OUT_OF_MEMORY: Final = 3
_MAX_HEADER_BYTES: Final = 64 * 1024


def apply_limits(memory_mb: int, cpu_seconds: int) -> None:
    """Limit this process's address space, CPU time and core files (never raising a
    limit the parent already lowered)."""

    def lower(kind: int, soft: int, hard: int) -> None:
        _, current_hard = resource.getrlimit(kind)
        if current_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, current_hard), min(hard, current_hard)
        resource.setrlimit(kind, (soft, hard))

    memory = memory_mb * 1024 * 1024
    lower(resource.RLIMIT_AS, memory, memory)
    lower(resource.RLIMIT_CPU, cpu_seconds, cpu_seconds + 1)
    lower(resource.RLIMIT_CORE, 0, 0)


def _options(argv: list[str]) -> tuple[int, int]:
    values = dict(zip(argv[::2], argv[1::2], strict=False))
    return int(values["--memory-mb"]), int(values["--cpu-seconds"])


def _peak_rss_kb() -> int | None:
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the forked copy of
    # the parent, so it would report the server's size, not this process's.
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def _usage() -> dict[str, Any]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"peak_rss_kb": _peak_rss_kb(), "cpu_s": round(usage.ru_utime + usage.ru_stime, 3)}


class _BadRequest(Exception):
    """The parent sent something this worker does not understand."""


def _serve(stdin: Any, stdout: Any) -> None:
    from callwright.domain.knowledge.documents import (
        DocumentFormat,
        DocumentRejected,
        ParseLimits,
        UnsupportedDocumentType,
    )
    from callwright.domain.knowledge.parsing import parse_document

    try:
        header = json.loads(stdin.readline(_MAX_HEADER_BYTES))
        document_format = header["format"]
        if document_format not in get_args(DocumentFormat):
            raise ValueError(f"unknown format {document_format!r}")
        limits = ParseLimits(**header["limits"])
        name = header.get("name")
        data = stdin.read(int(header["size"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise _BadRequest(repr(exc)) from exc
    reply: dict[str, Any]
    try:
        parsed = parse_document(data, document_format, limits=limits, name=name)
    except DocumentRejected as exc:
        reply = {"ok": False, "kind": "rejected", "message": exc.message}
    except UnsupportedDocumentType as exc:
        reply = {"ok": False, "kind": "unsupported", "message": exc.message}
    else:
        del data  # the reply may need the room
        reply = {
            "ok": True,
            "format": parsed.format,
            "sections": [[section.text, section.metadata] for section in parsed.sections],
        }
    stdout.write(json.dumps({**reply, **_usage()}, ensure_ascii=False).encode())
    stdout.flush()


def main(argv: list[str] | None = None) -> int:
    """Limit this process, then parse the one document on stdin (see the module)."""
    try:
        memory_mb, cpu_seconds = _options(sys.argv[1:] if argv is None else argv)
    except (KeyError, ValueError):
        print("usage: parse_worker --memory-mb N --cpu-seconds S", file=sys.stderr)
        return EXIT_BAD_REQUEST
    apply_limits(memory_mb, cpu_seconds)
    try:
        _serve(sys.stdin.buffer, sys.stdout.buffer)
    except MemoryError:
        # Leave at once: reporting it could itself need memory.
        os._exit(EXIT_OUT_OF_MEMORY)
    except _BadRequest as exc:
        print(f"bad request: {exc}", file=sys.stderr)
        return EXIT_BAD_REQUEST
    # Anything else is a bug: Python prints the traceback (the parent logs it) and
    # exits 1.
    return 0


if __name__ == "__main__":
    sys.exit(main())
