"""``llm_settings`` a vendor drops are named, not only logged: by ``POST /validate``
(the LLM check's ``unsupported``) and in the call record's provider notes (the call's
provider factory). That each setting reaches the request is
tests/engine/test_conversation.py::test_llm_settings_are_sent_on_every_turn (the
engine) and tests/providers/llm/ (each vendor's wire format)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from callwright.providers.llm.settings_support import unsupported_llm_settings
from callwright.runtime.providers_cloud import CloudProviders
from callwright.runtime.registry import build_providers
from callwright.settings import Settings
from tests.conftest import Tenant
from tests.fields.support import StubOffline, document
from tests.support.optional import require

require("onnxruntime", "the call's provider factory builds Silero VAD (offline extra)")

KEY = "sk-ant-0123456789abcdef"


@pytest.mark.parametrize(
    ("vendor", "model", "base_url", "fields", "named"),
    [
        (
            "anthropic",
            None,
            None,
            {"llm_settings": {"temperature": 0.9, "presence_penalty": 0.5}},
            ["llm_settings.temperature", "llm_settings.presence_penalty"],
        ),
        ("anthropic", None, None, {}, []),  # defaults ask for nothing
        ("openai", "gpt-4o", None, {"llm_settings": {"temperature": 0.9}}, []),
        (
            "openai",
            "o3-mini",
            None,
            {"llm_settings": {"top_p": 0.5, "stop_sequences": ["END"]}},
            ["llm_settings.top_p", "llm_settings.stop_sequences"],
        ),
        # The same model name on a compatible server: that server's own rules.
        ("openai", "o3-mini", "https://llm.example.com/v1", {"llm_settings": {"top_p": 0.5}}, []),
        (
            "openai",
            "gpt-4o",
            None,
            {"llm_settings": {"stop_sequences": ["a", "b", "c", "d", "e"]}},
            ["llm_settings.stop_sequences after the first 4"],
        ),
        (
            "gemini",
            "gemini-2.5-flash",
            None,
            {"llm_settings": {"frequency_penalty": 0.4}},
            ["llm_settings.frequency_penalty"],
        ),
        ("gemini", "gemini-2.0-flash", None, {"llm_settings": {"frequency_penalty": 0.4}}, []),
        (
            "local",
            None,
            None,
            {"tools_settings": {"end_call": {"enabled": True}}},
            ["tools_settings (the offline model calls no tools)"],
        ),
        ("local", None, None, {}, []),
    ],
)
def test_llm_settings_a_vendor_drops_are_named(
    vendor: str, model: str | None, base_url: str | None, fields: dict[str, Any], named: list[str]
) -> None:
    assert unsupported_llm_settings(vendor, model, base_url, document(**fields)) == named


async def test_llm_settings_temperature_on_anthropic_is_noted_in_the_call_record() -> None:
    settings = document(
        llm_provider="anthropic",
        llm_provider_config={"api_key": KEY, "model": "claude-sonnet-4-5"},
        llm_settings={"temperature": 0.9},
    )
    cloud = CloudProviders()
    try:
        _, choices = build_providers(settings, StubOffline(), cloud=cloud, server=Settings())
    finally:
        await cloud.aclose()
    (llm,) = [choice for choice in choices if choice.kind == "llm"]
    assert llm.chosen == "anthropic"
    assert llm.reason.endswith("; not supported by anthropic, no effect: llm_settings.temperature")


async def test_llm_settings_temperature_on_anthropic_is_named_by_validate(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await client.post(
        "/api/v1/assistants",
        json={
            "name": "Fields",
            "llm_provider": "anthropic",
            "llm_provider_config": {"api_key": KEY, "model": "claude-sonnet-4-5"},
            "llm_settings": {"temperature": 0.9},
        },
        headers=tenant.headers,
    )
    assert created.status_code == 201, created.text
    response = await client.post(
        f"/api/v1/assistants/{created.json()['id']}/validate", headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    (llm,) = [check for check in response.json()["providers"] if check["kind"] == "llm"]
    assert llm["ok"] is True  # a note, not a failure
    assert llm["unsupported"] == ["llm_settings.temperature"]
    assert "not supported by anthropic, no effect: llm_settings.temperature" in llm["message"]
