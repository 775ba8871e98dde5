"""Custom tools as a call runs them: the signed ``tool-calls`` webhook, against a real
HTTP server on 127.0.0.1 and a mock transport."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from callwright.domain.tools.schemas import parse_custom_tools
from callwright.engine.tools import ToolExecutor, WebhookTool
from callwright.providers.protocols import ToolCall
from callwright.security.outbound import OutboundPolicy
from callwright.security.signing import verify_signature
from tests.unit.test_tool_schemas import tool_entry

ORG_SECRET = "org-signing-secret"
# The stub tool server listens on loopback, allowed as an operator allows an inside host.
LOOPBACK = OutboundPolicy(allowed_hosts="127.0.0.1")
CALL = {
    "id": "call_123",
    "orgId": "org_1",
    "assistantId": "asst_1",
    "type": "inboundPhoneCall",
    "customer": {"number": "+15551234567"},
}


def webhook_tools(entries: list[Any]) -> list[WebhookTool]:
    """Tools as a call runs them, from ``custom_tools`` entries."""
    return [tool.for_call() for tool in parse_custom_tools(entries)]


def with_timeout(tool: WebhookTool, seconds: float) -> WebhookTool:
    """Below the configurable 1 s minimum, so timeout tests take milliseconds."""
    return dataclasses.replace(
        tool, server=dataclasses.replace(tool.server, timeout_seconds=seconds)
    )


# -- a real tool server on 127.0.0.1 ---------------------------------------------------


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def message(self) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(self.body)["message"]
        return message


@dataclass
class ToolServerStub:
    url: str = ""
    requests: list[Received] = field(default_factory=list)

    def reply(self, message: dict[str, Any]) -> Response:
        """Vapi's answer shape, in reverse order, so mapping must go by toolCallId."""
        results = [
            {"toolCallId": call["id"], "result": f"{call['function']['arguments']['city']}: 21 C"}
            for call in reversed(message["toolCallList"])
        ]
        return JSONResponse({"results": results})

    async def endpoint(self, request: Request) -> Response:
        received = Received(dict(request.headers), await request.body())
        self.requests.append(received)
        return self.reply(received.message)


@pytest.fixture
async def tool_server() -> AsyncIterator[ToolServerStub]:
    stub = ToolServerStub()
    app = Starlette(routes=[Route("/hook", stub.endpoint, methods=["POST"])])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    stub.url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    config = uvicorn.Config(app, lifespan="off", ws="none", http="h11", log_level="warning")
    server = uvicorn.Server(config)
    sock.listen()  # connections wait in the backlog until uvicorn accepts them
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    yield stub
    server.should_exit = True
    await serving
    sock.close()


async def test_request_has_the_vapi_tool_calls_shape(tool_server: ToolServerStub) -> None:
    [tool] = webhook_tools([tool_entry(url=tool_server.url, secret="vapi-style")])
    async with ToolExecutor(
        [tool], signing_secret=ORG_SECRET, call=CALL, outbound=LOOPBACK
    ) as executor:
        [result] = await executor.execute([ToolCall("call_a", "get_weather", '{"city": "Paris"}')])

    assert result.error is None
    assert result.result == "Paris: 21 C"
    [request] = tool_server.requests
    message = request.message
    assert message["type"] == "tool-calls"
    assert message["call"] == CALL
    assert isinstance(message["timestamp"], int)
    expected_call = {
        "id": "call_a",
        "type": "function",
        "function": {"name": "get_weather", "arguments": {"city": "Paris"}},
    }
    assert message["toolCallList"] == [expected_call]
    [with_call] = message["toolWithToolCallList"]
    assert with_call["toolCall"] == expected_call
    assert with_call["type"] == "function"
    assert with_call["function"]["name"] == "get_weather"
    assert with_call["function"]["parameters"]["properties"] == {"city": {"type": "string"}}
    assert with_call["messages"] == [{"type": "request-start", "content": "One moment."}]
    assert with_call["server"]["url"] == tool_server.url
    assert "secret" not in with_call["server"]
    assert request.headers["content-type"] == "application/json"


async def test_signature_secret_and_custom_headers_are_sent(tool_server: ToolServerStub) -> None:
    entry = tool_entry(url=tool_server.url, secret="vapi-style", headers={"X-Api-Key": "k-1"})
    async with ToolExecutor(
        webhook_tools([entry]), signing_secret=ORG_SECRET, call=CALL, outbound=LOOPBACK
    ) as ex:
        await ex.execute([ToolCall("call_a", "get_weather", '{"city": "Oslo"}')])

    [request] = tool_server.requests
    timestamp = request.headers["x-callwright-timestamp"]
    signature = request.headers["x-callwright-signature"]
    assert signature.startswith("v1=")
    assert verify_signature(ORG_SECRET, timestamp, request.body, signature)
    assert not verify_signature("another-org", timestamp, request.body, signature)
    assert request.headers["x-vapi-secret"] == "vapi-style"
    assert request.headers["x-api-key"] == "k-1"
    assert "k-1" not in request.body.decode()
    assert "vapi-style" not in request.body.decode()


