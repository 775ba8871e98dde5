"""Secrets: encrypted at rest, masked in every response, kept when the mask comes back."""

from __future__ import annotations

import json

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from callwright.store.models import Assistant
from tests.conftest import Tenant

OPENAI_KEY = "sk-proj-abcdefghijklmnopqrstuvwxyz0123"
TWILIO_TOKEN = "0123456789abcdef0123456789abcdef"
FALLBACK_KEY = "sk-ant-fallback-secret-987654321"
TTS_KEY = "el-provider-secret-key-42424242"


async def _create_with_secrets(client: httpx.AsyncClient, tenant: Tenant) -> dict:
    response = await client.post(
        "/api/v1/assistants",
        json={
            "name": "secretive",
            "llm_provider_config": {"api_key": OPENAI_KEY},
            "twilio_config": {"account_sid": "AC" + "0" * 32, "auth_token": TWILIO_TOKEN},
            "tts_settings": {"provider_config": {"api_key": TTS_KEY, "region": "eu"}},
            "llm_fallback_providers": {
                "enabled": True,
                "fallbacks": [
                    {"provider": "anthropic", "api_key": FALLBACK_KEY, "model": "claude-sonnet-4-5"}
                ],
            },
        },
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_secrets_are_masked_in_responses(client: httpx.AsyncClient, tenant: Tenant) -> None:
    created = await _create_with_secrets(client, tenant)
    fetched = await client.get(f"/api/v1/assistants/{created['id']}", headers=tenant.headers)
    listed = await client.get("/api/v1/assistants", headers=tenant.headers)
    for text in (json.dumps(created), fetched.text, listed.text):
        for secret in (OPENAI_KEY, TWILIO_TOKEN, FALLBACK_KEY, TTS_KEY):
            assert secret not in text
    body = fetched.json()
    assert body["llm_provider_config"]["api_key"] == "sk-…0123"
    assert body["twilio_config"]["auth_token"] == "012…cdef"
    assert body["llm_fallback_providers"]["fallbacks"][0]["api_key"] == "sk-…4321"
    assert body["tts_settings"]["provider_config"] == {"api_key": "el-…4242", "region": "eu"}


async def test_secrets_are_encrypted_at_rest(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await _create_with_secrets(client, tenant)
    async with app.state.callwright.session_factory() as session:
        row = await session.execute(select(Assistant).where(Assistant.id == created["id"]))
        stored = json.dumps(row.scalar_one().config)
    for secret in (OPENAI_KEY, TWILIO_TOKEN, FALLBACK_KEY, TTS_KEY):
        assert secret not in stored
    assert stored.count("enc:v1:") == 4


async def test_sending_the_mask_back_keeps_the_secret(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await _create_with_secrets(client, tenant)
    # A dashboard round trip: GET, change one thing, PUT the whole (masked) body back.
    body = {
        key: value
        for key, value in created.items()
        if key not in ("id", "organization_id", "user_id", "created_at", "updated_at")
    }
    body["description"] = "edited"
    replaced = await client.put(
        f"/api/v1/assistants/{created['id']}", json=body, headers=tenant.headers
    )
    patched = await client.patch(
        f"/api/v1/assistants/{created['id']}",
        json={
            "llm_provider_config": {
                "api_key": created["llm_provider_config"]["api_key"],
                "model": "gpt-4.1",
            }
        },
        headers=tenant.headers,
    )
    assert replaced.status_code == 200, replaced.text
    assert patched.status_code == 200, patched.text
    service = app.state.callwright
    async with service.session_factory() as session:
        from callwright.domain.assistants.service import AssistantService
        from callwright.domain.principal import Principal

        principal = Principal(tenant.organization_id, tenant.user_id, "organization", "api_key")
        stored = await AssistantService(session, principal, service.secret_box).get(
            str(created["id"])
        )
    settings = stored.settings
    assert settings.llm_provider_config.api_key == OPENAI_KEY
    assert settings.llm_provider_config.model == "gpt-4.1"
    assert settings.twilio_config.auth_token == TWILIO_TOKEN
    assert settings.llm_fallback_providers.fallbacks[0].api_key == FALLBACK_KEY
    assert settings.tts_settings.provider_config["api_key"] == TTS_KEY
    assert settings.description == "edited"


async def test_a_new_secret_replaces_the_old(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await _create_with_secrets(client, tenant)
    response = await client.patch(
        f"/api/v1/assistants/{created['id']}",
        json={"llm_provider_config": {"api_key": "sk-brand-new-key-000011112222"}},
        headers=tenant.headers,
    )
    assert response.json()["llm_provider_config"]["api_key"] == "sk-…2222"


async def test_a_mask_without_a_stored_secret_is_refused(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.post(
        "/api/v1/assistants",
        json={"name": "x", "llm_provider_config": {"api_key": "sk-…0123"}},
        headers=tenant.headers,
    )
    created = await client.post("/api/v1/assistants", json={"name": "y"}, headers=tenant.headers)
    patched = await client.patch(
        f"/api/v1/assistants/{created.json()['id']}",
        json={"twilio_config": {"auth_token": "********"}},
        headers=tenant.headers,
    )
    assert patched.status_code == 422
    assert patched.json()["details"][0]["field"] == "twilio_config.auth_token"
    # On create there is nothing stored: a masked-looking value is refused too.
    assert response.status_code == 422
