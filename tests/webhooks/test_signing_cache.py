"""The dispatcher's cache of signing secrets: a rotation in this process signs the very
next delivery, another process's rotation is seen within the TTL, a read that raced a
rotation is not kept, and deliveries after the first cost no query for the secret."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.domain.signing_secrets import (
    CACHE_TTL_S,
    SigningSecretCache,
    rotate_signing_secret,
)
from callwright.security.crypto import SecretBox, SecretDecryptionError
from callwright.settings import Settings
from callwright.store.models import Organization
from tests.conftest import Tenant
from tests.webhooks.conftest import (
    add_call,
    all_delivered,
    current_secret,
    deliveries,
    dispatching,
    enqueue_events,
    eventually,
)
from tests.webhooks.receiver import Receiver

ROTATE = "/api/v1/organization/signing-secret/rotate"


@contextmanager
def secret_reads(app: FastAPI) -> Iterator[list[str]]:
    """Every statement that reads an organization's signing secret, while the block runs."""
    engine = app.state.callwright.engine.sync_engine
    reads: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if "organizations.signing_secret" in statement and statement.lstrip().startswith("SELECT"):
            reads.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield reads
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def store_secret(
    sessions: async_sessionmaker[AsyncSession], organization_id: int, stored: str
) -> None:
    """Write the column as another server process's rotation would (no invalidation here)."""
    async with sessions() as session:
        await session.execute(
            update(Organization)
            .where(Organization.id == organization_id)
            .values(signing_secret=stored)
        )
        await session.commit()


async def test_a_rotation_signs_the_next_delivery_at_once(
    client: httpx.AsyncClient,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    tenant: Tenant,
) -> None:
    secrets = {"derived": await current_secret(sessions, settings, tenant.organization_id)}
    receiver = Receiver(lambda: secrets)
    call_id = await add_call(sessions, tenant.organization_id)

    async with receiver.serving(), dispatching(sessions, settings):
        await enqueue_events(sessions, tenant.organization_id, receiver.url, 1, call_id=call_id)
        await eventually(all_delivered(sessions))  # the dispatcher has cached the secret
        rotated = await client.post(ROTATE, headers=tenant.headers)
        assert rotated.status_code == 200, rotated.text
        secrets["rotated"] = rotated.json()["signing_secret"]
        # Well within the TTL: only the invalidation at commit can make this one "rotated".
        await enqueue_events(sessions, tenant.organization_id, receiver.url, 1, call_id=call_id)
        await eventually(all_delivered(sessions))

    assert [r.signed_by for r in receiver.requests] == ["derived", "rotated"]


async def test_deliveries_after_the_first_do_not_read_the_secret(
    app: FastAPI,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    tenant: Tenant,
    other_tenant: Tenant,
) -> None:
    organizations = (tenant.organization_id, other_tenant.organization_id)
    secrets = {str(org): await current_secret(sessions, settings, org) for org in organizations}
    receiver = Receiver(lambda: secrets)
    for org in organizations:
        # One call each: its events go one at a time, so no two reads race on a cold cache.
        call_id = await add_call(sessions, org)
        await enqueue_events(sessions, org, receiver.url, 6, call_id=call_id)

    with secret_reads(app) as reads:
        async with receiver.serving(), dispatching(sessions, settings):
            await eventually(all_delivered(sessions))

    assert len(receiver.requests) == 12
    assert sorted(r.signed_by or "" for r in receiver.requests) == sorted(
        [str(org) for org in organizations] * 6
    )
    assert len(reads) == 2  # one per organization, not one per delivery


async def test_another_process_rotation_is_seen_after_the_ttl(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    now = [1000.0]
    cache = SigningSecretCache(sessions, settings, clock=lambda: now[0])
    org = tenant.organization_id
    derived = await cache.get(org)
    await store_secret(sessions, org, SecretBox(settings.resolved_secret_key()).encrypt("new"))

    now[0] += CACHE_TTL_S - 0.1
    assert await cache.get(org) == derived  # cached: the other process is not asked
    now[0] += 0.2
    assert await cache.get(org) == "new"


async def test_a_read_that_raced_a_rotation_is_not_kept(
    app: FastAPI, settings: Settings, sessions: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    org = tenant.organization_id
    read, proceed = asyncio.Event(), asyncio.Event()

    class PausedAfterRead(AsyncSession):
        """A real session that holds its caller after each statement, until told."""

        async def execute(self, *args: Any, **kwargs: Any) -> Any:
            result = await super().execute(*args, **kwargs)
            read.set()
            await proceed.wait()
            return result

    paused = async_sessionmaker(
        app.state.callwright.engine, class_=PausedAfterRead, expire_on_commit=False
    )
    cache = SigningSecretCache(paused, settings)
    async with sessions() as rotating:
        new = await rotate_signing_secret(rotating, settings, org)
        lookup = asyncio.create_task(cache.get(org))
        async with asyncio.timeout(10):
            await read.wait()  # it has read the secret the rotation has not committed yet
        await rotating.commit()
    proceed.set()
    old = await lookup
    assert old != new  # that read really saw the old secret

    assert await cache.get(org) == new


async def test_an_undecryptable_secret_is_a_failed_attempt_and_is_not_cached(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    org = tenant.organization_id
    await store_secret(sessions, org, SecretBox("another-server-key-" + "y" * 40).encrypt("s"))
    cache = SigningSecretCache(sessions, settings)
    with pytest.raises(SecretDecryptionError):
        await cache.get(org)

    receiver = Receiver()
    (event_id,) = await enqueue_events(sessions, org, receiver.url, 1)
    async with receiver.serving(), dispatching(sessions, settings):

        async def refused() -> bool:
            return bool(await deliveries(sessions, event_id))

        await eventually(refused)
        attempt = (await deliveries(sessions, event_id))[0]
        assert attempt.error is not None
        assert attempt.error.startswith("cannot sign:")
        assert receiver.requests == []
        # Put right: the next attempt signs and delivers (nothing bad was cached).
        await store_secret(sessions, org, SecretBox(settings.resolved_secret_key()).encrypt("s"))
        await eventually(all_delivered(sessions))

    assert await cache.get(org) == "s"
