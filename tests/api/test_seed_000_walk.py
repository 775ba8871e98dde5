"""Seed 000's documented request, walked end to end: org, key, assistant, then
``GET /api/v1/assistants/{id}`` with ``Authorization: Bearer`` returns every field with
its documented default."""

from __future__ import annotations

from datetime import datetime

import httpx
from fastapi import FastAPI

from callwright.domain.assistants.schemas import DEFAULT_ERROR_MESSAGE
from tests.conftest import Tenant, make_tenant

SEED_000_FIELDS = [
    "name",
    "description",
    "llm_provider",
    "llm_provider_config",
    "twilio_config",
    "llm_settings",
    "webhook_url",
    "interruption_settings",
    "tts_settings",
    "stt_settings",
    "end_call_message",
    "transfer_call_message",
    "idle_message",
    "max_idle_messages",
    "idle_timeout",
    "tools_settings",
    "rag_settings",
    "llm_fallback_providers",
    "custom_settings",
    "is_active",
    "id",
    "organization_id",
    "user_id",
    "created_at",
    "updated_at",
]
CALLWRIGHT_FIELDS = [
    "external_id",
    "first_message_mode",
    "voicemail_message",
    "end_call_phrases",
    "max_duration_seconds",
    "error_message",
    "max_error_messages",
    "metadata",
    "filler_words_enabled",
    "filler_words",
    "dynamic_welcome_message",
    "maintain_context",
    "mode",
    "realtime_settings",
    "end_call_trigger_phrase",
    "end_call_url",
    "tool_ids",
    "analysis_plan",
]

SEED_000_DEFAULTS = {
    "llm_provider": "openai",
    "llm_provider_config": {
        "api_key": None,
        "base_url": None,
        "model": "gpt-4o-mini",
        "custom_config": {},
    },
    "twilio_config": {"account_sid": None, "auth_token": None},
    "llm_settings": {
        "temperature": 0.5,
        "max_tokens": 1000,
        "system_prompt": "You are a helpful assistant that can answer questions and help "
        "with tasks.",
        "welcome_message": None,
        "top_p": 1,
        "frequency_penalty": 0,
        "presence_penalty": 0,
        "stop_sequences": [],
    },
    "interruption_settings": {
        "interruption_threshold": 3,
        "min_speaking_time": 0.5,
        "interruption_cooldown": 2,
        "acknowledgement_phrases": None,
        "interruption_phrases": None,
        "false_interruption_timeout": None,
    },
    "tts_settings": {
        "provider": "elevenlabs",
        "voice_id": "rachel",
        "model_id": None,
        "latency": 1,
        "stability": 0.5,
        "similarity_boost": 0.75,
        "style": 0,
        "use_speaker_boost": True,
        "provider_config": {},
    },
    "stt_settings": {
        "model": "nova-2",
        "language": "en-US",
        "punctuate": True,
        "interim_results": True,
        "endpointing": {"silence_threshold": 500, "min_silence_duration": 500},
        "utterance_end_ms": 1000,
        "vad_turnoff": 500,
        "smart_format": True,
        "keywords": [],
        "keyterms": [],
        "audio_denoising": False,
        "turn_detection": "silence",
    },
    "idle_message": "Are you still there? I'm here to help if you need anything.",
    "tools_settings": {
        "enabled_tools": [],
        "end_call": {"enabled": False, "scenarios": [], "custom_message": None},
        "transfer_call": {
            "enabled": False,
            "scenarios": [],
            "transfer_numbers": [],
            "custom_message": None,
        },
        "custom_tools": [],
    },
    "rag_settings": {
        "enabled": False,
        "search_limit": 3,
        "similarity_threshold": 0.7,
        "embedding_model": "text-embedding-3-small",
        "chunking_strategy": "recursive",
        "chunk_size": 1000,
        "chunk_overlap": 200,
        "auto_process": True,
        "include_metadata": True,
        "context_window_tokens": 4000,
    },
    "llm_fallback_providers": {"enabled": False, "fallbacks": []},
    "custom_settings": {},
    "is_active": True,
}


