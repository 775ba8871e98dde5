"""Credentials API: CRUD, per-provider fields, secrets encrypted and masked, one per
provider per organization, tenant isolation, write scope, the runtime's look-up, and
Twilio credentials proven with (a local fake of) Twilio before they are stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from callwright.api.app import create_app
from callwright.domain.credentials.lookup import organization_credential, organization_credentials
from callwright.settings import Settings
from callwright.store.models import ProviderCredential
from tests.calls.harness import FakeTwilioApi, unreachable_url
from tests.conftest import Tenant, make_tenant

OPENAI_KEY = "sk-proj-0123456789abcdefWXYZ"
AUTH_TOKEN = "f9e8d7c6b5a4f9e8d7c6b5a4f9e8d7c6"
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
OTHER_ACCOUNT_SID = "AC" + "fedcba9876543210" * 2


@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilioApi]:
    fake = FakeTwilioApi(tokens={ACCOUNT_SID: AUTH_TOKEN})
    async with fake.serving():
        yield fake


@pytest.fixture
def settings(settings: Settings, twilio: FakeTwilioApi) -> Settings:
    return settings.model_copy(update={"twilio_api_base_url": twilio.base_url})


async def _create(client: httpx.AsyncClient, tenant: Tenant, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/credentials", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def _refused(
    client: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any], status: int = 422
) -> dict[str, Any]:
    response = await client.post("/api/v1/credentials", json=body, headers=tenant.headers)
    assert response.status_code == status, response.text
    refused: dict[str, Any] = response.json()
    assert set(refused) == {"error", "code", "details"}
    return refused


def _fields(body: dict[str, Any]) -> set[str]:
    return {detail["field"] for detail in body["details"]}


async def test_crud_happy_path(client: httpx.AsyncClient, tenant: Tenant) -> None:
    created = await _create(
        client,
        tenant,
        provider="openai",
        api_key=f"  {OPENAI_KEY}\n",
        base_url="https://proxy.example/v1",
    )
    assert created["provider"] == "openai"
    assert created["api_key"] == "sk-…WXYZ"  # stored stripped, shown masked
    assert created["base_url"] == "https://proxy.example/v1"
    assert (created["region"], created["account_sid"], created["auth_token"]) == (None, None, None)
    assert created["organization_id"] == tenant.organization_id
    second = await _create(client, tenant, provider="deepgram", api_key="dg-0123456789abcdef")

    listed = await client.get("/api/v1/credentials", headers=tenant.headers)
    assert [c["provider"] for c in listed.json()] == ["deepgram", "openai"]
    fetched = await client.get(f"/api/v1/credentials/{created['id']}", headers=tenant.headers)
    assert fetched.json() == created

    patched = await client.patch(
        f"/api/v1/credentials/{created['id']}",
        json={"api_key": created["api_key"], "base_url": None},  # the mask keeps the key
        headers=tenant.headers,
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["api_key"], patched.json()["base_url"]) == ("sk-…WXYZ", None)

    replaced = await client.patch(
        f"/api/v1/credentials/{created['id']}",
        json={"provider": "openai", "api_key": "sk-proj-newnewnewnewnew9876"},
        headers=tenant.headers,
    )
    assert replaced.json()["api_key"] == "sk-…9876"

    deleted = await client.delete(f"/api/v1/credentials/{created['id']}", headers=tenant.headers)
    assert deleted.status_code == 204
    gone = await client.get(f"/api/v1/credentials/{created['id']}", headers=tenant.headers)
    assert gone.status_code == 404
    listed = await client.get("/api/v1/credentials", headers=tenant.headers)
    assert [c["id"] for c in listed.json()] == [second["id"]]
    # A deleted credential frees its provider.
    await _create(client, tenant, provider="openai", api_key=OPENAI_KEY)


async def test_secrets_are_encrypted_at_rest_and_never_returned(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await _create(
        client, tenant, provider="twilio", account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN
    )
    assert created["account_sid"] == ACCOUNT_SID  # an identifier, not a secret
    assert created["auth_token"] == "f9e…d7c6"
    assert created["api_key"] is None
    await _create(client, tenant, provider="openai", api_key=OPENAI_KEY)
    for response in (
        await client.get("/api/v1/credentials", headers=tenant.headers),
        await client.get(f"/api/v1/credentials/{created['id']}", headers=tenant.headers),
    ):
        assert AUTH_TOKEN not in response.text
        assert OPENAI_KEY not in response.text

    state = app.state.callwright
    async with state.session_factory() as session:
        rows = (await session.execute(select(ProviderCredential))).scalars().all()
        stored = {row.provider: row.config for row in rows}
        assert stored["twilio"]["auth_token"].startswith("enc:v1:")
        assert stored["twilio"]["account_sid"] == ACCOUNT_SID
        assert stored["openai"]["api_key"].startswith("enc:v1:")
        assert OPENAI_KEY not in str(stored)
        # What the runtime reads: decrypted.
        twilio = await organization_credential(
            session, state.secret_box, tenant.organization_id, "twilio"
        )
        assert twilio == {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN}
        every = await organization_credentials(session, state.secret_box, tenant.organization_id)
        assert every["openai"] == {"api_key": OPENAI_KEY}


async def test_one_credential_per_provider_per_organization(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    await _create(client, tenant, provider="elevenlabs", api_key="el-0123456789abcdef")
    refused = await _refused(
        client, tenant, {"provider": "elevenlabs", "api_key": "el-another-key-000"}, 409
    )
    assert refused["code"] == "conflict"
    assert "elevenlabs" in refused["error"]
    await _create(client, other_tenant, provider="elevenlabs", api_key="el-0123456789abcdef")


@pytest.mark.parametrize(
    ("body", "fields", "says"),
    [
        ({"provider": "rime", "api_key": "k"}, {"provider"}, "openai"),
        ({"provider": "openai"}, {"api_key"}, "required for openai"),
        ({"provider": "openai", "api_key": "  "}, {"api_key"}, "at least 1"),
        (
            {"provider": "openai", "api_key": "k", "account_sid": ACCOUNT_SID},
            {"account_sid"},
            "not used by openai credentials",
        ),
        ({"provider": "deepgram", "api_key": "k", "region": "eastus"}, {"region"}, "not used"),
        ({"provider": "twilio", "account_sid": ACCOUNT_SID}, {"auth_token"}, "required"),
        (
            {"provider": "twilio", "api_key": "k", "auth_token": "t", "account_sid": ACCOUNT_SID},
            {"api_key"},
            "not used by twilio",
        ),
        ({"provider": "twilio", "account_sid": "AC123", "auth_token": "t"}, {"account_sid"}, ""),
        ({"provider": "azure", "api_key": "k"}, {"region"}, "region (e.g. eastus) or a base_url"),
        ({"provider": "azure", "api_key": "k", "region": "East US"}, {"region"}, ""),
        ({"provider": "openai", "api_key": "k", "base_url": "ftp://x.example"}, {"base_url"}, ""),
        ({"provider": "openai", "api_key": "k", "model": "gpt-4o"}, {"model"}, "Extra inputs"),
        ({"provider": "openai", "api_key": "********"}, {"api_key"}, "masked"),
    ],
)
async def test_invalid_credentials_are_refused_naming_the_field(
    client: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any], fields: set[str], says: str
) -> None:
    refused = await _refused(client, tenant, body)
    assert refused["code"] == "validation_failed"
    assert _fields(refused) == fields
    assert says in " ".join(detail["message"] for detail in refused["details"])


async def test_azure_takes_a_region_or_an_endpoint(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await _create(
        client, tenant, provider="azure", api_key="az-0123456789abcdef", region="westeurope"
    )
    assert created["region"] == "westeurope"
    moved = await client.patch(
        f"/api/v1/credentials/{created['id']}",
        json={"region": None, "base_url": "https://speech.internal.example"},
        headers=tenant.headers,
    )
    assert moved.status_code == 200, moved.text
    stranded = await client.patch(
        f"/api/v1/credentials/{created['id']}", json={"base_url": None}, headers=tenant.headers
    )
    assert stranded.status_code == 422
    assert _fields(stranded.json()) == {"region"}


async def test_patch_keeps_the_provider_and_validates_the_result(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await _create(client, tenant, provider="cartesia", api_key="sk_car_0123456789abcdef")
    path = f"/api/v1/credentials/{created['id']}"
    switched = await client.patch(path, json={"provider": "openai"}, headers=tenant.headers)
    assert switched.status_code == 422
    assert _fields(switched.json()) == {"provider"}
    emptied = await client.patch(path, json={"api_key": None}, headers=tenant.headers)
    assert emptied.status_code == 422
    assert _fields(emptied.json()) == {"api_key"}
    wrong_mask = await client.patch(path, json={"api_key": "sk_…0000"}, headers=tenant.headers)
    assert wrong_mask.status_code == 422
    unchanged = await client.get(path, headers=tenant.headers)
    assert unchanged.json() == created


async def test_another_organizations_credentials_are_not_found(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    created = await _create(client, tenant, provider="gemini", api_key="AIza0123456789abcdef")
    path = f"/api/v1/credentials/{created['id']}"
    for response in (
        await client.get(path, headers=other_tenant.headers),
        await client.patch(
            path, json={"api_key": "stolen-0123456789"}, headers=other_tenant.headers
        ),
        await client.delete(path, headers=other_tenant.headers),
    ):
        assert response.status_code == 404
    listed = await client.get("/api/v1/credentials", headers=other_tenant.headers)
    assert listed.json() == []
    still = await client.get(path, headers=tenant.headers)
    assert still.json() == created


async def test_user_scoped_keys_read_but_do_not_write(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await _create(client, tenant, provider="groq", api_key="gsk_0123456789abcdef")
    member = await make_tenant(app, "Acme", scope="user", organization_id=tenant.organization_id)
    listed = await client.get("/api/v1/credentials", headers=member.headers)
    assert [c["api_key"] for c in listed.json()] == ["gsk…cdef"]
    path = f"/api/v1/credentials/{created['id']}"
    for response in (
        await client.post(
            "/api/v1/credentials",
            json={"provider": "xai", "api_key": "xai-0123"},
            headers=member.headers,
        ),
        await client.patch(path, json={"api_key": "gsk_new"}, headers=member.headers),
        await client.delete(path, headers=member.headers),
    ):
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "forbidden"


async def test_malformed_ids_and_missing_credentials(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    assert (await client.get("/api/v1/credentials/999", headers=tenant.headers)).status_code == 404
    assert (await client.get("/api/v1/credentials/abc", headers=tenant.headers)).status_code == 422
    assert (await client.get("/api/v1/credentials")).status_code == 401


async def test_twilio_credentials_are_proven_with_twilio_when_stored(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, twilio: FakeTwilioApi
) -> None:
    """Naming an account is not owning it: Twilio must accept the token, on create and
    on every change; a refusal or an outage stores nothing."""
    for account_sid, token in ((ACCOUNT_SID, "made-up-token"), (OTHER_ACCOUNT_SID, AUTH_TOKEN)):
        refused = await _refused(
            client, tenant, {"provider": "twilio", "account_sid": account_sid, "auth_token": token}
        )
        assert refused["code"] == "validation_failed"
        assert _fields(refused) == {"auth_token"}
        assert refused["error"].startswith("Twilio refused these credentials")
        assert account_sid in refused["error"]
        assert token not in str(refused)
    asked = [(method, path) for method, path, _ in twilio.requests]
    assert asked == [
        ("GET", f"/2010-04-01/Accounts/{ACCOUNT_SID}.json"),
        ("GET", f"/2010-04-01/Accounts/{OTHER_ACCOUNT_SID}.json"),
    ]
    assert (await client.get("/api/v1/credentials", headers=tenant.headers)).json() == []

    created = await _create(
        client, tenant, provider="twilio", account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN
    )
    path = f"/api/v1/credentials/{created['id']}"
    wrong = await client.patch(path, json={"auth_token": "made-up-token"}, headers=tenant.headers)
    assert wrong.status_code == 422, wrong.text
    assert _fields(wrong.json()) == {"auth_token"}
    moved = await client.patch(
        path, json={"account_sid": OTHER_ACCOUNT_SID}, headers=tenant.headers
    )
    assert moved.status_code == 422, moved.text
    twilio.down = True
    rotated_token = "0123456789abcdef0123456789abcdef"
    outage = await client.patch(path, json={"auth_token": rotated_token}, headers=tenant.headers)
    assert outage.status_code == 502, outage.text
    assert outage.json()["code"] == "carrier_unavailable"

    state = app.state.callwright
    async with state.session_factory() as session:
        kept = await organization_credential(
            session, state.secret_box, tenant.organization_id, "twilio"
        )
    assert kept == {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN}

    # Rotated at Twilio, then here: the new token is proven and stored.
    twilio.down = False
    twilio.tokens[ACCOUNT_SID] = rotated_token
    rotated = await client.patch(path, json={"auth_token": rotated_token}, headers=tenant.headers)
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["auth_token"] == "012…cdef"


async def test_twilio_out_of_reach_is_a_502_and_nothing_is_stored(settings: Settings) -> None:
    sock, url = unreachable_url()
    app = create_app(settings.model_copy(update={"twilio_api_base_url": url}))
    try:
        async with app.router.lifespan_context(app):
            tenant = await make_tenant(app)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                body = {"provider": "twilio", "account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN}
                refused = await _refused(http, tenant, body, 502)
                assert refused["code"] == "carrier_unavailable"
                assert refused["error"].startswith("Twilio could not be reached")
                listed = await http.get("/api/v1/credentials", headers=tenant.headers)
                assert listed.json() == []
    finally:
        sock.close()


async def test_a_playht_credential_holds_its_user_id_beside_the_key(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    refused = await _refused(client, tenant, {"provider": "playht", "api_key": "ph-key-0123"})
    assert _fields(refused) == {"user_id"}
    created = await _create(
        client, tenant, provider="playht", api_key="ph-key-0123456789", user_id=" user-42 "
    )
    assert created["user_id"] == "user-42"
    assert created["api_key"] != "ph-key-0123456789"  # masked
    refused = await _refused(
        client, tenant, {"provider": "openai", "api_key": "sk-0123", "user_id": "user-42"}
    )
    assert _fields(refused) == {"user_id"}
