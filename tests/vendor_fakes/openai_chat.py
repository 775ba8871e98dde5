"""OpenAI Chat Completions, streaming (``POST /v1/chat/completions`` with
``"stream": true``), as documented: ``Authorization: Bearer`` keys,
``chat.completion.chunk`` objects as SSE ``data:`` lines ending with ``data: [DONE]``,
tool calls streamed as deltas keyed by ``index`` (id and name first, then argument
fragments), a usage chunk with empty ``choices`` when ``stream_options.include_usage``
is set, and ``{"error": {message, type, param, code}}`` bodies. Groq, xAI, vLLM,
Ollama and llama.cpp's server speak the same protocol under their own path prefix.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from tests.vendor_fakes import Received, Reply, VendorFake, sse

__all__ = ["FakeOpenAI"]

_ROLES = {"system", "developer", "user", "assistant", "tool"}


@dataclass
class FakeOpenAI(VendorFake):
    """The Chat Completions streaming endpoint under ``prefix`` (``/v1`` for OpenAI,
    ``/openai/v1`` for Groq...)."""

    prefix: str = "/v1"

    def route(self, method: str, path: str) -> bool:
        return method == "POST" and path == f"{self.prefix}/chat/completions"

    def authorized(self, request: Received) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.api_key}"

    def error(self, kind: str, message: str) -> tuple[int, dict[str, str], Any]:
        headers: dict[str, str] = {}
        if kind == "auth":
            status, kind_name, code = 401, "invalid_request_error", "invalid_api_key"
            message = "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys."
        elif kind == "rate":
            status, kind_name, code = 429, "requests", "rate_limit_exceeded"
            message = f"Rate limit reached for requests. Please try again in {self.retry_after_s}s."
            headers = {
                "retry-after": str(self.retry_after_s),
                "x-ratelimit-limit-requests": "500",
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": f"{self.retry_after_s}s",
            }
        elif kind == "server":
            status, kind_name, code = 500, "server_error", None
            message = "The server had an error while processing your request. Sorry about that!"
        elif kind == "missing":
            status, kind_name, code = 404, "invalid_request_error", None
        else:
            status, kind_name, code = 400, "invalid_request_error", None
        body = {"error": {"message": message, "type": kind_name, "param": None, "code": code}}
        return status, headers, body

    def invalid(self, request: Received) -> str | None:
        body = request.body
        if not isinstance(body, dict):
            return "We could not parse the JSON body of your request."
        if not body.get("model"):
            return "you must provide a model parameter"
        if body.get("stream") is not True:
            return "this fake only answers streaming requests"
        if "stream_options" in body and not isinstance(body["stream_options"], dict):
            return "Invalid type for 'stream_options'"
        for tool in body.get("tools", []):
            if tool.get("type") != "function" or not tool.get("function", {}).get("name"):
                return "Missing required parameter: 'tools[0].function.name'."
        return _invalid_messages(body.get("messages"))

    def whole(self, reply: Reply, request: Received) -> Any:
        """The non-streaming ``chat.completion`` object."""
        return {
            "id": "chatcmpl-fake0001",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "".join(reply.text)},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": reply.prompt_tokens,
                "completion_tokens": reply.completion_tokens,
                "total_tokens": reply.prompt_tokens + reply.completion_tokens,
            },
        }

    def frames(self, reply: Reply, request: Received) -> list[bytes]:
        body = request.body
        usage_wanted = bool((body.get("stream_options") or {}).get("include_usage"))
        base = {
            "id": "chatcmpl-fake0001",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body["model"],
            "system_fingerprint": "fp_fake",
        }

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            extra = {"usage": None} if usage_wanted else {}
            return sse({**base, "choices": [choice], **extra})

        frames = [chunk({"role": "assistant", "content": "", "refusal": None})]
        frames += [chunk({"content": piece}) for piece in reply.text]
        for index, call in enumerate(reply.calls):
            arguments = json.dumps(call.arguments)
            head = {
                "index": index,
                "id": call.id or f"call_fake{index:04d}",
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            frames.append(chunk({"tool_calls": [head]}))
            middle = len(arguments) // 2  # arguments arrive in pieces
            for piece in (arguments[:middle], arguments[middle:]):
                frames.append(
                    chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
                )
        frames.append(chunk({}, "tool_calls" if reply.calls else "stop"))
        if usage_wanted:
            usage = {
                "prompt_tokens": reply.prompt_tokens,
                "completion_tokens": reply.completion_tokens,
                "total_tokens": reply.prompt_tokens + reply.completion_tokens,
            }
            frames.append(sse({**base, "choices": [], "usage": usage}))
        frames.append(sse("[DONE]"))
        return frames


def _invalid_messages(messages: Any) -> str | None:
    """The API's own conversation rules: roles, and every tool call answered by a
    ``tool`` message (and no ``tool`` message without its call)."""
    if not isinstance(messages, list) or not messages:
        return "Invalid 'messages': empty array. Expected an array with minimum length 1."
    open_calls: set[str] = set()
    for index, message in enumerate(messages):
        role = message.get("role")
        if role not in _ROLES:
            return f"Invalid value: '{role}'. Supported values are: {sorted(_ROLES)}."
        if role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in open_calls:
                return (
                    f"Invalid parameter: messages[{index}]: messages with role 'tool' must be "
                    "a response to a preceeding message with 'tool_calls'."
                )
            if not isinstance(message.get("content"), str):
                return f"Invalid type for 'messages[{index}].content'."
            open_calls.discard(call_id)
            continue
        if open_calls:
            return (
                "An assistant message with 'tool_calls' must be followed by tool messages "
                f"responding to each 'tool_call_id'. Missing: {sorted(open_calls)}"
            )
        if role == "assistant" and message.get("tool_calls"):
            for call in message["tool_calls"]:
                if call.get("type") != "function" or "arguments" not in call.get("function", {}):
                    return f"Invalid 'messages[{index}].tool_calls'."
                open_calls.add(call["id"])
        elif not isinstance(message.get("content"), str):
            return f"Invalid type for 'messages[{index}].content': expected a string."
    if open_calls:
        return f"tool_call_ids did not have response messages: {sorted(open_calls)}"
    return None
