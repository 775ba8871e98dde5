"""Gemini's ``generateContent`` wire format (REST, v1beta): the request body built from
an ``LLMRequest``, the server-sent events parsed into ``LLMEvent``s, and the
``ProviderError`` a google.rpc error body means.

Request: system messages as ``systemInstruction``; the conversation as ``contents``
of role ``user``/``model`` (consecutive same-role messages merged, an opening user turn
inserted when the caller has not spoken first); assistant tool calls as
``functionCall`` parts (with the ``thoughtSignature`` they arrived with: Gemini 3
refuses a function call sent back without it) and results as ``functionResponse``
parts (a JSON object result as is, anything else as ``{"output": ...}``); tools as
``functionDeclarations`` with ``parametersJsonSchema`` (plain JSON Schema).
``generationConfig``: ``temperature``, ``topP``, ``maxOutputTokens``,
``stopSequences`` (at most five; more are dropped with a warning) and the penalties
when non-zero, which only gemini-2.0 models accept (elsewhere dropped with a
warning). ``extra`` (custom_config) adds request fields (``safetySettings``,
``toolConfig``...); its ``generationConfig`` entries join the generated ones.

Stream: each SSE event is a ``GenerateContentResponse``; text parts become text (thought
summaries are skipped), ``functionCall`` parts whole ``ToolCall``s (the call's own
``id`` when Gemini sends one, else a local one that is never sent back), and the last
``usageMetadata`` the ``Usage`` (completion includes thinking tokens, as billed).
Errors are google.rpc bodies: ``API_KEY_INVALID`` is an auth failure despite its 400,
and a 429's ``RetryInfo.retryDelay`` is its retry-after.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from callwright.providers.common import error_for_status
from callwright.providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRequestError,
    ProviderUnavailable,
)
from callwright.providers.llm.settings_support import GEMINI_MAX_STOP, GEMINI_PENALTY_MODELS
from callwright.providers.protocols import ChatMessage, LLMRequest, TextDelta, ToolCall, Usage

__all__ = [
    "PROVIDER",
    "candidate_parts",
    "error_of",
    "part_event",
    "request_body",
    "sse_objects",
    "usage_of",
]

PROVIDER: Final = "gemini"
_MAX_STOP: Final = GEMINI_MAX_STOP
_PENALTY_MODELS: Final = GEMINI_PENALTY_MODELS
_LOCAL_ID: Final = "cw-call-"  # ids made up here: Gemini never saw them
_AUTH_REASONS: Final = frozenset({"API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED"})
_OPENING_TURN: Final = "(The caller has joined the call.)"


def request_body(
    request: LLMRequest,
    model: str,
    signatures: Mapping[str, str],
    warn: Callable[[str], None],
) -> dict[str, Any]:
    """The ``streamGenerateContent`` body for ``request`` to ``model``; ``signatures``
    are the thought signatures of the function calls seen, by call id; ``warn`` is told
    what is dropped."""
    system, contents = _contents(request.messages, signatures)
    body: dict[str, Any] = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": [{"text": system}]}
    settings = {
        "temperature": request.temperature,
        "topP": request.top_p,
        "maxOutputTokens": request.max_tokens,
    }
    config: dict[str, Any] = {k: v for k, v in settings.items() if v is not None}
    penalties = {
        "presencePenalty": request.presence_penalty,
        "frequencyPenalty": request.frequency_penalty,
    }
    penalties = {name: value for name, value in penalties.items() if value}  # 0: the default
    if penalties and not model.startswith(_PENALTY_MODELS):
        warn(f"{model} does not accept {sorted(penalties)}; dropped")
        penalties = {}
    config.update(penalties)
    if request.stop:
        if len(request.stop) > _MAX_STOP:
            warn(f"stop sequences after the first {_MAX_STOP} dropped")
        config["stopSequences"] = list(request.stop[:_MAX_STOP])
    extra = dict(request.extra)
    config.update(extra.pop("generationConfig", None) or {})
    if config:
        body["generationConfig"] = config
    if request.tools:
        declarations = [
            {
                "name": tool.name,
                "description": tool.description,
                "parametersJsonSchema": dict(tool.parameters),
            }
            for tool in request.tools
        ]
        body["tools"] = [{"functionDeclarations": declarations}]
    body.update(extra)  # safetySettings, toolConfig, cachedContent...
    return body


def error_of(status: int, raw: str, retry_after: str | None) -> ProviderError:
    """A failed response (its status, body and ``retry-after``) as a ``ProviderError``."""
    parsed = _loads(raw)
    if isinstance(parsed, list) and parsed:  # the non-SSE form wraps it in an array
        parsed = parsed[0]
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if not isinstance(error, dict):
        return error_for_status(PROVIDER, status, raw, retry_after)
    if isinstance(code := error.get("code"), int):
        status = code
    message = f"{error.get('status', '')}: {error.get('message', '')}"
    details = [detail for detail in error.get("details") or () if isinstance(detail, dict)]
    if any(detail.get("reason") in _AUTH_REASONS for detail in details):
        return ProviderAuthError(PROVIDER, message)
    for detail in details:
        if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            retry_after = retry_after or str(detail.get("retryDelay", "")).removesuffix("s")
    return error_for_status(PROVIDER, status, message, retry_after)


async def sse_objects(lines: AsyncIterator[str]) -> AsyncIterator[dict[str, Any]]:
    """The JSON objects of a server-sent event stream, from its lines."""
    data: list[str] = []
    async for line in lines:
        if line.startswith("data:"):
            data.append(line.removeprefix("data:").removeprefix(" "))
        elif not line and data:
            yield _json_object("\n".join(data))
            data.clear()
    if data:
        yield _json_object("\n".join(data))


def usage_of(chunk: Mapping[str, Any]) -> Usage | None:
    """A response's ``usageMetadata`` as ``Usage`` (None when it has none)."""
    if metadata := chunk.get("usageMetadata"):
        return Usage(
            metadata.get("promptTokenCount", 0),
            metadata.get("candidatesTokenCount", 0) + metadata.get("thoughtsTokenCount", 0),
        )
    return None


