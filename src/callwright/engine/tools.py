"""Custom function tools, run as signed webhooks. One model turn's calls to one server
go in one request::

    POST <server.url>
    X-Callwright-Timestamp: <unix seconds>
    X-Callwright-Signature: v1=<hex HMAC-SHA256(org secret, "<timestamp>.<raw body>")>
    X-Vapi-Secret: <server.secret>  (when set)    + the tool's server.headers

    {"message": {"type": "tool-calls", "timestamp": <unix ms>, "call": {...},
      "toolCallList": [{"id", "type": "function", "function": {"name", "arguments": {}}}],
      "toolWithToolCallList": [{<the tool, minus server secret/headers>, "toolCall": {}}]}}

The server answers ``{"results": [{"toolCallId", "result" | "error"}]}`` (a non-string
``result`` is JSON-encoded for the model) or ``{"error": "..."}`` for the whole request.
Receivers check the signature with ``security.signing.verify_signature``.

The engine runs ``WebhookTool``s; the stored and inline tool schema they are built from
(Vapi's function-tool object, ``CustomTool.for_call``) is the domain's
(``domain.tools.schemas``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from callwright.providers.protocols import ChatMessage, ToolCall, ToolSpec
from callwright.security.outbound import STRICT, OutboundPolicy, OutboundRefused
from callwright.security.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

__all__ = [
    "BUILTIN_TOOL_NAMES",
    "VAPI_SECRET_HEADER",
    "ToolEndpoint",
    "ToolExecutor",
    "ToolResult",
    "WebhookTool",
]

logger = logging.getLogger(__name__)

BUILTIN_TOOL_NAMES = frozenset({"end_call", "transfer_call"})
VAPI_SECRET_HEADER = "X-Vapi-Secret"  # noqa: S105 (a header name)
MAX_RESPONSE_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class ToolEndpoint:
    """Where a tool's calls are POSTed (Vapi's ``server``): its URL, the secret sent as
    ``X-Vapi-Secret``, how long to wait for the reply, and extra request headers."""

    url: str
    secret: str | None
    timeout_seconds: float
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class WebhookTool:
    """A custom tool as the engine runs it: what the model sees (``spec``), where its
    calls go (``server``), and the tool as its server is shown it in
    ``toolWithToolCallList`` (``public_config``: without the server's secret and
    headers)."""

    spec: ToolSpec
    server: ToolEndpoint
    public_config: Mapping[str, Any]

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True, slots=True)
class ToolResult:
    """One tool call's outcome. ``result`` is what the model reads; when the tool failed,
    ``error`` says why and ``result`` is ``"The tool failed: <error>"``."""

    tool_call_id: str
    name: str
    result: str
    error: str | None
    duration_s: float

    def to_message(self) -> ChatMessage:
        return ChatMessage(role="tool", content=self.result, tool_call_id=self.tool_call_id)


class _Failed(Exception):
    """A whole request failed; the message is for the model ("timed out after 20 s")."""


# (position in the turn, the call, its tool, its parsed arguments)
_Pending = tuple[int, ToolCall, WebhookTool, dict[str, Any]]


class ToolExecutor:
    """Runs one phone call's custom tool calls. Calls of one turn that share a server
    (URL, secret and headers) go in one request, as Vapi's ``toolCallList`` does; other
    servers are called concurrently. A tool's failure never raises: its ``ToolResult``
    has ``error`` set. Owns one HTTP client, released by ``aclose()`` / ``async with``.

    ``call`` is the ``message.call`` object the tool servers receive (``id``, ``orgId``,
    ``assistantId``, ``type``, ``customer``...); ``signing_secret`` is the organization's.
    Every request is checked by ``outbound``, the operator's outbound-URL policy: its
    URL before it is sent, the address it resolves to when it connects (``transport``
    replaces the connection, for tests that serve no sockets)."""

    def __init__(
        self,
        tools: Sequence[WebhookTool],
        *,
        signing_secret: str | bytes,
        call: Mapping[str, Any],
        assistant: Mapping[str, Any] | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        transport: httpx.AsyncBaseTransport | None = None,
        wall_clock: Callable[[], float] = time.time,
        outbound: OutboundPolicy = STRICT,
    ) -> None:
        if not signing_secret:
            raise ValueError("signing_secret must not be empty")
        self._tools = {tool.name: tool for tool in tools}
        self._public = {tool.name: dict(tool.public_config) for tool in tools}
        self._secret = signing_secret
        # Round-tripped now, so a value JSON cannot carry fails here rather than mid-call.
        context = {"call": dict(call)} | ({"assistant": dict(assistant)} if assistant else {})
        self._context: dict[str, Any] = json.loads(json.dumps(context))
        self._max_bytes = max_response_bytes
        self._wall_clock = wall_clock
        self._outbound = outbound
        self._client = httpx.AsyncClient(
            transport=transport or outbound.http_transport(),
            follow_redirects=False,
            headers={"User-Agent": "callwright", "Accept-Encoding": "identity"},
        )

    def specs(self) -> tuple[ToolSpec, ...]:
        return tuple(tool.spec for tool in self._tools.values())

    async def execute(self, tool_calls: Sequence[ToolCall]) -> list[ToolResult]:
        """One result per call, in the order given."""
        results: dict[int, ToolResult] = {}
        batches: dict[tuple[Any, ...], list[_Pending]] = {}
        for index, call in enumerate(tool_calls):
            tool, arguments = self._tools.get(call.name), _arguments(call.arguments)
            if tool is None:
                results[index] = self._failed(call, f"there is no tool named {call.name!r}", 0)
            elif arguments is None:
                results[index] = self._failed(call, "the arguments were not a JSON object", 0)
            else:
                server = tool.server
                key = (server.url, server.secret, tuple(sorted(server.headers.items())))
                batches.setdefault(key, []).append((index, call, tool, arguments))
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(self._post(batch)) for batch in batches.values()]
        for task in tasks:
            results.update(task.result())
        return [results[index] for index in range(len(tool_calls))]

    async def _post(self, batch: list[_Pending]) -> dict[int, ToolResult]:
        server = batch[0][2].server
        timeout_s = max(tool.server.timeout_seconds for _, _, tool, _ in batch)
        sent_at = self._wall_clock()
        body = self._body(batch, sent_at)
        timestamp = str(int(sent_at))
        headers = {
            **server.headers,
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
        }
        if server.secret is not None:
            headers[VAPI_SECRET_HEADER] = server.secret
        started = time.monotonic()
        try:
            self._outbound.check_url(server.url)
            async with asyncio.timeout(timeout_s):
                reply = await self._send(server.url, body, headers, timeout_s)
            outcomes = _outcomes(reply, [call.id for _, call, _, _ in batch])
        except (TimeoutError, httpx.TimeoutException):
            outcomes = [(None, f"timed out after {timeout_s:g} s")] * len(batch)
        except OutboundRefused as exc:
            logger.warning("tool server %s refused by the outbound-URL policy: %s", server.url, exc)
            outcomes = [(None, "the tool server's URL is not allowed")] * len(batch)
        except httpx.HTTPError as exc:
            # A connection the outbound-URL policy refused says why here, not to the model.
            logger.warning("tool server %s: %s: %s", server.url, type(exc).__name__, exc)
            reason = f"could not reach the tool server ({type(exc).__name__})"
            outcomes = [(None, reason)] * len(batch)
        except _Failed as exc:
            outcomes = [(None, str(exc))] * len(batch)
        took = time.monotonic() - started
        return {
            index: ToolResult(call.id, call.name, result, None, took)
            if result is not None
            else self._failed(call, error or "unknown error", took)
            for (index, call, _, _), (result, error) in zip(batch, outcomes, strict=True)
        }

    async def _send(
        self, url: str, body: bytes, headers: dict[str, str], timeout_s: float
    ) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async with self._client.stream(
            "POST", url, content=body, headers=headers, timeout=timeout_s
        ) as response:
            if not response.is_success:
                raise _Failed(f"the tool server answered HTTP {response.status_code}")
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self._max_bytes:
                    raise _Failed(f"the reply was larger than {self._max_bytes // 1024} KB")
                chunks.append(chunk)
        return b"".join(chunks)

    def _body(self, batch: list[_Pending], sent_at: float) -> bytes:
        calls = [
            {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": args}}
            for _, call, _, args in batch
        ]
        message = {
            "type": "tool-calls",
            "timestamp": int(sent_at * 1000),
            **self._context,
            "toolCallList": calls,
            "toolWithToolCallList": [
                {**self._public[tool.name], "toolCall": tool_call}
                for (_, _, tool, _), tool_call in zip(batch, calls, strict=True)
            ],
        }
        return json.dumps({"message": message}, separators=(",", ":")).encode()

    def _failed(self, call: ToolCall, reason: str, took: float) -> ToolResult:
        call_id = self._context["call"].get("id")
        logger.warning(
            "tool %s failed (call %s, tool call %s): %s", call.name, call_id, call.id, reason
        )
        return ToolResult(call.id, call.name, f"The tool failed: {reason}", reason, took)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> ToolExecutor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _arguments(text: str) -> dict[str, Any] | None:
    """The model's argument text as an object; blank means no arguments."""
    try:
        value = json.loads(text) if text.strip() else {}
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _outcomes(reply: bytes, call_ids: list[str]) -> list[tuple[str | None, str | None]]:
    """``(result, error)`` for each call id, from the tool server's reply."""
    try:
        parsed = json.loads(reply)
    except (ValueError, RecursionError) as exc:
        raise _Failed("the reply was not valid JSON") from exc
    if not isinstance(parsed, dict):
        raise _Failed("the reply was not a JSON object")
    if parsed.get("results") is None and parsed.get("error") is not None:
        raise _Failed(_as_text(parsed["error"]))
    if not isinstance(entries := parsed.get("results"), list):
        raise _Failed('the reply had no "results" list')
    by_id = {e.get("toolCallId"): e for e in entries if isinstance(e, dict)}
    outcomes: list[tuple[str | None, str | None]] = []
    for call_id in call_ids:
        entry = by_id.get(call_id)
        if entry is None:
            outcomes.append((None, "the reply had no result for this call"))
        elif entry.get("error") is not None:
            outcomes.append((None, _as_text(entry["error"])))
        elif entry.get("result") is None:
            outcomes.append(("The tool returned no result.", None))
        else:
            outcomes.append((_as_text(entry["result"]), None))
    return outcomes


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
