"""The per-process API-key cache: a key that authenticated lately costs no query; a
revocation in this process refuses the key on the very next request; tenancy is the
database's, never another key's; expiry brings the database back (and with it a user's
deactivation); cookie sessions are never cached, so an expired one is refused at once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, update

from callwright.domain.accounts.service import AccountsService, ApiKeyCache
from callwright.domain.principal import Principal
from callwright.errors import Unauthorized
from callwright.store.base import utcnow
from callwright.store.models import AuthSession, User
from tests.conftest import Tenant, make_tenant


@contextmanager
def recorded_statements(app: FastAPI) -> Iterator[list[str]]:
    """Every SQL statement the app's engine sends while the block runs."""
    engine = app.state.callwright.engine.sync_engine
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _key_queries(statements: list[str]) -> list[str]:
    """Authentication's look-ups (``/me`` reads the key by id too, to describe it)."""
    return [s for s in statements if "api_keys.key_hash =" in s]


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_cached_key_costs_no_key_query(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    with recorded_statements(app) as first:
        assert (await client.get("/api/v1/assistants", headers=tenant.headers)).status_code == 200
    with recorded_statements(app) as second:
        assert (await client.get("/api/v1/assistants", headers=tenant.headers)).status_code == 200
    # x-api-key is the same key, so the same cache entry.
    with recorded_statements(app) as third:
        response = await client.get("/api/v1/assistants", headers={"x-api-key": tenant.api_key})
        assert response.status_code == 200

    assert len(_key_queries(first)) == 1
    for cached in (second, third):  # neither the key nor its user is read, nor written
        assert [s for s in cached if "api_keys" in s or "users" in s] == []
        assert len(cached) == 1  # the assistants alone


async def test_a_revoked_key_is_refused_on_the_very_next_request(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await client.post("/api/v1/api-keys", json={"name": "ci"}, headers=tenant.headers)
    key = created.json()
    assert (await client.get("/api/v1/me", headers=_bearer(key["key"]))).status_code == 200
    with recorded_statements(app) as statements:
        assert (await client.get("/api/v1/me", headers=_bearer(key["key"]))).status_code == 200
    assert _key_queries(statements) == [], "the key must be cached for this test to mean much"

    revoked = await client.delete(f"/api/v1/api-keys/{key['id']}", headers=tenant.headers)
    after = await client.get("/api/v1/me", headers=_bearer(key["key"]))

    assert revoked.status_code == 200
    assert after.status_code == 401
    assert (await client.get("/api/v1/me", headers=tenant.headers)).status_code == 200


async def test_a_key_revoking_itself_is_refused_next(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    me = await client.get("/api/v1/me", headers=tenant.headers)
    key_id = me.json()["api_key"]["id"]
    revoked = await client.delete(f"/api/v1/api-keys/{key_id}", headers=tenant.headers)
    assert revoked.status_code == 200
    assert (await client.get("/api/v1/me", headers=tenant.headers)).status_code == 401


async def test_another_organizations_key_never_sees_a_cached_result(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    created = await client.post(
        "/api/v1/assistants",
        json={"name": "acme bot", "llm_provider_config": {"api_key": "sk-acme-0123456789abcdef"}},
        headers=tenant.headers,
    )
    assistant_id = created.json()["id"]
    # Both keys and Acme's assistant view are cached from here on.
    for _ in range(2):
        response = await client.get(f"/api/v1/assistants/{assistant_id}", headers=tenant.headers)
        assert response.status_code == 200
        assert (await client.get("/api/v1/me", headers=other_tenant.headers)).status_code == 200

    with recorded_statements(app) as statements:
        mine = await client.get(f"/api/v1/assistants/{assistant_id}", headers=tenant.headers)
        theirs = await client.get(
            f"/api/v1/assistants/{assistant_id}", headers=other_tenant.headers
        )
        their_list = await client.get("/api/v1/assistants", headers=other_tenant.headers)
        their_me = await client.get("/api/v1/me", headers=other_tenant.headers)
        my_me = await client.get("/api/v1/me", headers=tenant.headers)

    assert _key_queries(statements) == []  # every answer came through the cache
    assert mine.status_code == 200
    assert mine.json()["organization_id"] == tenant.organization_id
    assert theirs.status_code == 404
    assert their_list.json() == []
    assert their_me.json()["organization"]["id"] == other_tenant.organization_id
    assert my_me.json()["organization"]["id"] == tenant.organization_id


async def test_a_user_scoped_key_sees_no_cached_view_of_a_colleagues_assistant(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    scoped = await make_tenant(app, "Acme", scope="user", organization_id=tenant.organization_id)
    created = await client.post("/api/v1/assistants", json={"name": "x"}, headers=tenant.headers)
    path = f"/api/v1/assistants/{created.json()['id']}"
    assert (await client.get(path, headers=tenant.headers)).status_code == 200
    assert (await client.get(path, headers=scoped.headers)).status_code == 404
    assert (await client.get(path, headers=scoped.headers)).status_code == 404


async def test_expiry_reads_the_database_again_and_sees_a_deactivated_user(
    app: FastAPI, tenant: Tenant
) -> None:
    clock = FakeClock()
    cache = ApiKeyCache(ttl_s=5.0, clock=clock)
    factory = app.state.callwright.session_factory

    async def authenticate() -> Principal:
        async with factory() as session:
            principal = await AccountsService(session, cache).authenticate_api_key(tenant.api_key)
            await session.commit()
            return principal

    principal = await authenticate()
    async with factory() as session:
        await session.execute(update(User).where(User.id == tenant.user_id).values(is_active=False))
        await session.commit()

    clock.now += 4.9  # within the TTL: the deactivation is not seen yet (documented)
    assert await authenticate() == principal
    clock.now += 0.2
    with pytest.raises(Unauthorized):
        await authenticate()
    with pytest.raises(Unauthorized):  # a failure is never cached
        await authenticate()


def test_a_read_under_way_during_an_invalidation_is_not_kept() -> None:
    cache = ApiKeyCache(ttl_s=5.0, clock=FakeClock())
    principal = Principal(1, 1, "organization", "api_key", api_key_id=1)
    generation = cache.generation  # a request starts its database read...
    cache.invalidate("digest")  # ...a revocation commits meanwhile...
    cache.store("digest", principal, generation)  # ...its (maybe stale) result is dropped
    assert cache.get("digest") is None
    cache.store("digest", principal, cache.generation)
    assert cache.get("digest") == principal


async def test_a_revocation_invalidates_on_commit_not_before_nor_on_rollback(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await client.post("/api/v1/api-keys", json={"name": "ci"}, headers=tenant.headers)
    key = created.json()
    assert (await client.get("/api/v1/me", headers=_bearer(key["key"]))).status_code == 200
    me = await client.get("/api/v1/me", headers=tenant.headers)
    owner = Principal(tenant.organization_id, tenant.user_id, "organization", "api_key")
    assert me.json()["organization"]["id"] == owner.organization_id
    factory = app.state.callwright.session_factory

    async with factory() as session:
        await AccountsService(session).revoke_api_key(owner, key["id"])
        await session.rollback()
    assert (await client.get("/api/v1/me", headers=_bearer(key["key"]))).status_code == 200

    async with factory() as session:
        await AccountsService(session).revoke_api_key(owner, key["id"])
        # Flushed, not committed: still valid, and still cached.
        assert (await client.get("/api/v1/me", headers=_bearer(key["key"]))).status_code == 200
        await session.commit()
    assert (await client.get("/api/v1/me", headers=_bearer(key["key"]))).status_code == 401


async def test_an_expired_cookie_session_is_refused_at_once(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    login = await client.post(
        "/auth/login", json={"email": tenant.email, "password": tenant.password}
    )
    assert login.status_code == 200
    assert (await client.get("/api/v1/me")).status_code == 200
    async with app.state.callwright.session_factory() as session:
        await session.execute(update(AuthSession).values(expires_at=utcnow() - timedelta(1)))
        await session.commit()
    assert (await client.get("/api/v1/me")).status_code == 401
