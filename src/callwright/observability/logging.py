"""Structured logs: one JSON object per line, carrying the call they belong to.

``bind_call(call_id, assistant_id)`` sets two context variables for the block it
wraps; asyncio copies the context into every task created inside it, so everything a
call's session logs — from any of its tasks — carries the call's ids, and nothing
outside does. ``configure_logging(json=True)`` installs the formatter on the root
logger::

    {"ts": "2026-11-22T05:50:40.123Z", "level": "WARNING", "logger": "callwright.engine.session",
     "message": "hang-up failed", "call_id": 42, "assistant_id": 7, "exception": "Traceback …"}

Fields passed with ``extra={…}`` are added too (values that are not JSON become
strings). With ``json=False`` lines are plain text, ``[call 42]`` after the logger.

Both formats redact credentials carried in a URL's query string — a browser call's
``?token=``, a signed recording link's ``signature=``, an ``api_key=`` — as
``token=[redacted]``, wherever the URL appears in the line (uvicorn's access and
WebSocket lines, a message, an exception). The whole line is redacted, not the message
alone, so a URL inside a traceback or an extra is covered too.
"""

from __future__ import annotations

import contextlib
import json as jsonlib
import logging
import re
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Final

__all__ = [
    "REDACTED",
    "CallContextFilter",
    "JsonFormatter",
    "bind_call",
    "bound_call",
    "configure_logging",
    "redact_secrets",
]

REDACTED: Final = "[redacted]"

_call_id: ContextVar[int | str | None] = ContextVar("callwright_call_id", default=None)
_assistant_id: ContextVar[int | str | None] = ContextVar("callwright_assistant_id", default=None)

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD: Final = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "call_id",
    "assistant_id",
}
_TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s%(call)s: %(message)s"
# A query parameter whose name says it is a credential (token, stream_token, signature,
# api_key, x-api-key, secret, password, auth…, key), after ``?``, ``&`` or ``;``. The
# value stops where a URL's query value would end in a log line: ``&``, whitespace, a
# quote, or a backslash (the escape before a quote inside a JSON string).
_SECRET_IN_QUERY: Final = re.compile(
    r"(?i)([?&;](?:[\w.-]*(?:token|secret|signature|passw(?:or)?d|api[_-]?key|auth|credential)"
    r"[\w.-]*|key|sig)=)[^&\s\"'<>#\\]*"
)


def redact_secrets(text: str) -> str:
    """``text`` with every credential-like query parameter's value replaced by
    ``[redacted]``: ``/stream?token=eyJ…`` becomes ``/stream?token=[redacted]``."""
    return _SECRET_IN_QUERY.sub(rf"\g<1>{REDACTED}", text)


@contextlib.contextmanager
def bind_call(call_id: int | str, assistant_id: int | str | None = None) -> Iterator[None]:
    """Log records made inside this block (and in tasks it creates) carry the ids."""
    call_token = _call_id.set(call_id)
    assistant_token = _assistant_id.set(assistant_id)
    try:
        yield
    finally:
        _assistant_id.reset(assistant_token)
        _call_id.reset(call_token)


def bound_call() -> tuple[int | str | None, int | str | None]:
    """The (call id, assistant id) bound in this context, if any."""
    return _call_id.get(), _assistant_id.get()


class CallContextFilter(logging.Filter):
    """Copies the bound call's ids onto each record (``record.call_id`` /
    ``record.assistant_id``, None outside a call). Attached to handlers, so that a
    record is stamped in the context of the code that logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "call_id", None) is None:
            record.call_id = _call_id.get()
        if getattr(record, "assistant_id", None) is None:
            record.assistant_id = _assistant_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts (UTC, ms), level, logger, message, the call's
    ids when bound, ``exception`` (the traceback) when there is one, and extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        call_id = getattr(record, "call_id", None)
        if call_id is None:
            call_id = _call_id.get()
        assistant_id = getattr(record, "assistant_id", None)
        if assistant_id is None:
            assistant_id = _assistant_id.get()
        if call_id is not None:
            entry["call_id"] = call_id
        if assistant_id is not None:
            entry["assistant_id"] = assistant_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value
        return redact_secrets(jsonlib.dumps(entry, default=str, ensure_ascii=False))


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        call_id = getattr(record, "call_id", None) or _call_id.get()
        record.call = f" [call {call_id}]" if call_id is not None else ""
        return redact_secrets(super().format(record))


def configure_logging(*, json: bool = False, level: int | str = logging.INFO) -> None:
    """Send every log record to stderr, as JSON lines or text, at ``level``.

    Replaces the root logger's handlers, and makes uvicorn's loggers propagate to it;
    run uvicorn with ``log_config=None`` afterwards, or it installs its own handlers.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(CallContextFilter())
    handler.setFormatter(JsonFormatter() if json else _TextFormatter(_TEXT_FORMAT))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
        # A level left by an earlier uvicorn.Config(log_level=...) would filter first.
        uvicorn_logger.setLevel(logging.NOTSET)
