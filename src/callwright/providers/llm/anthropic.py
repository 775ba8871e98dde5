"""Anthropic Messages, streamed through the official ``anthropic`` SDK.

Request: system messages joined into the top-level ``system``; the conversation as
``user``/``assistant`` turns of content blocks (assistant tool calls as ``tool_use``,
results as ``tool_result`` blocks of the next user turn, listed first), consecutive
same-role messages merged, and a short opening user turn inserted when the
conversation does not start with the caller (the API requires it; it happens when the
assistant spoke first, or is to generate the greeting). ``max_tokens`` is required
(1024 when unset), ``stop`` becomes ``stop_sequences``, tools carry ``input_schema``,
and ``extra`` (custom_config) goes out as extra body fields.

Not sent, with a warning (once per adapter and setting): ``temperature`` and ``top_p``
(the SDK speaks API version 2026-10-21, which refuses sampling settings) and both
penalties (Claude has none).

Stream: ``text_delta``s become text as they arrive; a ``tool_use`` block's
``input_json_delta`` fragments are joined and yielded as one ``ToolCall`` at its
``content_block_stop``; usage (prompt = input plus cache tokens) comes from
``message_start`` and ``message_delta``, yielded last.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import anthropic
import httpx2

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
from callwright.providers.llm.settings_support import ANTHROPIC_DROPPED
from callwright.providers.protocols import (
    ChatMessage,
    LLMEvent,
    LLMRequest,
    TextDelta,
    ToolCall,
    Usage,
)
from callwright.security.outbound import OutboundPolicy

__all__ = ["AnthropicLLM", "create"]

_PROVIDER: Final = "anthropic"
_DEFAULT_MODEL: Final = "claude-haiku-4-5"
_DEFAULT_MAX_TOKENS: Final = 1024
_UNSUPPORTED: Final = ANTHROPIC_DROPPED
_OPENING_TURN: Final = "(The caller has joined the call.)"
# The HTTP status behind each documented error type, for errors sent inside a stream.
_ERROR_STATUS: Final = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}

_logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _ToolUse:
    id: str
    name: str
    json_parts: list[str] = field(default_factory=list)


class AnthropicLLM:
    """A streaming Claude model (see the module docstring for the mapping).

    ``base_url``: the API root (None is Anthropic's). ``default_model``: used when the
    request names none. ``first_byte_timeout_s``: how long the first event may take
    before ``ProviderTimeout``. Close with ``aclose``.
    """

    name = _PROVIDER

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        default_model: str = _DEFAULT_MODEL,
        first_byte_timeout_s: float = FIRST_BYTE_TIMEOUT_S,
        outbound: OutboundPolicy | None = None,
    ) -> None:
        if not api_key:
            raise ProviderAuthError(_PROVIDER, "no API key configured")
        self._default_model = default_model
        self._first_byte_timeout_s = first_byte_timeout_s
        # Between bytes; never shorter than the wait allowed for the first one.
        read_timeout_s = max(FIRST_BYTE_TIMEOUT_S, first_byte_timeout_s)
        self._warned: set[str] = set()
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key,
            base_url=base_url,
            http_client=(
                anthropic.DefaultAsyncHttpxClient(transport=outbound.httpx2_transport())
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
            stream = await self._client.messages.create(**params)
            async with stream:
                tools: dict[int, _ToolUse] = {}
                prompt_tokens = completion_tokens = 0
                async for event in stream:
                    if event.type == "message_start":
                        usage = event.message.usage
                        prompt_tokens = _prompt_tokens(
                            usage.input_tokens,
                            usage.cache_creation_input_tokens,
                            usage.cache_read_input_tokens,
                        )
                        completion_tokens = usage.output_tokens
                    elif event.type == "content_block_start":
                        block = event.content_block
                        if block.type == "tool_use":
                            tools[event.index] = _ToolUse(block.id, block.name)
                    elif event.type == "content_block_delta":
                        delta = event.delta
                        if delta.type == "text_delta" and delta.text:
                            yield TextDelta(delta.text)
                        elif delta.type == "input_json_delta" and event.index in tools:
                            tools[event.index].json_parts.append(delta.partial_json)
                    elif event.type == "content_block_stop" and event.index in tools:
                        tool = tools.pop(event.index)
                        yield ToolCall(tool.id, tool.name, "".join(tool.json_parts) or "{}")
                    elif event.type == "message_delta":
                        delta_usage = event.usage
                        completion_tokens = delta_usage.output_tokens
                        if delta_usage.input_tokens is not None:  # cumulative when present
                            prompt_tokens = _prompt_tokens(
                                delta_usage.input_tokens,
                                delta_usage.cache_creation_input_tokens,
                                delta_usage.cache_read_input_tokens,
                            )
                yield Usage(prompt_tokens, completion_tokens)
        except anthropic.APIStatusError as exc:
            raise self._status_error(exc) from exc
        except (anthropic.APITimeoutError, httpx2.TimeoutException) as exc:
            raise ProviderTimeout(self.name, "the response stalled") from exc
        except anthropic.APIConnectionError as exc:
            raise ProviderUnavailable(self.name, f"connection failed: {exc.__cause__!r}") from exc
        except httpx2.HTTPError as exc:  # the SDK passes mid-stream transport errors through
            raise ProviderUnavailable(self.name, f"connection dropped: {exc!r}") from exc

    def _params(self, request: LLMRequest) -> dict[str, Any]:
        system, messages = _conversation(request.messages)
        params: dict[str, Any] = {
            "model": request.model or self._default_model,
            "max_tokens": request.max_tokens or _DEFAULT_MAX_TOKENS,
            "messages": messages,
            "stream": True,
        }
        if system:
            params["system"] = system
        if request.stop:
            params["stop_sequences"] = list(request.stop)
        if request.tools:
            params["tools"] = [
                {
                    "name": tool.name,
                    "description": tool.description,
                    "input_schema": dict(tool.parameters),
                }
                for tool in request.tools
            ]
        if request.extra:
            params["extra_body"] = dict(request.extra)
        dropped = [key for key in _UNSUPPORTED if getattr(request, key) is not None]
        if fresh := [key for key in dropped if key not in self._warned]:
            self._warned.update(fresh)
            _logger.warning("anthropic: %s not supported by the Messages API; dropped", fresh)
        return params

    def _status_error(self, exc: anthropic.APIStatusError) -> ProviderError:
        status = exc.status_code
        if status < 400:  # an error event inside a 200 stream: its type says what failed
            status = _ERROR_STATUS.get(exc.type or "", 500)
        retry_after = exc.response.headers.get("retry-after")
        return error_for_status(self.name, status, exc.api_message or exc.message, retry_after)


def _prompt_tokens(input_tokens: int, created: int | None, read: int | None) -> int:
    return input_tokens + (created or 0) + (read or 0)


def _conversation(messages: Sequence[ChatMessage]) -> tuple[str, list[dict[str, Any]]]:
    """(system prompt, user/assistant turns) as the Messages API wants them."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            if message.content:
                system.append(message.content)
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if not blocks:  # the API refuses empty text blocks
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:  # tool results must open the user turn that answers the calls
        turn["content"].sort(key=lambda block: block["type"] != "tool_result")
    if not turns or turns[0]["role"] != "user":
        turns.insert(0, {"role": "user", "content": [{"type": "text", "text": _OPENING_TURN}]})
    return "\n\n".join(system), turns


def _blocks(message: ChatMessage) -> list[dict[str, Any]]:
    if message.role == "tool":
        return [
            {
                "type": "tool_result",
                "tool_use_id": message.tool_call_id or "",
                "content": message.content or "",
            }
        ]
    blocks: list[dict[str, Any]] = []
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    for call in message.tool_calls:
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": _input(call)})
    return blocks


def _input(call: ToolCall) -> dict[str, Any]:
    """A call's arguments as the JSON object ``tool_use.input`` must be."""
    with contextlib.suppress(ValueError):
        arguments = json.loads(call.arguments or "{}")
        if isinstance(arguments, dict):
            return arguments
    _logger.warning("anthropic: tool call %s had non-object arguments; sent as {}", call.id)
    return {}


def create(c: Connection) -> AnthropicLLM:
    """The catalog's factory."""
    return AnthropicLLM(c.api_key, base_url=c.base_url, outbound=c.outbound)