async def test_no_vapi_secret_header_unless_configured(tool_server: ToolServerStub) -> None:
    tools = webhook_tools([tool_entry(url=tool_server.url)])
    async with ToolExecutor(
        tools, signing_secret=ORG_SECRET, call=CALL, outbound=LOOPBACK
    ) as executor:
        await executor.execute([ToolCall("call_a", "get_weather", '{"city": "Rome"}')])
    assert "x-vapi-secret" not in tool_server.requests[0].headers


async def test_calls_to_one_server_share_a_request_and_map_back_by_id(
    tool_server: ToolServerStub,
) -> None:
    tools = webhook_tools(
        [tool_entry("get_weather", tool_server.url), tool_entry("get_forecast", tool_server.url)]
    )
    calls = [
        ToolCall("call_a", "get_weather", '{"city": "Paris"}'),
        ToolCall("call_b", "get_forecast", '{"city": "Lima"}'),
    ]
    async with ToolExecutor(
        tools, signing_secret=ORG_SECRET, call=CALL, outbound=LOOPBACK
    ) as executor:
        results = await executor.execute(calls)

    [request] = tool_server.requests
    assert [c["id"] for c in request.message["toolCallList"]] == ["call_a", "call_b"]
    assert [c["toolCall"]["id"] for c in request.message["toolWithToolCallList"]] == [
        "call_a",
        "call_b",
    ]
    assert [(r.tool_call_id, r.name, r.result) for r in results] == [
        ("call_a", "get_weather", "Paris: 21 C"),
        ("call_b", "get_forecast", "Lima: 21 C"),
    ]
    assert results[0].to_message().tool_call_id == "call_a"


async def test_unreachable_server_is_an_error_result() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    sock.close()  # nothing listens there now
    tools = webhook_tools([tool_entry(url=url)])
    async with ToolExecutor(
        tools, signing_secret=ORG_SECRET, call=CALL, outbound=LOOPBACK
    ) as executor:
        [result] = await executor.execute([ToolCall("call_a", "get_weather", "{}")])
    assert result.error is not None
    assert result.error.startswith("could not reach the tool server")
    assert result.result == f"The tool failed: {result.error}"


# -- failure modes, on a mock transport ------------------------------------------------

Handler = Callable[[httpx.Request], Coroutine[Any, Any, httpx.Response]]


def executor_for(handler: Handler, *tools: WebhookTool, **options: Any) -> ToolExecutor:
    tools = tools or tuple(webhook_tools([tool_entry()]))
    transport = httpx.MockTransport(handler)
    return ToolExecutor(tools, signing_secret=ORG_SECRET, call=CALL, transport=transport, **options)


async def run_one(handler: Handler, *tools: WebhookTool, **options: Any) -> tuple[str, str | None]:
    async with executor_for(handler, *tools, **options) as executor:
        [result] = await executor.execute([ToolCall("call_a", "get_weather", '{"city": "Paris"}')])
    return result.result, result.error


def replying(status: int = 200, **reply: Any) -> Handler:
    async def handler(request: httpx.Request) -> httpx.Response:
        if "content" in reply:
            return httpx.Response(status, content=reply["content"])
        return httpx.Response(status, json=reply.get("json"))

    return handler


async def test_slow_server_times_out() -> None:
    never = asyncio.Event()

    async def hang(request: httpx.Request) -> httpx.Response:
        await never.wait()
        raise AssertionError("unreachable")

    [tool] = webhook_tools([tool_entry()])
    async with executor_for(hang, with_timeout(tool, 0.05)) as executor:
        [result] = await executor.execute([ToolCall("call_a", "get_weather", "{}")])
    assert result.error == "timed out after 0.05 s"
    assert result.result == "The tool failed: timed out after 0.05 s"
    assert 0.04 < result.duration_s < 1


async def test_server_error_is_an_error_result() -> None:
    result, error = await run_one(replying(500, json={"results": []}))
    assert error == "the tool server answered HTTP 500"
    assert result == "The tool failed: the tool server answered HTTP 500"


async def test_redirects_are_not_followed() -> None:
    async def redirect(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "http://169.254.169.254/"})

    _, error = await run_one(redirect)
    assert error == "the tool server answered HTTP 302"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"<html>oops</html>", "the reply was not valid JSON"),
        (b"[1, 2]", "the reply was not a JSON object"),
        (b'{"results": "Paris"}', 'the reply had no "results" list'),
        (
            b'{"results": [{"toolCallId": "other", "result": "x"}]}',
            "the reply had no result for this call",
        ),
    ],
)
async def test_malformed_replies_are_error_results(content: bytes, expected: str) -> None:
    assert await run_one(replying(content=content)) == (f"The tool failed: {expected}", expected)


