"""The dialect views over HTTP: ``?format=`` on Get and List, the seed 001 and seed 004
paths, and export → import round trips through the API."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Tenant

RICH = {
    "name": "Enrollment Assistant",
    "description": "Realtime voice assistant",
    "external_id": "asst_123",
    "llm_provider": "anthropic",
    "llm_provider_config": {"model": "claude-sonnet-4-5", "api_key": "sk-ant-0123456789abcdef"},
    "llm_settings": {
        "temperature": 0.7,
        "max_tokens": 1024,
        "system_prompt": "Be brief.",
        "welcome_message": "Hi, I'm here to help with your enrollment questions.",
    },
    "first_message_mode": "assistant-speaks-first",
    "voicemail_message": "Please call us back.",
    "end_call_message": "Goodbye!",
    "end_call_phrases": ["bye now", "that's all"],
    "metadata": {"team": "enrollment"},
    "max_duration_seconds": 1800,
    "tts_settings": {"provider": "cartesia", "voice_id": "alloy"},
    "idle_timeout": 12,
    "max_idle_messages": 2,
    "filler_words_enabled": True,
    "filler_words": ["um", "let me see"],
    "maintain_context": True,
    "end_call_trigger_phrase": "goodbye",
    "end_call_url": "https://example.com/ended",
}


async def _tool_ids(client: httpx.AsyncClient, tenant: Tenant) -> list[int]:
    ids = []
    for name in ("lookup", "book"):
        tool = {"function": {"name": name}, "server": {"url": "https://tools.example.com"}}
        response = await client.post("/api/v1/tools", json=tool, headers=tenant.headers)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


@pytest.fixture
async def assistant(client: httpx.AsyncClient, tenant: Tenant) -> dict:
    payload = RICH | {"tool_ids": await _tool_ids(client, tenant)}
    response = await client.post("/api/v1/assistants", json=payload, headers=tenant.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_vapi_shape_on_get_list_and_the_seed_001_path(
    client: httpx.AsyncClient, tenant: Tenant, assistant: dict
) -> None:
    one = await client.get(
        f"/api/v1/assistants/{assistant['id']}?format=vapi", headers=tenant.headers
    )
    by_path = await client.get("/assistants/asst_123", headers=tenant.headers)
    listed = await client.get("/api/v1/assistants?format=vapi", headers=tenant.headers)
    body = one.json()
    assert body == by_path.json() == listed.json()[0]
    assert body["id"] == str(assistant["id"])
    assert body["orgId"] == str(tenant.organization_id)
    assert body["firstMessage"] == RICH["llm_settings"]["welcome_message"]
    assert body["firstMessageMode"] == "assistant-speaks-first"
    assert body["model"]["provider"] == "anthropic"
    assert body["model"]["temperature"] == 0.7
    assert body["model"]["maxTokens"] == 1024
    assert body["voice"] == {"provider": "cartesia", "voiceId": "alloy"}
    assert body["endCallPhrases"] == ["bye now", "that's all"]
    assert body["maxDurationSeconds"] == 1800
    assert "sk-ant-0123456789abcdef" not in one.text


async def test_envelope_shape(client: httpx.AsyncClient, tenant: Tenant, assistant: dict) -> None:
    one = await client.get(
        f"/api/v1/assistants/{assistant['id']}?format=envelope", headers=tenant.headers
    )
    listed = await client.get("/api/v1/assistants?format=envelope", headers=tenant.headers)
    body = one.json()
    assert body["success"] is True
    data = body["data"]
    assert data["id"] == str(assistant["id"])
    assert data["ai_provider"] == "anthropic"
    assert data["silence_timeout"] == 12
    assert data["inactivity_message"] == assistant["idle_message"]
    assert data["filler_words"] == "um, let me see"
    assert data["selected_tools"] == [str(tool_id) for tool_id in assistant["tool_ids"]]
    assert listed.json() == {"success": True, "data": [data]}


async def test_details_shape_and_inactive_is_404(
    client: httpx.AsyncClient, tenant: Tenant, assistant: dict
) -> None:
    response = await client.get(f"/assistant/details/{assistant['id']}", headers=tenant.headers)
    body = response.json()
    assert body["success"] is True
    assert body["message"] == "Assistant details retrieved successfully"
    data = body["data"]
    assert data["assistant_id"] == str(assistant["id"])
    assert data["assistant_llm_mode"] == "pipeline"
    assert data["assistant_tts_model"] == "cartesia"
    assert data["assistant_interaction_config"] == {
        "speaks_first": True,
        "filler_words": True,
        "silence_reprompts": True,
        "silence_reprompt_interval": 12.0,
        "silence_max_reprompts": 2,
    }
    assert data["assistant_end_call_trigger_phrase"] == "goodbye"
    assert data["assistant_end_call_url"] == "https://example.com/ended"
    assert data["tool_ids"] == [str(tool_id) for tool_id in assistant["tool_ids"]]

    await client.patch(
        f"/api/v1/assistants/{assistant['id']}", json={"is_active": False}, headers=tenant.headers
    )
    inactive = await client.get(f"/assistant/details/{assistant['id']}", headers=tenant.headers)
    assert inactive.status_code == 404


@pytest.mark.parametrize("dialect", ["vapi", "envelope", "details"])
async def test_export_then_import_round_trips_the_shared_fields(
    client: httpx.AsyncClient, tenant: Tenant, assistant: dict, dialect: str
) -> None:
    exported = await client.get(
        f"/api/v1/assistants/{assistant['id']}?format={dialect}", headers=tenant.headers
    )
    imported = await client.post(
        f"/api/v1/assistants/import?format={dialect}", json=exported.json(), headers=tenant.headers
    )
    assert imported.status_code == 201, imported.text
    again = await client.get(
        f"/api/v1/assistants/{imported.json()['id']}?format={dialect}", headers=tenant.headers
    )
    ignored = {
        "id",
        "orgId",
        "createdAt",
        "updatedAt",
        "assistant_id",
        "created_at",
        "updated_at",
        "assistant_created_at",
        "assistant_updated_at",
    }

    def shared(payload: dict) -> dict:
        data = payload.get("data", payload)
        return {key: value for key, value in data.items() if key not in ignored}

    assert shared(again.json()) == shared(exported.json())


async def test_import_names_the_bad_dialect_field(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.post(
        "/api/v1/assistants/import?format=vapi",
        json={"name": "x", "voice": {"provider": "edmo", "voiceId": "v"}},
        headers=tenant.headers,
    )
    assert response.status_code == 422
    assert response.json()["details"][0]["field"] == "voice.provider"


async def test_seed_paths_answer_404_for_other_tenants(
    client: httpx.AsyncClient, other_tenant: Tenant, assistant: dict
) -> None:
    for path in (f"/assistants/{assistant['id']}", f"/assistant/details/{assistant['id']}"):
        response = await client.get(path, headers=other_tenant.headers)
        assert response.status_code == 404
        assert set(response.json()) == {"error", "code", "details"}
