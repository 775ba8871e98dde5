"""Custom tools as assistants and the Tool resource store them: ``custom_tools`` entries
in Vapi's function-tool shape, every bad field named, and the tool a call runs."""

from __future__ import annotations

from typing import Any

import pytest

from callwright.domain.tools.schemas import parse_custom_tools
from callwright.engine.tools import ToolEndpoint
from callwright.errors import ValidationFailed


def tool_entry(
    name: str = "get_weather", url: str = "https://tools.example/hook", **server: Any
) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{name} for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
        "server": {"url": url, **server},
        "messages": [{"type": "request-start", "content": "One moment."}],
    }


def parse_error_fields(entries: list[Any]) -> list[str]:
    with pytest.raises(ValidationFailed) as caught:
        parse_custom_tools(entries)
    return [detail["field"] for detail in caught.value.details]


def test_a_vapi_function_tool_parses_and_becomes_a_spec() -> None:
    entry = tool_entry(timeoutSeconds=5, secret="s", headers={"Authorization": "Bearer t"})
    entry |= {"async": True, "id": "tool_123", "orgId": "org_1", "rejectionPlan": {}}
    [tool] = parse_custom_tools([entry])
    assert tool.is_async is True
    assert tool.server.timeout_seconds == 5
    assert tool.model_extra == {"id": "tool_123", "orgId": "org_1", "rejectionPlan": {}}
    assert "Bearer t" not in repr(tool)
    webhook = tool.for_call()
    spec = webhook.spec
    assert (spec.name, spec.description) == ("get_weather", "get_weather for a city")
    assert spec.parameters == {"type": "object", "properties": {"city": {"type": "string"}}}
    assert webhook.server == ToolEndpoint(
        "https://tools.example/hook", "s", 5, {"Authorization": "Bearer t"}
    )
    # What the tool's server is shown: everything but the server's secret and headers.
    assert webhook.public_config["server"] == {
        "url": "https://tools.example/hook",
        "timeoutSeconds": 5,
    }
    assert webhook.public_config["rejectionPlan"] == {}


def test_defaults() -> None:
    [tool] = parse_custom_tools(
        [{"function": {"name": "ping"}, "server": {"url": "https://x.example"}}]
    )
    assert tool.server.timeout_seconds == 20
    assert tool.for_call().spec.parameters == {"type": "object", "properties": {}}
    assert (tool.type, tool.is_async, tool.server.secret, tool.server.headers) == (
        "function",
        False,
        None,
        {},
    )


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://tools.example/hook", True),
        # Which schemes and hosts may be called is the outbound-URL policy's decision.
        ("http://tools.example/hook", True),
        ("ftp://tools.example/hook", False),
        ("tools.example/hook", False),
        ("https://", False),
    ],
)
def test_server_url_must_be_an_absolute_http_url(url: str, ok: bool) -> None:
    if ok:
        assert parse_custom_tools([tool_entry(url=url)])[0].server.url == url
    else:
        assert parse_error_fields([tool_entry(url=url)]) == [
            "tools_settings.custom_tools[0].server.url"
        ]


@pytest.mark.parametrize("name", ["", "get weather", "x" * 65, "météo", "a.b"])
def test_function_name_follows_openai_rules(name: str) -> None:
    entry = tool_entry(name)
    assert parse_error_fields([entry]) == ["tools_settings.custom_tools[0].function.name"]


def test_missing_name_and_bad_entries_name_their_fields() -> None:
    missing_name = tool_entry()
    del missing_name["function"]["name"]
    fields = parse_error_fields(
        [
            tool_entry("fine"),
            missing_name,
            {"type": "function", "function": {"name": "x"}},
            "not an object",
            tool_entry("typed") | {"type": "endCall"},
        ]
    )
    assert fields == [
        "tools_settings.custom_tools[1].function.name",
        "tools_settings.custom_tools[2].server",
        "tools_settings.custom_tools[3]",
        "tools_settings.custom_tools[4].type",
    ]


@pytest.mark.parametrize("seconds", [0, 0.5, 121, 300])
def test_timeout_must_be_between_1_and_120_seconds(seconds: float) -> None:
    fields = parse_error_fields([tool_entry(timeoutSeconds=seconds)])
    assert fields == ["tools_settings.custom_tools[0].server.timeoutSeconds"]


def test_duplicate_and_builtin_names_are_rejected() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_custom_tools([tool_entry("lookup"), tool_entry("end_call"), tool_entry("lookup")])
    details = {d["field"]: d["message"] for d in caught.value.details}
    assert "built-in" in details["tools_settings.custom_tools[1].function.name"]
    assert "custom_tools[0]" in details["tools_settings.custom_tools[2].function.name"]
    assert parse_error_fields([tool_entry("transfer_call")]) == [
        "tools_settings.custom_tools[0].function.name"
    ]


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Callwright-Signature": "v1=forged"},
        {"x-vapi-secret": "use server.secret"},
        {"Content-Type": "text/plain"},
        {"Bad Header": "x"},
        {"X-Ok": "line\r\nInjected: yes"},
    ],
)
def test_configured_headers_cannot_forge_or_inject(headers: dict[str, str]) -> None:
    fields = parse_error_fields([tool_entry(headers=headers)])
    assert fields == ["tools_settings.custom_tools[0].server.headers"]


def test_parameters_must_be_an_object_schema() -> None:
    entry = tool_entry()
    entry["function"]["parameters"] = {"type": "array"}
    assert parse_error_fields([entry]) == ["tools_settings.custom_tools[0].function.parameters"]
