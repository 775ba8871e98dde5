"""``llm_settings`` (and ``llm_provider_config``) from the assistant resource to each
vendor's request: the call's provider factory builds the LLM the document names, at its
endpoint (the vendor's local fake), and the engine's reply asks it with the options the
call builds from the same document. A setting a vendor drops is named, not only logged:
by ``POST /validate`` (the LLM check's ``unsupported``) and in the call record's
provider notes."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest

from callwright.clock import VirtualClock
from callwright.engine.config import CallConfig
from callwright.engine.events import TurnTiming
from callwright.engine.replies import ToolHooks, llm_reply
from callwright.providers.llm.settings_support import unsupported_llm_settings
from callwright.providers.protocols import ChatMessage
from callwright.runtime.providers_cloud import CloudProviders
from callwright.runtime.registry import build_providers
from callwright.security.outbound import OutboundPolicy
from callwright.settings import Settings
from tests.conftest import Tenant
from tests.fields.support import StubOffline, document
from tests.support.optional import require
from tests.vendor_fakes import Reply, serve
from tests.vendor_fakes.anthropic_messages import FakeAnthropic
from tests.vendor_fakes.gemini import FakeGemini
from tests.vendor_fakes.openai_chat import FakeOpenAI

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
        llm_provider_config={"api_key": KEY, "model": "claude-sonnet-4-6"},
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
            "llm_provider_config": {"api_key": KEY, "model": "claude-sonnet-4-6"},
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


# -- the request each vendor receives, from the assistant document ---------------------

_SETTINGS = {
    "system_prompt": "Be brief.",
    "temperature": 0.9,
    "max_tokens": 77,
    "top_p": 0.8,
    "frequency_penalty": 0.3,
    "presence_penalty": -0.2,
    "stop_sequences": ["END"],
}
# vendor -> (its fake, the path its base_url ends with, model, custom_config)
_VENDORS: dict[str, tuple[Any, str, str, dict[str, Any]]] = {
    "openai": (FakeOpenAI, "/v1", "gpt-4.1-mini", {"seed": 7}),
    "anthropic": (FakeAnthropic, "", "claude-sonnet-4-6", {"metadata": {"user_id": "u-7"}}),
    "gemini": (FakeGemini, "", "gemini-2.0-flash", {"generationConfig": {"seed": 7}}),
}


async def _request_body(vendor: str) -> Any:
    """The body the vendor receives for one turn of a call of an assistant whose
    ``llm_settings`` and ``llm_provider_config`` are set (its own key and endpoint)."""
    make, path, model, custom_config = _VENDORS[vendor]
    fake = make(KEY)
    fake.script(Reply(("Hello.",)))
    async with serve(fake) as url:
        settings = document(
            llm_provider=vendor,
            llm_provider_config={
                "api_key": KEY,
                "base_url": f"{url}{path}",
                "model": model,
                "custom_config": custom_config,
            },
            llm_settings=_SETTINGS,
        )
        cloud = CloudProviders(OutboundPolicy(allowed_hosts="127.0.0.1"))
        try:
            providers, _ = build_providers(settings, StubOffline(), cloud=cloud, server=Settings())
            answer = [
                sentence
                async for sentence in llm_reply(
                    CallConfig.from_settings(settings),
                    providers.llms,
                    [ChatMessage("system", "Be brief."), ChatMessage("user", "Hi")],
                    VirtualClock(),
                    TurnTiming(1),
                    ToolHooks(),
                    first_token_timeout_s=5.0,
                    filler_after_s=60.0,
                    filler_counter=itertools.count(),
                )
            ]
        finally:
            await cloud.aclose()
    assert answer == ["Hello."]
    (request,) = fake.received
    return request.body


async def test_llm_settings_reach_openais_request() -> None:
    body = await _request_body("openai")
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    sent = {key: body.get(key) for key in ("model", "temperature", "max_tokens", "top_p")}
    assert sent == {"model": "gpt-4.1-mini", "temperature": 0.9, "max_tokens": 77, "top_p": 0.8}
    assert (body["frequency_penalty"], body["presence_penalty"]) == (0.3, -0.2)
    assert (body["stop"], body["seed"]) == (["END"], 7)


async def test_llm_settings_reach_anthropics_request() -> None:
    body = await _request_body("anthropic")
    assert (body["model"], body["system"], body["max_tokens"]) == (
        "claude-sonnet-4-6",
        "Be brief.",
        77,
    )
    assert body["stop_sequences"] == ["END"]
    assert body["metadata"] == {"user_id": "u-7"}
    # Dropped, and named (test_llm_settings_a_vendor_drops_are_named).
    assert not {"temperature", "top_p", "frequency_penalty", "presence_penalty"} & set(body)


async def test_llm_settings_reach_geminis_request() -> None:
    body = await _request_body("gemini")
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert body["generationConfig"] == {
        "temperature": 0.9,
        "topP": 0.8,
        "maxOutputTokens": 77,
        "presencePenalty": -0.2,
        "frequencyPenalty": 0.3,
        "stopSequences": ["END"],
        "seed": 7,
    }