async def test_error_for_the_call_or_the_request_reaches_the_model() -> None:
    per_call = {"results": [{"toolCallId": "call_a", "error": "city unknown"}]}
    assert await run_one(replying(json=per_call)) == (
        "The tool failed: city unknown",
        "city unknown",
    )
    whole = {"error": "maintenance"}
    assert await run_one(replying(json=whole)) == ("The tool failed: maintenance", "maintenance")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"temp": 21, "unit": "C"}, '{"temp": 21, "unit": "C"}'),
        ([1, "two"], '[1, "two"]'),
        (21.5, "21.5"),
        (True, "true"),
        ("Paris: 21 C", "Paris: 21 C"),
    ],
)
async def test_results_that_are_not_strings_are_json_encoded(value: Any, expected: str) -> None:
    reply = {"results": [{"toolCallId": "call_a", "result": value}]}
    assert await run_one(replying(json=reply)) == (expected, None)


async def test_oversized_reply_is_refused() -> None:
    big = {"results": [{"toolCallId": "call_a", "result": "x" * 70_000}]}
    result, error = await run_one(replying(json=big))
    assert error == "the reply was larger than 64 KB"
    assert "xxxx" not in result
    small_limit = {"results": [{"toolCallId": "call_a", "result": "x" * 2000}]}
    _, error = await run_one(replying(json=small_limit), max_response_bytes=1024)
    assert error == "the reply was larger than 1 KB"


async def test_different_servers_are_called_concurrently() -> None:
    # Each server answers only once both requests have arrived: run one after the
    # other, the first would time out.
    both_arrived = asyncio.Barrier(2)
    urls: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        urls.append(str(request.url))
        await both_arrived.wait()
        call_id = json.loads(request.content)["message"]["toolCallList"][0]["id"]
        return httpx.Response(200, json={"results": [{"toolCallId": call_id, "result": "ok"}]})

    first, second = webhook_tools(
        [
            tool_entry("first", "https://a.example/hook"),
            tool_entry("second", "https://b.example/hook"),
        ]
    )
    async with executor_for(handler, with_timeout(first, 0.5), with_timeout(second, 0.5)) as ex:
        results = await ex.execute([ToolCall("c1", "first", "{}"), ToolCall("c2", "second", "{}")])
    assert [(r.result, r.error) for r in results] == [("ok", None), ("ok", None)]
    assert sorted(urls) == ["https://a.example/hook", "https://b.example/hook"]


async def test_unknown_tool_and_bad_arguments_never_reach_the_server() -> None:
    requests: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json={"results": []})

    async with executor_for(handler) as executor:
        results = await executor.execute(
            [
                ToolCall("c1", "end_call", "{}"),
                ToolCall("c2", "get_weather", '{"city": '),
                ToolCall("c3", "get_weather", '["Paris"]'),
            ]
        )
    assert [r.error for r in results] == [
        "there is no tool named 'end_call'",
        "the arguments were not a JSON object",
        "the arguments were not a JSON object",
    ]
    assert requests == []


async def test_blank_arguments_are_an_empty_object() -> None:
    seen: list[Any] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content)["message"]["toolCallList"][0]["function"])
        return httpx.Response(200, json={"results": [{"toolCallId": "c1", "result": "ok"}]})

    async with executor_for(handler) as executor:
        await executor.execute([ToolCall("c1", "get_weather", "")])
    assert seen == [{"name": "get_weather", "arguments": {}}]


async def test_request_is_signed_at_the_wall_clock_time() -> None:
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"results": [{"toolCallId": "c1", "result": "ok"}]})

    async with executor_for(handler, wall_clock=lambda: 1_700_000_000.25) as executor:
        await executor.execute([ToolCall("c1", "get_weather", "{}")])
    [request] = seen
    assert request.headers["X-Callwright-Timestamp"] == "1700000000"
    assert json.loads(request.content)["message"]["timestamp"] == 1_700_000_000_250
    digest = hmac.new(ORG_SECRET.encode(), b"1700000000." + request.content, hashlib.sha256)
    assert request.headers["X-Callwright-Signature"] == f"v1={digest.hexdigest()}"


def test_executor_requires_a_signing_secret() -> None:
    with pytest.raises(ValueError, match="signing_secret"):
        ToolExecutor([], signing_secret="", call=CALL)


@pytest.mark.parametrize("policy", [OutboundPolicy(), OutboundPolicy(allow_http=True)])
async def test_a_tool_server_on_the_inside_is_never_called(
    tool_server: ToolServerStub, policy: OutboundPolicy
) -> None:
    # Issue 13, finding 2: a tool on http://127.0.0.1 (or a private address over https)
    # was called with the organization's signature and the tool's secret headers.
    tools = webhook_tools([tool_entry(url=tool_server.url, secret="vapi-style")])
    async with ToolExecutor(tools, signing_secret=ORG_SECRET, call=CALL, outbound=policy) as run:
        [result] = await run.execute([ToolCall("call_a", "get_weather", '{"city": "Oslo"}')])
    assert result.error is not None
    assert tool_server.requests == []
