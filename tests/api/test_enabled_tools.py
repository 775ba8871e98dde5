"""``tools_settings.enabled_tools`` accepts only tools the product knows: the built-ins
and the assistant's own custom tools; anything else is a 422 naming the entry."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Tenant

CUSTOM = {
    "type": "function",
    "function": {"name": "lookup_order", "parameters": {"type": "object", "properties": {}}},
    "server": {"url": "https://hooks.example.com/tools"},
}


async def _create(client: httpx.AsyncClient, tenant: Tenant, **body: Any) -> httpx.Response:
    return await client.post(
        "/api/v1/assistants", json={"name": "Tools", **body}, headers=tenant.headers
    )


async def test_enabled_tools_unknown_name_is_422_naming_it(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await _create(
        client, tenant, tools_settings={"enabled_tools": ["end_call", "web_browse"]}
    )
    assert response.status_code == 422, response.text
    (detail,) = response.json()["details"]
    assert detail["field"] == "tools_settings.enabled_tools[1]"
    assert "unknown tool 'web_browse'" in detail["message"]
    assert "web_browse" in response.json()["error"]


async def test_enabled_tools_accepts_builtins_and_own_custom_tools(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    names = ["end_call", "transfer_call", "send_dtmf", "search_knowledge", "lookup_order"]
    response = await _create(
        client,
        tenant,
        rag_settings={"enabled": True},
        tools_settings={"enabled_tools": names, "custom_tools": [CUSTOM]},
    )
    assert response.status_code == 201, response.text
    assert response.json()["tools_settings"]["enabled_tools"] == names
    # Removing the custom tool leaves its name dangling: refused on PATCH too.
    patched = await client.patch(
        f"/api/v1/assistants/{response.json()['id']}",
        json={"tools_settings": {"custom_tools": []}},
        headers=tenant.headers,
    )
    assert patched.status_code == 422, patched.text
    assert patched.json()["details"][0]["field"] == "tools_settings.enabled_tools[4]"


async def test_enabled_tools_search_knowledge_needs_rag(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await _create(client, tenant, tools_settings={"enabled_tools": ["search_knowledge"]})
    assert response.status_code == 422, response.text
    assert response.json()["details"][0]["field"] == "tools_settings.enabled_tools[0]"
    assert "rag_settings.enabled" in response.json()["details"][0]["message"]