def candidate_parts(chunk: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    """The parts of a response's first candidate; a response without candidates that
    says the prompt was blocked raises ``ProviderRequestError``."""
    candidates = chunk.get("candidates") or []
    if not candidates:
        if reason := (chunk.get("promptFeedback") or {}).get("blockReason"):
            raise ProviderRequestError(PROVIDER, f"prompt blocked: {reason}")
        return []
    parts: Iterable[Mapping[str, Any]] = (candidates[0].get("content") or {}).get("parts", [])
    return parts


def part_event(part: Mapping[str, Any]) -> TextDelta | ToolCall | None:
    """A candidate's part as text or a whole tool call (None for a thought summary or
    anything else)."""
    if part.get("thought"):  # a thought summary, not something to say
        return None
    if text := part.get("text"):
        return TextDelta(text)
    if call := part.get("functionCall"):
        call_id = call.get("id") or f"{_LOCAL_ID}{uuid.uuid4().hex[:16]}"
        return ToolCall(call_id, call.get("name", ""), json.dumps(call.get("args") or {}))
    return None


def _json_object(text: str) -> dict[str, Any]:
    if not isinstance(event := _loads(text), dict):
        raise ProviderUnavailable(PROVIDER, f"malformed event: {text[:200]!r}")
    return event


def _loads(text: str) -> Any:
    """Parsed JSON, or None when ``text`` is not JSON."""
    try:
        return json.loads(text)
    except ValueError:
        return None


def _contents(
    messages: Sequence[ChatMessage], signatures: Mapping[str, str]
) -> tuple[str, list[dict[str, Any]]]:
    """(system instruction, contents) as generateContent wants them."""
    system: list[str] = []
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}  # tool call id → function name, for the responses
    for message in messages:
        if message.role == "system":
            if message.content:
                system.append(message.content)
            continue
        parts: list[dict[str, Any]] = []
        if message.role == "tool":
            call_id = message.tool_call_id or ""
            response = {"name": names.get(call_id, ""), "response": _result(message.content)}
            if call_id and not call_id.startswith(_LOCAL_ID):
                response["id"] = call_id
            parts.append({"functionResponse": response})
        else:
            if message.content:
                parts.append({"text": message.content})
            for call in message.tool_calls:
                names[call.id] = call.name
                parts.append(_function_call(call, signatures.get(call.id)))
        if not parts:
            continue
        role = "model" if message.role == "assistant" else "user"
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    if not contents or contents[0]["role"] != "user":
        contents.insert(0, {"role": "user", "parts": [{"text": _OPENING_TURN}]})
    return "\n\n".join(system), contents


def _function_call(call: ToolCall, signature: str | None) -> dict[str, Any]:
    args = _loads(call.arguments or "{}")
    function_call: dict[str, Any] = {
        "name": call.name,
        "args": args if isinstance(args, dict) else {},
    }
    if not call.id.startswith(_LOCAL_ID):
        function_call["id"] = call.id
    part: dict[str, Any] = {"functionCall": function_call}
    if signature:
        part["thoughtSignature"] = signature
    return part


def _result(content: str | None) -> dict[str, Any]:
    """A tool result as the JSON object ``functionResponse.response`` must be."""
    value = _loads(content or "")
    if value is None:  # plain text
        value = content or ""
    return value if isinstance(value, dict) else {"output": value}
