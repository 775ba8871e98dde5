"""Anthropic Messages, streaming (``POST /v1/messages`` with ``"stream": true``), as
documented: the key in ``x-api-key`` or ``Authorization: Bearer``, a required
``anthropic-version`` header, named SSE events (``message_start``,
``content_block_start`` / ``_delta`` / ``_stop``, ``ping``, ``message_delta`` with the
output token count, ``message_stop``), text as ``text_delta`` and tool input as
``input_json_delta`` fragments, and ``{"type": "error", "error": {type, message}}``
bodies. The conversation rules the API enforces are enforced here too: the first
message is the user's, ``system`` is a top-level field, every ``tool_use`` is answered
by a ``tool_result`` in the next user message (results first), text blocks are not
empty, and on API version 2026-10-21 ``temperature``, ``top_p`` and ``top_k`` are
refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tests.vendor_fakes import Received, Reply, VendorFake, sse

__all__ = ["FakeAnthropic"]

_SAMPLING_REMOVED_IN = "2026-10-21"
_KNOWN_VERSIONS = {"2023-01-01", "2023-06-01", _SAMPLING_REMOVED_IN}


@dataclass
class FakeAnthropic(VendorFake):
    """The Messages streaming endpoint. ``overloaded_mid_stream``: after the first text
    delta, an ``error`` event (``overloaded_error``) ends the stream, as the API does
    when it runs out of capacity mid-answer."""

    overloaded_mid_stream: bool = False

    def route(self, method: str, path: str) -> bool:
        return method == "POST" and path == "/v1/messages"

    def authorized(self, request: Received) -> bool:
        headers = request.headers
        # The API reads x-api-key first when both are sent.
        if "x-api-key" in headers:
            return headers["x-api-key"] == self.api_key
        return headers.get("authorization") == f"Bearer {self.api_key}"

    def error(self, kind: str, message: str) -> tuple[int, dict[str, str], Any]:
        headers: dict[str, str] = {"request-id": "req_fake0001"}
        status, error_type = {
            "auth": (401, "authentication_error"),
            "rate": (429, "rate_limit_error"),
            "server": (500, "api_error"),
            "missing": (404, "not_found_error"),
        }.get(kind, (400, "invalid_request_error"))
        if kind == "auth":
            message = "invalid x-api-key"
        if kind == "rate":
            headers |= {
                "retry-after": str(self.retry_after_s),
                "anthropic-ratelimit-requests-limit": "50",
                "anthropic-ratelimit-requests-remaining": "0",
            }
            message = "Number of request tokens has exceeded your per-minute rate limit"
        body = {
            "type": "error",
            "error": {"type": error_type, "message": message},
            "request_id": "req_fake0001",
        }
        return status, headers, body

    def invalid(self, request: Received) -> str | None:
        version = request.headers.get("anthropic-version")
        if version is None:
            return "anthropic-version: header is required"
        if version not in _KNOWN_VERSIONS:
            return f"anthropic-version: invalid version {version!r}"
        body = request.body
        if not isinstance(body, dict):
            return "There was an error parsing the body of your request"
        for required in ("model", "max_tokens", "messages"):
            if required not in body:
                return f"{required}: Field required"
        if body.get("stream") is not True:
            return "this fake only answers streaming requests"
        if version == _SAMPLING_REMOVED_IN:
            for removed in ("temperature", "top_p", "top_k"):
                if removed in body:
                    return f"{removed}: Extra inputs are not permitted"
        for field_name in ("frequency_penalty", "presence_penalty", "stop"):
            if field_name in body:
                return f"{field_name}: Extra inputs are not permitted"
        if "system" in body and not isinstance(body["system"], str | list):
            return "system: Input should be a valid string or list"
        for tool in body.get("tools", []):
            if not tool.get("name") or "input_schema" not in tool:
                return "tools.0.input_schema: Field required"
        return _invalid_messages(body["messages"])

    def frames(self, reply: Reply, request: Received) -> list[bytes]:
        model = request.body["model"]
        start = {
            "id": "msg_fake0001",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": model,
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": reply.prompt_tokens, "output_tokens": 1},
        }
        frames = [sse({"type": "message_start", "message": start}, "message_start")]
        index = 0
        if reply.text:
            frames.append(_block_start(index, {"type": "text", "text": ""}))
            frames.append(sse({"type": "ping"}, "ping"))
            for piece in reply.text:
                frames.append(_block_delta(index, {"type": "text_delta", "text": piece}))
                if self.overloaded_mid_stream:
                    error = {"type": "overloaded_error", "message": "Overloaded"}
                    return [*frames, sse({"type": "error", "error": error}, "error")]
            frames.append(sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
            index += 1
        for number, call in enumerate(reply.calls):
            block = {
                "type": "tool_use",
                "id": call.id or f"toolu_fake{number:04d}",
                "name": call.name,
                "input": {},
            }
            frames.append(_block_start(index, block))
            arguments = json.dumps(call.arguments)
            middle = len(arguments) // 2
            for piece in ("", arguments[:middle], arguments[middle:]):
                frames.append(
                    _block_delta(index, {"type": "input_json_delta", "partial_json": piece})
                )
            frames.append(sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
            index += 1
        delta = {
            "type": "message_delta",
            "delta": {
                "stop_reason": "tool_use" if reply.calls else "end_turn",
                "stop_sequence": None,
            },
            "usage": {"output_tokens": reply.completion_tokens},
        }
        frames.append(sse(delta, "message_delta"))
        frames.append(sse({"type": "message_stop"}, "message_stop"))
        return frames


def _block_start(index: int, block: dict[str, Any]) -> bytes:
    return sse(
        {"type": "content_block_start", "index": index, "content_block": block},
        "content_block_start",
    )


def _block_delta(index: int, delta: dict[str, Any]) -> bytes:
    return sse(
        {"type": "content_block_delta", "index": index, "delta": delta}, "content_block_delta"
    )


def _invalid_messages(messages: Any) -> str | None:
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    if messages[0].get("role") != "user":
        return 'messages: first message must use the "user" role'
    pending: set[str] = set()  # tool_use ids awaiting their results
    for index, message in enumerate(messages):
        role, content = message.get("role"), message.get("content")
        if role not in ("user", "assistant"):
            return f'messages.{index}.role: Input should be "user" or "assistant"'
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        if not isinstance(blocks, list) or not blocks:
            return f"messages.{index}: content must be a non-empty string or list"
        kinds = [block.get("type") for block in blocks]
        for block in blocks:
            if block.get("type") == "text" and not block.get("text"):
                return f"messages.{index}: text content blocks must be non-empty"
        results = {block["tool_use_id"] for block in blocks if block.get("type") == "tool_result"}
        if pending != results:
            return (
                f"messages.{index}: `tool_use` ids were found without `tool_result` blocks "
                f"immediately after, or unexpected `tool_use_id`s: {sorted(pending ^ results)}"
            )
        if results and kinds[: len(results)] != ["tool_result"] * len(results):
            return f"messages.{index}: tool_result blocks must come first in the content"
        if role == "assistant" and "tool_result" in kinds:
            return f"messages.{index}: tool_result blocks belong in user messages"
        pending = {block["id"] for block in blocks if block.get("type") == "tool_use"}
        if pending and role != "assistant":
            return f"messages.{index}: tool_use blocks belong in assistant messages"
    if pending:
        return f"messages: tool_use ids without tool_result: {sorted(pending)}"
    return None
