"""The organization's signing secret: derived until rotated, stored encrypted once
rotated, shown whole to organization-scoped keys only, and what signs webhooks."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.domain.signing_secrets import signing_secret_for
from callwright.security.signing import organization_signing_secret
from callwright.settings import Settings
from callwright.store.models import Organization
from tests.conftest import TEST_SECRET_KEY, Tenant, make_tenant
from tests.webhooks.conftest import all_delivered, dispatching, enqueue_events, eventually
from tests.webhooks.receiver import Receiver

SECRET = "/api/v1/organization/signing-secret"


async def test_the_secret_is_derived_until_rotated(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    response = await client.get(SECRET, headers=tenant.headers)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body == {
        "signing_secret": organization_signing_secret(TEST_SECRET_KEY, tenant.organization_id),
        "source": "derived",
        "algorithm": "HMAC-SHA256",
        "signed_content": "{timestamp}.{raw body}",
        "signature_header": "X-Callwright-Signature",
        "timestamp_header": "X-Callwright-Timestamp",
    }
    other = (await client.get(SECRET, headers=other_tenant.headers)).json()
    assert other["signing_secret"] != body["signing_secret"]


async def test_rotation_replaces_the_secret_and_signs_what_follows(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    tenant: Tenant,
) -> None:
    before = (await client.get(SECRET, headers=tenant.headers)).json()["signing_secret"]
    rotated = await client.post(f"{SECRET}/rotate", headers=tenant.headers)
    assert rotated.status_code == 200, rotated.text
    after = rotated.json()
    assert after["source"] == "rotated"
    assert len(after["signing_secret"]) == 64
    assert after["signing_secret"] != before
    shown = (await client.get(SECRET, headers=tenant.headers)).json()
    assert (shown["signing_secret"], shown["source"]) == (after["signing_secret"], "rotated")
    again = (await client.post(f"{SECRET}/rotate", headers=tenant.headers)).json()
    assert again["signing_secret"] not in (before, after["signing_secret"])

    async with sessions() as session:
        stored = (
            await session.execute(
                select(Organization.signing_secret).where(Organization.id == tenant.organization_id)
            )
        ).scalar_one()
        assert stored is not None
        assert stored.startswith("enc:v1:")
        assert again["signing_secret"] not in stored
        assert (
            await signing_secret_for(session, settings, tenant.organization_id)
            == (again["signing_secret"])
        )

    receiver = Receiver(lambda: {"before": before, "current": again["signing_secret"]})
    await enqueue_events(sessions, tenant.organization_id, receiver.url, 2)
    async with receiver.serving(), dispatching(sessions, settings):
        await eventually(all_delivered(sessions))
    assert [r.signed_by for r in receiver.requests] == ["current", "current"]


async def test_user_scoped_keys_cannot_read_or_rotate_it(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    member = await make_tenant(app, "Acme", scope="user", organization_id=tenant.organization_id)
    before = (await client.get(SECRET, headers=tenant.headers)).json()
    for response in [
        await client.get(SECRET, headers=member.headers),
        await client.post(f"{SECRET}/rotate", headers=member.headers),
    ]:
        assert response.status_code == 403
        assert response.json()["code"] == "forbidden"
        assert "organization-scoped" in response.json()["error"]
    assert (await client.get(SECRET, headers=tenant.headers)).json() == before
    assert (await client.get(SECRET)).status_code == 401
