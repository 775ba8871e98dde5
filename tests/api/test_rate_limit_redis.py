"""With REDIS_URL set, every server process draws on one shared budget."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio as redis
from fastapi import FastAPI

from callwright.api.app import create_app
from callwright.settings import Settings
from tests.conftest import TEST_SECRET_KEY, make_tenant
from tests.support.optional import unavailable

REDIS_URL = os.environ.get("CALLWRIGHT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

pytestmark = pytest.mark.redis


@pytest.fixture
async def namespace() -> AsyncIterator[str]:
    name = f"cwtest-{uuid.uuid4().hex[:10]}"
    client = redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        await client.ping()
    except (redis.RedisError, OSError) as exc:
        await client.aclose()
        unavailable(f"Redis is not reachable at {REDIS_URL}: {exc}")
    yield name
    keys = [key async for key in client.scan_iter(f"{name}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_two_server_processes_share_one_budget(
    database_url: str, tmp_path: Path, namespace: str
) -> None:
    def node() -> FastAPI:
        return create_app(
            Settings(
                database_url=database_url,
                data_dir=tmp_path / "data",
                secret_key=TEST_SECRET_KEY,
                redis_url=REDIS_URL,
                redis_namespace=namespace,
                rate_limit_per_key_per_minute=4,
                rate_limit_per_ip_per_minute=1000,
            )
        )

    first, second = node(), node()
    async with first.router.lifespan_context(first), second.router.lifespan_context(second):
        tenant = await make_tenant(first)
        statuses = []
        for index in range(6):
            app = (first, second)[index % 2]
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://node"
            ) as client:
                response = await client.get("/api/v1/assistants", headers=tenant.headers)
                statuses.append(response.status_code)
                last = response
    assert statuses == [200, 200, 200, 200, 429, 429]
    assert int(last.headers["retry-after"]) >= 1
