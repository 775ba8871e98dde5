"""Google Gemini over its REST API (no SDK): ``POST {base}/v1beta/models/{model}:
streamGenerateContent?alt=sse`` with the key in ``x-goog-api-key``.

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
import logging
import uuid
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from typing import Any, Final

import httpx

from callwright.providers.catalog import Connection
from callwright.providers.common import (
    FIRST_BYTE_TIMEOUT_S,
    error_for_status,
    first_within,
    http_client,
    translate_http_error,
)
from callwright.providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRequestError,
    ProviderUnavailable,
)
from callwright.providers.llm.settings_support import (
    GEMINI_DEFAULT_MODEL,
    GEMINI_MAX_STOP,
    GEMINI_PENALTY_MODELS,
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

__all__ = ["GeminiLLM", "create"]

_PROVIDER: Final = "gemini"
_BASE_URL: Final = "https://generativelanguage.googleapis.com"
_DEFAULT_MODEL: Final = GEMINI_DEFAULT_MODEL
_MAX_STOP: Final = GEMINI_MAX_STOP
_PENALTY_MODELS: Final = GEMINI_PENALTY_MODELS
_LOCAL_ID: Final = "cw-call-"  # ids made up here: Gemini never saw them
_MAX_SIGNATURES: Final = 256
_AUTH_REASONS: Final = frozenset({"API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED"})
_OPENING_TURN: Final = "(The caller has joined the call.)"

_logger = logging.getLogger(__name__)


class GeminiLLM:
    """A streaming Gemini model (see the module docstring for the mapping).

    ``base_url``: the API root (None is Google's). ``default_model``: used when the
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
        # Thought signatures of the function calls this adapter has seen, by call id.
        self._signatures: OrderedDict[str, str] = OrderedDict()
        self._client = http_client(
            base_url or _BASE_URL,
            {"x-goog-api-key": api_key},
            read_timeout_s=read_timeout_s,
            outbound=outbound,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    def stream(self, request: LLMRequest) -> AsyncGenerator[LLMEvent, None]:
        # Closing the returned generator closes _events too: the request is aborted.
        return first_within(self.name, self._events(request), self._first_byte_timeout_s)

    async def _events(self, request: LLMRequest) -> AsyncGenerator[LLMEvent, None]:
        model = (request.model or self._default_model).removeprefix("models/")
        body = self._body(request, model)
        url = f"/v1beta/models/{model}:streamGenerateContent"
        try:
            async with self._client.stream(
                "POST", url, params={"alt": "sse"}, json=body
            ) as response:
                if not response.is_success:
                    raw = (await response.aread()).decode("utf-8", "replace")
                    raise self._error(
                        response.status_code, raw, response.headers.get("retry-after")
                    )
                usage: Usage | None = None
                async for chunk in _events_of(response):
                    if "error" in chunk:  # a failure reported inside the stream
                        raise self._error(500, json.dumps(chunk), None)
                    if metadata := chunk.get("usageMetadata"):
                        usage = Usage(
                            metadata.get("promptTokenCount", 0),
                            metadata.get("candidatesTokenCount", 0)
                            + metadata.get("thoughtsTokenCount", 0),
                        )
                    candidates = chunk.get("candidates") or []
                    if not candidates:
                        if reason := (chunk.get("promptFeedback") or {}).get("blockReason"):
                            raise ProviderRequestError(self.name, f"prompt blocked: {reason}")
                        continue
                    for part in (candidates[0].get("content") or {}).get("parts", []):
                        if event := self._event(part):
                            yield event
                if usage is not None:
                    yield usage
        except httpx.HTTPError as exc:
            raise translate_http_error(self.name, exc) from exc

    def _event(self, part: Mapping[str, Any]) -> LLMEvent | None:
        if part.get("thought"):  # a thought summary, not something to say
            return None
        if text := part.get("text"):
            return TextDelta(text)
        if call := part.get("functionCall"):
            call_id = call.get("id") or f"{_LOCAL_ID}{uuid.uuid4().hex[:16]}"
            if signature := part.get("thoughtSignature"):
                self._signatures[call_id] = signature
                while len(self._signatures) > _MAX_SIGNATURES:
                    self._signatures.popitem(last=False)
            return ToolCall(call_id, call.get("name", ""), json.dumps(call.get("args") or {}))
        return None

    def _body(self, request: LLMRequest, model: str) -> dict[str, Any]:
        system, contents = _contents(request.messages, self._signatures)
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
            self._warn(f"{model} does not accept {sorted(penalties)}; dropped")
            penalties = {}
        config.update(penalties)
        if request.stop:
            if len(request.stop) > _MAX_STOP:
                self._warn(f"stop sequences after the first {_MAX_STOP} dropped")
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

    def _warn(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            _logger.warning("gemini: %s", message)

    def _error(self, status: int, raw: str, retry_after: str | None) -> ProviderError:
        parsed = _loads(raw)
        if isinstance(parsed, list) and parsed:  # the non-SSE form wraps it in an array
            parsed = parsed[0]
        error = parsed.get("error") if isinstance(parsed, dict) else None
        if not isinstance(error, dict):
            return error_for_status(self.name, status, raw, retry_after)
        if isinstance(code := error.get("code"), int):
            status = code
        message = f"{error.get('status', '')}: {error.get('message', '')}"
        details = [detail for detail in error.get("details") or () if isinstance(detail, dict)]
        if any(detail.get("reason") in _AUTH_REASONS for detail in details):
            return ProviderAuthError(self.name, message)
        for detail in details:
            if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
                retry_after = retry_after or str(detail.get("retryDelay", "")).removesuffix("s")
        return error_for_status(self.name, status, message, retry_after)


async def _events_of(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """The JSON objects of a server-sent event stream."""
    data: list[str] = []
    async for line in response.aiter_lines():
        if line.startswith("data:"):
            data.append(line.removeprefix("data:").removeprefix(" "))
        elif not line and data:
            yield _json_object("\n".join(data))
            data.clear()
    if data:
        yield _json_object("\n".join(data))


def _json_object(text: str) -> dict[str, Any]:
    if not isinstance(event := _loads(text), dict):
        raise ProviderUnavailable(_PROVIDER, f"malformed event: {text[:200]!r}")
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


def create(c: Connection) -> GeminiLLM:
    """The catalog's factory."""
    return GeminiLLM(c.api_key, base_url=c.base_url, outbound=c.outbound)
