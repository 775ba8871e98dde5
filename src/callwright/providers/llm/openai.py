"""OpenAI Chat Completions, streamed through the official ``openai`` SDK, and every
server speaking the same protocol (Groq, xAI, vLLM, Ollama, ``llama_cpp.server``, a
custom endpoint) through ``base_url``; ``name`` is what the call record calls it.

Request: ``messages`` (assistant tool calls as ``tool_calls``, results as role
``tool``), ``model``, ``temperature``, ``top_p``, both penalties, ``stop``, ``tools``
(``{"type": "function", ...}``), ``stream_options.include_usage`` so usage arrives
last; ``extra`` (custom_config) goes out as extra body fields and wins over the rest.
The token limit is ``max_completion_tokens`` on OpenAI itself (``max_tokens`` is
deprecated there and refused by its reasoning models) and ``max_tokens`` elsewhere
(what compatible servers read). OpenAI's reasoning models (o1, o3, o4, gpt-5) refuse
sampling settings and ``stop``: those are dropped with a warning, as are stop
sequences beyond OpenAI's four.

Tool calls arrive as deltas keyed by ``index`` (id and name first, then argument
fragments) and are yielded whole when the choice finishes. The SDK's own retries are
off (the engine falls back to the next provider instead); its errors become
``ProviderError``s here. So does a 200 whose body holds no stream event at all (a
server that ignored ``"stream": true`` and sent one JSON object, or nothing): the SDK
reads that as an empty stream, which would be a silent turn rather than a fallback.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

import httpx2
import openai

from callwright.providers.catalog import Connection
from callwright.providers.common import (
    CONNECT_TIMEOUT_S,
    FIRST_BYTE_TIMEOUT_S,
    error_for_status,
    first_within,
)
from callwright.providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
)
from callwright.providers.llm.settings_support import (
    OPENAI_HOST,
    OPENAI_MAX_STOP,
    SAMPLING,
    is_openai_reasoning_model,
)
from callwright.providers.protocols import (
    ChatMessage,
    LLMEvent,
    LLMRequest,
    TextDelta,
    ToolCall,
    Usage,
)
from callwright.security.outbound import OutboundPolicy

__all__ = ["OpenAILLM", "create"]

_DEFAULT_MODEL: Final = "gpt-4o-mini"
_OPENAI_HOST: Final = OPENAI_HOST
_SAMPLING: Final = SAMPLING
_OPENAI_MAX_STOP: Final = OPENAI_MAX_STOP
_NO_KEY: Final = "none"  # local servers ignore the key, but the SDK insists on one

_logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class OpenAILLM:
    """A streaming chat model behind an OpenAI-compatible ``/chat/completions``.

    ``base_url``: the API root including its version (``https://api.groq.com/openai/v1``,
    ``http://localhost:11434/v1``...); None is OpenAI. ``name``: the provider name in
    logs, errors and the call record. ``default_model``: used when the request names
    none. ``first_byte_timeout_s``: how long the first event may take before
    ``ProviderTimeout`` (later bytes may be as far apart, and at least
    ``FIRST_BYTE_TIMEOUT_S``). Close with ``aclose``.
    """

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        name: str = "openai",
        default_model: str = _DEFAULT_MODEL,
        first_byte_timeout_s: float = FIRST_BYTE_TIMEOUT_S,
        outbound: OutboundPolicy | None = None,
    ) -> None:
        self.name = name
        self._official = base_url is None or urlsplit(base_url).hostname == _OPENAI_HOST
        if not api_key and self._official:
            raise ProviderAuthError(name, "no API key configured")
        self._default_model = default_model
        self._first_byte_timeout_s = first_byte_timeout_s
        # Between bytes; never shorter than the wait allowed for the first one.
        read_timeout_s = max(FIRST_BYTE_TIMEOUT_S, first_byte_timeout_s)
        self._warned: set[str] = set()
        self._client = openai.AsyncOpenAI(
            api_key=api_key or _NO_KEY,
            base_url=base_url,
            http_client=(
                openai.DefaultAsyncHttpxClient(transport=outbound.httpx2_transport())
                if outbound is not None
                else None
            ),
            max_retries=0,
            timeout=httpx2.Timeout(read_timeout_s, connect=CONNECT_TIMEOUT_S),
        )

    async def aclose(self) -> None:
        await self._client.close()

    def stream(self, request: LLMRequest) -> AsyncGenerator[LLMEvent, None]:
        # Closing the returned generator closes _events too: the request is aborted.
        return first_within(self.name, self._events(request), self._first_byte_timeout_s)

    async def _events(self, request: LLMRequest) -> AsyncGenerator[LLMEvent, None]:
        params = self._params(request)
        try:
            chunks = await self._client.chat.completions.create(**params)
            async with chunks:
                calls: dict[int, _PartialCall] = {}
                usage: Usage | None = None
                streamed = False
                async for chunk in chunks:
                    streamed = True
                    if chunk.usage is not None:
                        usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                    for choice in chunk.choices[:1]:  # n is 1: one choice, index 0
                        if choice.delta.content:
                            yield TextDelta(choice.delta.content)
                        for part in choice.delta.tool_calls or ():
                            # Some compatible servers send whole calls without an index.
                            index = part.index if part.index is not None else len(calls)
                            call = calls.setdefault(index, _PartialCall())
                            call.id = call.id or (part.id or "")
                            if part.function is not None:
                                call.name = call.name or (part.function.name or "")
                                call.arguments.append(part.function.arguments or "")
                        if choice.finish_reason is not None:
                            for done in _complete(calls):
                                yield done
                if not streamed:
                    raise _not_a_stream(self.name, chunks.response.headers.get("content-type"))
                for done in _complete(calls):  # a server that never said it finished
                    yield done
                if usage is not None:
                    yield usage
        except openai.APIStatusError as exc:
            raise self._status_error(exc) from exc
        except openai.APITimeoutError as exc:
            raise ProviderTimeout(self.name, "the response stalled") from exc
        except openai.APIConnectionError as exc:
            raise ProviderUnavailable(self.name, f"connection failed: {exc.__cause__!r}") from exc
        except openai.APIError as exc:  # an error event inside the stream
            raise ProviderUnavailable(self.name, f"stream error: {exc.message}") from exc

    def _params(self, request: LLMRequest) -> dict[str, Any]:
        model = request.model or self._default_model
        params: dict[str, Any] = {
            "model": model,
            "messages": [_message(message) for message in request.messages],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        sampling = {key: getattr(request, key) for key in _SAMPLING}
        sampling = {key: value for key, value in sampling.items() if value is not None}
        stop = list(request.stop)
        if self._official and _is_reasoning_model(model):
            self._warn_dropped(model, [*sampling, *(["stop"] if stop else [])])
            sampling, stop = {}, []
        if self._official and len(stop) > _OPENAI_MAX_STOP:
            self._warn_dropped(model, [f"stop sequences after the first {_OPENAI_MAX_STOP}"])
            stop = stop[:_OPENAI_MAX_STOP]
        params.update(sampling)
        if stop:
            params["stop"] = stop
        if request.max_tokens is not None:
            limit = "max_completion_tokens" if self._official else "max_tokens"
            params[limit] = request.max_tokens
        if request.tools:
            params["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": dict(tool.parameters),
                    },
                }
                for tool in request.tools
            ]
        if request.extra:
            params["extra_body"] = dict(request.extra)
        return params

    def _warn_dropped(self, model: str, settings: list[str]) -> None:
        fresh = [setting for setting in settings if f"{model}:{setting}" not in self._warned]
        if fresh:
            self._warned.update(f"{model}:{setting}" for setting in fresh)
            _logger.warning("%s: %s does not accept %s; dropped", self.name, model, fresh)

    def _status_error(self, exc: openai.APIStatusError) -> ProviderError:
        headers = exc.response.headers
        retry_after = headers.get("retry-after")
        with contextlib.suppress(ValueError):  # the SDK's own, more precise header
            retry_after = str(float(headers.get("retry-after-ms", "")) / 1000)
        return error_for_status(self.name, exc.status_code, exc.message, retry_after)


def _not_a_stream(provider: str, content_type: str | None) -> ProviderError:
    return ProviderUnavailable(
        provider,
        f"HTTP 200 ({content_type or 'no content type'}) without a single stream event: "
        "the server did not stream its answer",
    )


def _is_reasoning_model(model: str) -> bool:
    return is_openai_reasoning_model(model)


def _complete(calls: dict[int, _PartialCall]) -> Iterable[ToolCall]:
    """The assembled calls, in index order; forgets them so each is yielded once."""
    done = [calls[index] for index in sorted(calls)]
    calls.clear()
    for call in done:
        yield ToolCall(call.id, call.name, "".join(call.arguments))


def _message(message: ChatMessage) -> dict[str, Any]:
    if message.role == "tool":
        return {
            "role": "tool",
            "tool_call_id": message.tool_call_id or "",
            "content": message.content or "",
        }
    if message.role == "assistant" and message.tool_calls:
        return {
            "role": "assistant",
            "content": message.content,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments or "{}"},
                }
                for call in message.tool_calls
            ],
        }
    return {"role": message.role, "content": message.content or ""}


def create(c: Connection) -> OpenAILLM:
    """The chat model for ``c`` (openai, groq, xai, custom: one protocol, told apart by
    endpoint and name)."""
    return OpenAILLM(c.api_key, base_url=c.base_url, name=c.vendor, outbound=c.outbound)
