"""Issue 13, finding 2: every URL a user gives the server to call is checked by the
outbound-URL policy when it is saved (a 422 naming the field) and again when the server
connects (webhook deliveries, end_call_url). The server here allows nothing inside."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from callwright.engine.events import EndReason
from callwright.runtime.hooks import end_call_url_hook
from callwright.settings import Settings
from tests.conftest import Tenant

INSIDE = [
    "http://127.0.0.1:8000/hook",
    "https://127.0.0.1/hook",
    "https://localhost/hook",
    "https://[::1]/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://10.1.2.3/hook",
    "https://192.168.0.10/hook",
    "https://2130706433/hook",
    "https://[::ffff:10.0.0.1]/hook",
]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """An operator who allows nothing inside (the default), not even the test fakes."""
    return settings.model_copy(
        update={
            "outbound_allowed_hosts": "",
            "webhook_delivery_enabled": False,
            "webhook_retry_base_delay_seconds": 0.05,
            "webhook_retry_max_delay_seconds": 0.2,
            "webhook_poll_interval_seconds": 0.05,
        }
    )


def _tool(url: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": "lookup"}, "server": {"url": url}}


# field -> (path, body with the URL in it) for each place a URL is stored
_ASSISTANT_FIELDS: dict[str, Any] = {
    "webhook_url": lambda url: {"webhook_url": url},
    "end_call_url": lambda url: {"end_call_url": url},
    "llm_provider_config.base_url": lambda url: {
        "llm_provider_config": {"api_key": "sk-own-0123456789", "base_url": url}
    },
    "llm_fallback_providers.fallbacks[0].base_url": lambda url: {
        "llm_fallback_providers": {
            "enabled": True,
            "fallbacks": [{"provider": "custom", "base_url": url}],
        }
    },
    "tts_settings.provider_config.base_url": lambda url: {
        "tts_settings": {"provider": "cartesia", "provider_config": {"base_url": url}}
    },
    "tools_settings.custom_tools[0].server.url": lambda url: {
        "tools_settings": {"custom_tools": [_tool(url)]}
    },
}


@pytest.mark.parametrize("field", list(_ASSISTANT_FIELDS))
async def test_an_assistant_url_to_the_inside_is_refused_naming_the_field(
    client: httpx.AsyncClient, tenant: Tenant, field: str
) -> None:
    body = _ASSISTANT_FIELDS[field]
    for url in INSIDE:
        response = await client.post(
            "/api/v1/assistants", json={"name": "x", **body(url)}, headers=tenant.headers
        )
        assert response.status_code == 422, (url, response.text)
        assert [d["field"] for d in response.json()["details"]] == [field], url
    created = await client.post(
        "/api/v1/assistants",
        json={"name": "x", **body("https://hooks.example.com/v1")},
        headers=tenant.headers,
    )
    assert created.status_code == 201, created.text
    # The same rule on PATCH, and nothing stored is lost by a refused change.
    patched = await client.patch(
        f"/api/v1/assistants/{created.json()['id']}",
        json=body("https://169.254.169.254/"),
        headers=tenant.headers,
    )
    assert patched.status_code == 422
    assert [d["field"] for d in patched.json()["details"]] == [field]
    stored = await client.get(f"/api/v1/assistants/{created.json()['id']}", headers=tenant.headers)
    assert "169.254.169.254" not in stored.text


async def test_tools_credentials_and_call_overrides_refuse_the_inside(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    for url in INSIDE:
        tool = await client.post("/api/v1/tools", json=_tool(url), headers=tenant.headers)
        assert tool.status_code == 422, (url, tool.text)
        assert [d["field"] for d in tool.json()["details"]] == ["server.url"]
        credential = await client.post(
            "/api/v1/credentials",
            json={"provider": "openai", "api_key": "sk-org-0123456789", "base_url": url},
            headers=tenant.headers,
        )
        assert credential.status_code == 422, (url, credential.text)
        assert [d["field"] for d in credential.json()["details"]] == ["base_url"]
    assistant = await client.post(
        "/api/v1/assistants", json={"name": "web"}, headers=tenant.headers
    )
    call = await client.post(
        "/api/v1/calls/web",
        json={
            "assistant_id": assistant.json()["id"],
            "assistant_overrides": {"webhook_url": "https://10.0.0.1/hook"},
        },
        headers=tenant.headers,
    )
    assert call.status_code == 422, call.text
    assert [d["field"] for d in call.json()["details"]] == ["assistant_overrides.webhook_url"]


async def test_end_call_url_to_the_inside_is_not_called() -> None:
    received: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(204)

    # A URL stored before the policy existed: refused when the call ends, never sent.
    hook = end_call_url_hook(
        "http://169.254.169.254/latest/meta-data/",
        {"id": "call-1"},
        signing_secret="org-secret",
        transport=httpx.MockTransport(receiver),
    )
    assert hook is not None
    await hook(EndReason.CUSTOMER_ENDED_CALL)
    assert received == []
