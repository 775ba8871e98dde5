"""Assistants API: create, replace, merge, validation, identifiers, soft delete."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from callwright.store.models import Assistant
from tests.conftest import Tenant


async def _create(client: httpx.AsyncClient, tenant: Tenant, **fields: object) -> dict:
    response = await client.post(
        "/api/v1/assistants", json={"name": "bot", **fields}, headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_patch_merges_nested_objects_and_replaces_lists(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await _create(
        client,
        tenant,
        llm_settings={"temperature": 0.9, "stop_sequences": ["a", "b"]},
        stt_settings={"endpointing": {"silence_threshold": 300}},
    )
    response = await client.patch(
        f"/api/v1/assistants/{created['id']}",
        json={
            "llm_settings": {"max_tokens": 50, "stop_sequences": ["c"]},
            "stt_settings": {"endpointing": {"min_silence_duration": 700}},
        },
        headers=tenant.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["llm_settings"]["temperature"] == 0.9  # kept
    assert body["llm_settings"]["max_tokens"] == 50  # changed
    assert body["llm_settings"]["stop_sequences"] == ["c"]  # replaced
    assert body["stt_settings"]["endpointing"] == {
        "silence_threshold": 300,
        "min_silence_duration": 700,
    }
    assert body["name"] == "bot"


async def test_put_replaces_and_resets_unsent_fields_to_defaults(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await _create(client, tenant, description="old", llm_settings={"temperature": 1.5})
    response = await client.put(
        f"/api/v1/assistants/{created['id']}", json={"name": "renamed"}, headers=tenant.headers
    )
    body = response.json()
    assert response.status_code == 200
    assert body["name"] == "renamed"
    assert body["description"] is None
    assert body["llm_settings"]["temperature"] == 0.5
    assert body["created_at"] == created["created_at"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"llm_settings": {"temperature": 2.5}}, "llm_settings.temperature"),
        ({"llm_provider": "skynet"}, "llm_provider"),
        ({"webhook_url": "ftp://example.com/hook"}, "webhook_url"),
        ({"tts_settings": {"stability": -1}}, "tts_settings.stability"),
        ({"first_message_mode": "shout"}, "first_message_mode"),
        (
            {"tools_settings": {"transfer_call": {"transfer_numbers": ["555-1234"]}}},
            "tools_settings.transfer_call.transfer_numbers[0]",
        ),
        ({"surprise": 1}, "surprise"),
        ({"llm_settings": {"temprature": 1}}, "llm_settings.temprature"),
        ({"rag_settings": {"chunk_size": 100, "chunk_overlap": 100}}, "rag_settings.chunk_overlap"),
        ({"max_error_messages": -1}, "max_error_messages"),
        ({"max_error_messages": 101}, "max_error_messages"),
        ({"error_message": ["Sorry"]}, "error_message"),
    ],
)
async def test_bad_fields_are_422_naming_the_field(
    client: httpx.AsyncClient, tenant: Tenant, payload: dict, field: str
) -> None:
    response = await client.post(
        "/api/v1/assistants", json={"name": "x", **payload}, headers=tenant.headers
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "validation_failed"
    assert field in [detail["field"] for detail in body["details"]]
    assert field in body["error"]


async def test_several_bad_fields_are_all_named(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        "/api/v1/assistants",
        json={"llm_settings": {"temperature": 9, "top_p": 3}},
        headers=tenant.headers,
    )
    fields = {detail["field"] for detail in response.json()["details"]}
    assert fields == {"name", "llm_settings.temperature", "llm_settings.top_p"}


async def test_failed_update_loses_nothing(client: httpx.AsyncClient, tenant: Tenant) -> None:
    created = await _create(client, tenant, llm_settings={"temperature": 1.1})
    bad = await client.patch(
        f"/api/v1/assistants/{created['id']}",
        json={"name": "new", "llm_settings": {"temperature": 7}},
        headers=tenant.headers,
    )
    merged_bad = await client.patch(
        f"/api/v1/assistants/{created['id']}",
        json={"rag_settings": {"chunk_size": 100}},
        headers=tenant.headers,
    )
    after = await client.get(f"/api/v1/assistants/{created['id']}", headers=tenant.headers)
    assert bad.status_code == 422
    assert merged_bad.status_code == 422  # the stored overlap (200) is not below 100
    assert after.json() == created


async def test_organization_cannot_be_moved(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    created = await _create(client, tenant)
    for body in (
        {"organization_id": other_tenant.organization_id},
        {"user_id": other_tenant.user_id},
        {"id": 999},
    ):
        response = await client.patch(
            f"/api/v1/assistants/{created['id']}", json=body, headers=tenant.headers
        )
        assert response.status_code == 422, body
    after = await client.get(f"/api/v1/assistants/{created['id']}", headers=tenant.headers)
    assert after.json()["organization_id"] == tenant.organization_id


async def test_get_by_external_id_and_malformed_ids(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await _create(client, tenant, external_id="550e8400-e29b-41d4-a716-446655440000")
    by_external = await client.get(
        "/api/v1/assistants/550e8400-e29b-41d4-a716-446655440000", headers=tenant.headers
    )
    assert by_external.json()["id"] == created["id"]
    for malformed in ("-1", "0", "%C3%A9t%C3%A9", "abc%20def", "99999999999999999999", "%24x"):
        response = await client.get(f"/api/v1/assistants/{malformed}", headers=tenant.headers)
        assert response.status_code == 400, malformed
        assert response.json()["code"] == "malformed_id"


async def test_external_id_is_unique_per_organization(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    await _create(client, tenant, external_id="asst_123")
    again = await client.post(
        "/api/v1/assistants", json={"name": "b", "external_id": "asst_123"}, headers=tenant.headers
    )
    elsewhere = await client.post(
        "/api/v1/assistants",
        json={"name": "c", "external_id": "asst_123"},
        headers=other_tenant.headers,
    )
    assert again.status_code == 409
    assert elsewhere.status_code == 201


async def test_digits_only_external_id_is_refused(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.post(
        "/api/v1/assistants", json={"name": "b", "external_id": "123"}, headers=tenant.headers
    )
    assert response.status_code == 422


async def test_soft_delete_hides_but_keeps_the_row(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await _create(client, tenant, external_id="gone")
    deleted = await client.delete(f"/api/v1/assistants/{created['id']}", headers=tenant.headers)
    again = await client.get(f"/api/v1/assistants/{created['id']}", headers=tenant.headers)
    reused = await client.post(
        "/api/v1/assistants", json={"name": "n", "external_id": "gone"}, headers=tenant.headers
    )
    assert deleted.status_code == 204
    assert again.status_code == 404
    assert reused.status_code == 201
    async with app.state.callwright.session_factory() as session:
        row = await session.execute(select(Assistant).where(Assistant.id == created["id"]))
        assert row.scalar_one().deleted_at is not None


async def test_duplicate_copies_settings_and_clears_external_id(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await _create(
        client,
        tenant,
        external_id="orig",
        llm_provider_config={"api_key": "sk-secret-value-1234567890"},
        llm_settings={"temperature": 1.2},
    )
    response = await client.post(
        f"/api/v1/assistants/{created['id']}/duplicate", headers=tenant.headers
    )
    copy = response.json()
    assert response.status_code == 201
    assert copy["id"] != created["id"]
    assert copy["name"] == "bot (copy)"
    assert copy["external_id"] is None
    assert copy["llm_settings"]["temperature"] == 1.2
    assert copy["llm_provider_config"]["api_key"] == created["llm_provider_config"]["api_key"]


async def test_malformed_json_is_400_and_oversized_body_413(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    malformed = await client.post(
        "/api/v1/assistants",
        content=b'{"name": ',
        headers={**tenant.headers, "content-type": "application/json"},
    )
    huge = await client.post(
        "/api/v1/assistants",
        json={"name": "x", "description": "y" * 2_000_000},
        headers=tenant.headers,
    )
    assert malformed.status_code == 400
    assert malformed.json()["code"] == "malformed_json"
    assert huge.status_code == 413
    assert huge.json()["code"] == "payload_too_large"


async def test_limit_bounds_are_422(client: httpx.AsyncClient, tenant: Tenant) -> None:
    for query in ("limit=0", "limit=1001", "skip=-1"):
        response = await client.get(f"/api/v1/assistants?{query}", headers=tenant.headers)
        assert response.status_code == 422, query


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (b'{"name": "a\\u0000b"}', "body.name"),
        (b'{"name": "x", "metadata": {"k": ["ok", "\\ud800"]}}', "body.metadata.k[1]"),
        (b'{"name": "x", "custom_settings": {"\\udfff": 1}}', "body.custom_settings (a key)"),
        (b'{"name": "x", "metadata": {"n": 1e400}}', "body.metadata.n"),
        (b'{"name": "x", "metadata": {"n": NaN}}', "NaN is not JSON"),
    ],
)
async def test_text_no_database_can_store_is_400_naming_where(
    client: httpx.AsyncClient, tenant: Tenant, raw: bytes, where: str
) -> None:
    response = await client.post(
        "/api/v1/assistants",
        content=raw,
        headers={**tenant.headers, "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"
    assert where in response.json()["error"]


async def test_is_active_null_is_422_not_a_crash(client: httpx.AsyncClient, tenant: Tenant) -> None:
    created = await _create(client, tenant)
    response = await client.patch(
        f"/api/v1/assistants/{created['id']}", json={"is_active": None}, headers=tenant.headers
    )
    assert response.status_code == 422
    assert response.json()["details"][0]["field"] == "is_active"


async def test_custom_tools_are_validated_on_save(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    good = {
        "type": "function",
        "function": {
            "name": "order_status",
            "description": "Look up an order.",
            "parameters": {"type": "object", "properties": {"id": {"type": "string"}}},
        },
        "server": {"url": "https://tools.example.com/hook", "timeoutSeconds": 10},
    }
    bad = {
        "type": "function",
        "function": {"name": "has spaces"},
        "server": {"url": "http://example.com/hook"},
    }
    created = await client.post(
        "/api/v1/assistants",
        json={"name": "t", "tools_settings": {"custom_tools": [good]}},
        headers=tenant.headers,
    )
    refused = await client.post(
        "/api/v1/assistants",
        json={"name": "t", "tools_settings": {"custom_tools": [good, bad]}},
        headers=tenant.headers,
    )
    assert created.status_code == 201, created.text
    assert refused.status_code == 422
    fields = {detail["field"] for detail in refused.json()["details"]}
    assert "tools_settings.custom_tools[1].function.name" in fields
    # A well-formed tool whose server is plain http: the outbound-URL policy says no.
    plain = {**bad, "function": {"name": "plain_http"}}
    refused = await client.post(
        "/api/v1/assistants",
        json={"name": "t", "tools_settings": {"custom_tools": [good, plain]}},
        headers=tenant.headers,
    )
    assert refused.status_code == 422
    (detail,) = refused.json()["details"]
    assert detail["field"] == "tools_settings.custom_tools[1].server.url"
    assert "must be an https:// URL" in detail["message"]