async def test_seed_000_get_returns_every_field_with_its_default(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await client.post(
        "/api/v1/assistants", json={"name": "Customer Service Bot"}, headers=tenant.headers
    )
    assert created.status_code == 201, created.text
    assistant_id = created.json()["id"]

    response = await client.get(f"/api/v1/assistants/{assistant_id}", headers=tenant.headers)

    assert response.status_code == 200
    body = response.json()
    assert list(body) == SEED_000_FIELDS[:20] + CALLWRIGHT_FIELDS + SEED_000_FIELDS[20:]
    for field, default in SEED_000_DEFAULTS.items():
        assert body[field] == default, field
    # A reply no LLM could give is a sentence; three in a row end the call.
    assert (body["error_message"], body["max_error_messages"]) == (DEFAULT_ERROR_MESSAGE, 2)
    assert body["name"] == "Customer Service Bot"
    assert body["id"] == assistant_id
    assert body["organization_id"] == tenant.organization_id
    assert body["user_id"] == tenant.user_id
    for stamp in ("created_at", "updated_at"):
        assert datetime.fromisoformat(body[stamp]).tzinfo is not None


async def test_list_pages_newest_first_and_filters_active(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    ids = []
    for index in range(5):
        response = await client.post(
            "/api/v1/assistants",
            json={"name": f"a{index}", "is_active": index % 2 == 0},
            headers=tenant.headers,
        )
        ids.append(response.json()["id"])
    newest_first = list(reversed(ids))

    first = await client.get("/api/v1/assistants?skip=0&limit=2", headers=tenant.headers)
    second = await client.get("/api/v1/assistants?skip=2&limit=2", headers=tenant.headers)
    rest = await client.get("/api/v1/assistants?skip=4&limit=2", headers=tenant.headers)
    active = await client.get(
        "/api/v1/assistants?skip=0&limit=10&active_only=true", headers=tenant.headers
    )

    assert [a["id"] for a in first.json()] == newest_first[:2]
    assert [a["id"] for a in second.json()] == newest_first[2:4]
    assert [a["id"] for a in rest.json()] == newest_first[4:]
    assert [a["id"] for a in active.json()] == [ids[4], ids[2], ids[0]]


async def test_other_organization_gets_404_exactly_like_a_missing_id(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    created = await client.post("/api/v1/assistants", json={"name": "mine"}, headers=tenant.headers)
    assistant_id = created.json()["id"]

    foreign = await client.get(f"/api/v1/assistants/{assistant_id}", headers=other_tenant.headers)
    missing = await client.get(
        f"/api/v1/assistants/{assistant_id + 1000}", headers=other_tenant.headers
    )
    listed = await client.get("/api/v1/assistants", headers=other_tenant.headers)

    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["code"] == missing.json()["code"] == "not_found"
    assert listed.json() == []
    for method in ("PUT", "PATCH", "DELETE"):
        attempt = await client.request(
            method,
            f"/api/v1/assistants/{assistant_id}",
            json={"name": "stolen"},
            headers=other_tenant.headers,
        )
        assert attempt.status_code == 404, method
    still = await client.get(f"/api/v1/assistants/{assistant_id}", headers=tenant.headers)
    assert still.json()["name"] == "mine"


async def test_bad_key_is_401(client: httpx.AsyncClient, tenant: Tenant) -> None:
    for headers in (
        {"Authorization": "Bearer cw_not-a-real-key"},
        {"x-api-key": "cw_not-a-real-key"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {},
    ):
        response = await client.get("/api/v1/assistants", headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["code"] == "unauthorized"


async def test_x_api_key_header_is_accepted(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get("/api/v1/assistants", headers={"x-api-key": tenant.api_key})
    assert response.status_code == 200


async def test_user_scoped_key_sees_only_its_users_assistants(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    colleague = await make_tenant(app, "Acme", scope="user", organization_id=tenant.organization_id)
    theirs = await client.post(
        "/api/v1/assistants", json={"name": "org-wide"}, headers=tenant.headers
    )
    mine = await client.post(
        "/api/v1/assistants", json={"name": "colleague's"}, headers=colleague.headers
    )

    hidden = await client.get(
        f"/api/v1/assistants/{theirs.json()['id']}", headers=colleague.headers
    )
    listed = await client.get("/api/v1/assistants", headers=colleague.headers)
    org_view = await client.get("/api/v1/assistants", headers=tenant.headers)
    only_mine = await client.get("/api/v1/assistants?my_assistants=true", headers=tenant.headers)

    assert hidden.status_code == 404
    assert [a["id"] for a in listed.json()] == [mine.json()["id"]]
    assert len(org_view.json()) == 2
    assert [a["id"] for a in only_mine.json()] == [theirs.json()["id"]]
