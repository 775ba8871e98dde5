"""Authentication: API keys (create, list, revoke, last used), the auth-token cookie
with CSRF, logout, the principal endpoint, and request budgets."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from callwright.api.app import create_app
from callwright.settings import Settings
from tests.conftest import TEST_SECRET_KEY, Tenant, make_tenant


async def test_api_key_lifecycle(client: httpx.AsyncClient, tenant: Tenant) -> None:
    created = await client.post("/api/v1/api-keys", json={"name": "ci"}, headers=tenant.headers)
    assert created.status_code == 201
    key = created.json()
    assert key["key"].startswith("cw_")
    assert key["prefix"] == key["key"][:10]

    used = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {key['key']}"})
    listed = await client.get("/api/v1/api-keys", headers=tenant.headers)
    revoked = await client.delete(f"/api/v1/api-keys/{key['id']}", headers=tenant.headers)
    after = await client.get("/api/v1/me", headers={"x-api-key": key["key"]})

    assert used.status_code == 200
    assert used.json()["api_key"]["id"] == key["id"]
    assert used.json()["api_key"]["last_used_at"] is not None
    listing = {row["id"]: row for row in listed.json()}
    assert "key" not in listing[key["id"]]
    assert revoked.json()["revoked_at"] is not None
    assert after.status_code == 401


async def test_keys_of_another_organization_cannot_be_revoked(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    mine = await client.get("/api/v1/me", headers=tenant.headers)
    key_id = mine.json()["api_key"]["id"]
    response = await client.delete(f"/api/v1/api-keys/{key_id}", headers=other_tenant.headers)
    assert response.status_code == 404
    assert (await client.get("/api/v1/me", headers=tenant.headers)).status_code == 200


async def test_user_scoped_key_cannot_mint_an_organization_key(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    scoped = await make_tenant(app, "Acme", scope="user", organization_id=tenant.organization_id)
    response = await client.post(
        "/api/v1/api-keys", json={"scope": "organization"}, headers=scoped.headers
    )
    assert response.status_code == 403


async def test_cookie_login_reads_and_writes_with_csrf(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    bad = await client.post("/auth/login", json={"email": tenant.email, "password": "wrong"})
    assert bad.status_code == 401
    login = await client.post(
        "/auth/login", json={"email": tenant.email.upper(), "password": tenant.password}
    )
    assert login.status_code == 200
    cookie_header = login.headers.get_list("set-cookie")
    assert any(h.startswith("auth-token=") and "HttpOnly" in h for h in cookie_header)
    csrf = login.json()["csrf_token"]

    me = await client.get("/api/v1/me")
    no_csrf = await client.post("/api/v1/assistants", json={"name": "cookie"})
    with_csrf = await client.post(
        "/api/v1/assistants", json={"name": "cookie"}, headers={"X-CSRF-Token": csrf}
    )
    vapi = await client.get(f"/assistants/{with_csrf.json()['id']}")

    assert me.json()["auth_method"] == "session"
    assert me.json()["user"]["email"] == tenant.email
    assert no_csrf.status_code == 403
    assert no_csrf.json()["code"] == "csrf_failed"
    assert with_csrf.status_code == 201
    assert vapi.status_code == 200

    forged_logout = await client.post("/auth/logout")
    logout = await client.post("/auth/logout", headers={"X-CSRF-Token": csrf})
    assert forged_logout.status_code == 403
    assert logout.status_code == 204
    client.cookies.set("auth-token", login.cookies["auth-token"])
    after = await client.get("/api/v1/me")
    assert after.status_code == 401


async def test_a_wrong_header_does_not_fall_back_to_the_cookie(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await client.post("/auth/login", json={"email": tenant.email, "password": tenant.password})
    response = await client.get("/api/v1/me", headers={"Authorization": "Bearer cw_wrong"})
    assert response.status_code == 401


async def test_inactive_user_key_is_401(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    from sqlalchemy import update

    from callwright.store.models import User

    async with app.state.callwright.session_factory() as session:
        await session.execute(update(User).where(User.id == tenant.user_id).values(is_active=False))
        await session.commit()
    response = await client.get("/api/v1/assistants", headers=tenant.headers)
    assert response.status_code == 401


@pytest.fixture
async def tight_app(database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        secret_key=TEST_SECRET_KEY,
        redis_url=None,
        rate_limit_per_key_per_minute=5,
        rate_limit_per_ip_per_minute=8,
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


async def test_a_burst_gets_429_with_retry_after(tight_app: FastAPI) -> None:
    tenant = await make_tenant(tight_app)
    transport = httpx.ASGITransport(app=tight_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        statuses = [
            (await client.get("/api/v1/assistants", headers=tenant.headers)).status_code
            for _ in range(6)
        ]
        limited = await client.get("/api/v1/assistants", headers=tenant.headers)
        # Another key from the same address still has its own budget, until the IP's runs out.
        other = await make_tenant(tight_app, "Other")
        other_statuses = [
            (await client.get("/api/v1/assistants", headers=other.headers)).status_code
            for _ in range(3)
        ]
    assert statuses == [200] * 5 + [429]
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 12
    # The IP budget (8 a minute) was spent by the first key's 7 requests plus one more.
    assert other_statuses == [200, 429, 429]


async def test_password_guessing_is_throttled_per_address_and_email(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    guesses = [
        (
            await client.post("/auth/login", json={"email": tenant.email, "password": f"g{i}"})
        ).status_code
        for i in range(11)
    ]
    other_email = await client.post(
        "/auth/login", json={"email": "someone@else.test", "password": "x"}
    )
    assert guesses == [401] * 10 + [429]
    assert other_email.status_code == 401
