"""JSON log lines carry the call's ids inside ``bind_call`` (and in the tasks started
there), and not outside."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from callwright.observability.logging import (
    CallContextFilter,
    JsonFormatter,
    bind_call,
    bound_call,
    configure_logging,
)


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(CallContextFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.observability.captured")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_one_json_object_per_line_with_the_standard_fields(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    logger.warning("queue full for %s", "transcript")
    [entry] = lines(stream)
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "tests.observability.captured"
    assert entry["message"] == "queue full for transcript"
    assert entry["ts"].endswith("Z")
    assert datetime.fromisoformat(entry["ts"]).tzinfo is not None
    assert "call_id" not in entry
    assert "assistant_id" not in entry
    assert "exception" not in entry


def test_inside_bind_call_and_not_outside(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.info("before")
    with bind_call(42, 7):
        assert bound_call() == (42, 7)
        logger.info("during")
    logger.info("after")
    assert bound_call() == (None, None)
    before, during, after = lines(stream)
    assert "call_id" not in before
    assert (during["call_id"], during["assistant_id"]) == (42, 7)
    assert "call_id" not in after
    assert "assistant_id" not in after


def test_nested_bindings_restore_the_outer_call(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    with bind_call(1, 10):
        with bind_call(2, 20):
            logger.info("inner")
        logger.info("outer")
    inner, outer = lines(stream)
    assert (inner["call_id"], outer["call_id"]) == (2, 1)
    assert (inner["assistant_id"], outer["assistant_id"]) == (20, 10)


async def test_tasks_created_inside_carry_the_call_even_after_the_block(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    release = asyncio.Event()

    async def session_task(name: str) -> None:
        await release.wait()
        logger.info(name)

    async with asyncio.TaskGroup() as group:
        with bind_call(101, 5):
            group.create_task(session_task("first call's task"))
        with bind_call(202, 6):
            group.create_task(session_task("second call's task"))
        group.create_task(session_task("unbound task"))
        release.set()
    by_message = {entry["message"]: entry for entry in lines(stream)}
    assert by_message["first call's task"]["call_id"] == 101
    assert by_message["first call's task"]["assistant_id"] == 5
    assert by_message["second call's task"]["call_id"] == 202
    assert "call_id" not in by_message["unbound task"]


def test_exceptions_and_extras(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    try:
        raise ValueError("bad frame")
    except ValueError:
        with bind_call("call-abc"):
            logger.exception("call failed", extra={"provider": "openai", "attempt": 2})
    [entry] = lines(stream)
    assert entry["call_id"] == "call-abc"
    assert "assistant_id" not in entry
    assert entry["exception"].startswith("Traceback")
    assert "ValueError: bad frame" in entry["exception"]
    assert entry["provider"] == "openai"
    assert entry["attempt"] == 2


def test_values_that_are_not_json_become_strings(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    logger.info(
        "odd", extra={"when": object.__new__(type("Thing", (), {"__str__": lambda s: "T"}))}
    )
    [entry] = lines(stream)
    assert entry["when"] == "T"


@pytest.fixture
def root_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    uvicorn_saved = {
        name: (
            list(logging.getLogger(name).handlers),
            logging.getLogger(name).propagate,
            logging.getLogger(name).level,
        )
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
    }
    try:
        yield
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        for name, (handlers, propagate, level) in uvicorn_saved.items():
            logging.getLogger(name).handlers[:] = handlers
            logging.getLogger(name).propagate = propagate
            logging.getLogger(name).setLevel(level)


@pytest.mark.usefixtures("root_logging")
def test_configure_logging_json_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    # As an earlier uvicorn.Config(log_level="warning") in the same process leaves it.
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    configure_logging(json=True, level="DEBUG")
    with bind_call(9, 3):
        logging.getLogger("callwright.engine.session").debug("turn committed")
    logging.getLogger("uvicorn.error").info("started")
    logging.getLogger("callwright.quiet").log(5, "below the level")
    err = capsys.readouterr().err.splitlines()
    entries = [json.loads(line) for line in err]
    assert [e["message"] for e in entries] == ["turn committed", "started"]
    assert (entries[0]["call_id"], entries[0]["assistant_id"]) == (9, 3)
    assert entries[1]["logger"] == "uvicorn.error"
    assert "call_id" not in entries[1]


@pytest.mark.usefixtures("root_logging")
def test_configure_logging_text(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json=False, level=logging.INFO)
    with bind_call(9, 3):
        logging.getLogger("callwright.x").info("hello")
    logging.getLogger("callwright.x").info("bye")
    first, second = capsys.readouterr().err.splitlines()
    assert first.endswith("INFO callwright.x [call 9]: hello")
    assert second.endswith("INFO callwright.x: bye")


@pytest.mark.usefixtures("root_logging")
@pytest.mark.parametrize("as_json", [True, False])
def test_configure_logging_redacts_query_credentials_in_messages_and_tracebacks(
    capsys: pytest.CaptureFixture[str], as_json: bool
) -> None:
    configure_logging(json=as_json)
    try:
        raise RuntimeError("POST https://tools.test/hook?api_key=k-secret failed")
    except RuntimeError:
        logging.getLogger("callwright.x").exception("calling %s", "wss://h/s?token=t-secret")
    err = capsys.readouterr().err
    assert "k-secret" not in err
    assert "t-secret" not in err
    assert "api_key=[redacted]" in err
    if as_json:
        [entry] = [json.loads(line) for line in err.splitlines()]
        assert entry["message"] == "calling wss://h/s?token=[redacted]"
        assert "api_key=[redacted] failed" in entry["exception"]
    else:
        assert "calling wss://h/s?token=[redacted]" in err
