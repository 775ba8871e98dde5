"""Assistant versions: every create, update and restore stores one (who, when, the
paths that changed), secrets stay masked and encrypted, a restore is a new version,
and only the assistant's organization sees them."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.calls.repository import new_call
from callwright.runtime.preparation import prepare_call
from callwright.store.call_status import CallStatus
from callwright.store.models import AssistantVersion
from tests.conftest import Tenant, make_tenant

SECRET = "sk-test-version-secret-0123456789"


async def _create(client: httpx.AsyncClient, tenant: Tenant, **fields: object) -> dict:
    response = await client.post(
        "/api/v1/assistants", json={"name": "bot", **fields}, headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def _patch(client: httpx.AsyncClient, tenant: Tenant, assistant_id: int, body: dict) -> dict:
    response = await client.patch(
        f"/api/v1/assistants/{assistant_id}", json=body, headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_each_change_stores_a_version_with_its_author_and_changed_paths(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await _create(client, tenant, llm_settings={"temperature": 0.5})
    await _patch(client, tenant, created["id"], {"llm_settings": {"temperature": 0.9}})
    await _patch(client, tenant, created["id"], {"name": "renamed", "description": "new"})

    response = await client.get(
        f"/api/v1/assistants/{created['id']}/versions", headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    versions = response.json()
    assert [v["version"] for v in versions] == [3, 2, 1]
    assert [v["action"] for v in versions] == ["update", "update", "create"]
    assert versions[0]["changes"] == [
        {"path": "description", "change": "changed"},
        {"path": "name", "change": "changed"},
    ]
    assert versions[1]["changes"] == [{"path": "llm_settings.temperature", "change": "changed"}]
    assert versions[2]["changes"] == []
    assert versions[0]["created_by"]["user_id"] == tenant.user_id
    assert versions[0]["created_by"]["api_key_id"] is not None
    assert versions[0]["created_by"]["auth_method"] == "api_key"
    assert "settings" not in versions[0] or versions[0]["settings"] is None

    one = await client.get(f"/api/v1/assistants/{created['id']}/versions/2", headers=tenant.headers)
    assert one.status_code == 200, one.text
    assert one.json()["settings"]["llm_settings"]["temperature"] == 0.9
    assert one.json()["settings"]["name"] == "bot"


async def test_restore_creates_a_new_version_equal_to_the_old_one(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await _create(client, tenant, llm_settings={"system_prompt": "Be brief."})
    await _patch(client, tenant, created["id"], {"llm_settings": {"system_prompt": "Be long."}})

    restored = await client.post(
        f"/api/v1/assistants/{created['id']}/versions/1/restore", headers=tenant.headers
    )
    assert restored.status_code == 200, restored.text
    assert restored.json()["llm_settings"]["system_prompt"] == "Be brief."

    current = await client.get(f"/api/v1/assistants/{created['id']}", headers=tenant.headers)
    assert current.json()["llm_settings"]["system_prompt"] == "Be brief."
    versions = (
        await client.get(f"/api/v1/assistants/{created['id']}/versions", headers=tenant.headers)
    ).json()
    assert versions[0]["version"] == 3
    assert versions[0]["action"] == "restore"
    assert versions[0]["restored_from"] == 1
    assert versions[0]["changes"] == [{"path": "llm_settings.system_prompt", "change": "changed"}]


async def test_versions_keep_secrets_encrypted_and_show_them_masked(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await _create(client, tenant, llm_provider_config={"api_key": SECRET})
    await _patch(client, tenant, created["id"], {"llm_provider_config": {"api_key": SECRET + "x"}})

    one = await client.get(f"/api/v1/assistants/{created['id']}/versions/1", headers=tenant.headers)
    assert SECRET not in one.text
    assert one.json()["settings"]["llm_provider_config"]["api_key"].startswith("sk-…")
    listed = await client.get(
        f"/api/v1/assistants/{created['id']}/versions", headers=tenant.headers
    )
    assert listed.json()[0]["changes"] == [
        {"path": "llm_provider_config.api_key", "change": "changed"}
    ]
    async with app.state.callwright.session_factory() as session:
        stored = (await session.execute(select(AssistantVersion.settings))).scalars().all()
    assert len(stored) == 2
    assert all(SECRET not in str(document) for document in stored)

    # Restoring version 1 brings its secret back: the model's key is the old one.
    restored = await client.post(
        f"/api/v1/assistants/{created['id']}/versions/1/restore", headers=tenant.headers
    )
    assert restored.status_code == 200, restored.text
    assert restored.json()["llm_provider_config"]["api_key"] == "sk-…6789"


async def test_other_organizations_and_missing_versions_are_404(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    created = await _create(client, tenant)
    base = f"/api/v1/assistants/{created['id']}/versions"
    for method, path in (("GET", base), ("GET", f"{base}/1"), ("POST", f"{base}/1/restore")):
        response = await client.request(method, path, headers=other_tenant.headers)
        assert response.status_code == 404, (method, path, response.text)
    missing = await client.get(f"{base}/9", headers=tenant.headers)
    assert missing.status_code == 404
    assert "no version 9" in missing.json()["error"]
    malformed = await client.get(f"{base}/0", headers=tenant.headers)
    assert malformed.status_code == 422

    # A user-scoped key of the same organization sees only its own user's assistants.
    member = await make_tenant(app, "Acme", scope="user", organization_id=tenant.organization_id)
    hidden = await client.get(base, headers=member.headers)
    assert hidden.status_code == 404


async def test_a_call_records_the_version_it_ran(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await _create(client, tenant)
    await _patch(client, tenant, created["id"], {"description": "second"})
    state = app.state.callwright
    async with state.session_factory() as session:
        call = new_call(
            organization_id=tenant.organization_id,
            user_id=tenant.user_id,
            assistant_id=created["id"],
            type="webCall",
            status=CallStatus.QUEUED,
            node_id=state.node.id,
        )
        session.add(call)
        await session.commit()
        call_id = call.id

    async def secret(session: AsyncSession, organization_id: int) -> str:
        return "signing-secret"

    await prepare_call(
        state.session_factory,
        state.secret_box,
        call_id,
        signing_secret=secret,
        webhooks=None,
        knowledge=None,
    )
    # Later versions do not change what the call ran.
    await _patch(client, tenant, created["id"], {"description": "third"})
    record = await client.get(f"/api/v1/calls/{call_id}", headers=tenant.headers)
    assert record.status_code == 200, record.text
    assert record.json()["assistant_version"] == 2
