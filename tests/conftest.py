"""Fixtures shared by the suite.

Storage tests run against both backends: a SQLite file copied from a migrated template
per test, and a PostgreSQL database per test session (per xdist worker) built by the
migrations and truncated before each test. Postgres and Redis are the local services;
when CI=true a missing service fails the run instead of skipping (``tests.support.optional``).
"""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from callwright.api.app import create_app
from callwright.domain.accounts.service import AccountsService
from callwright.settings import Settings
from callwright.store.database import create_engine
from callwright.store.migrate import upgrade_to_head
from tests.support.optional import unavailable

POSTGRES_ADMIN_DSN = os.environ.get(
    "CALLWRIGHT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TEST_SECRET_KEY = "test-secret-key-" + "x" * 40
LOOPBACK_FAKES = "127.0.0.1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``live`` reach real vendors: they run only with CALLWRIGHT_LIVE=1."""
    if os.environ.get("CALLWRIGHT_LIVE") == "1":
        return
    skip = pytest.mark.skip(reason="talks to a real vendor: set CALLWRIGHT_LIVE=1")
    for item in items:
        if "live" in item.keywords:
            item.add_marker(skip)


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "callwright.db"
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    name = f"cw_test_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        connection = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    async def drop() -> None:
        connection = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()

    try:
        asyncio.run(create())
    except (OSError, asyncpg.PostgresError) as exc:
        unavailable(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_DSN}: {exc}")
    base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    url = f"{base}/{name}"
    asyncio.run(_migrate(url))
    yield url
    asyncio.run(drop())


async def _truncate(url: str) -> None:
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn, timeout=5)
    try:
        tables = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'alembic_version'"
        )
        names = ", ".join(f'"{row["tablename"]}"' for row in tables)
        await connection.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "callwright.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    asyncio.run(_truncate(url))
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        secret_key=TEST_SECRET_KEY,
        redis_url=None,
        rate_limit_per_key_per_minute=10_000,
        rate_limit_per_ip_per_minute=10_000,
        # The tests' own fakes (vendors, webhook receivers, tool servers) listen on
        # 127.0.0.1: they are reached through the operator's setting, as an internal
        # host would be, not around the outbound-URL policy.
        outbound_allowed_hosts=LOOPBACK_FAKES,
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@dataclass(frozen=True)
class Tenant:
    """An organization with one user and one API key."""

    organization_id: int
    user_id: int
    email: str
    password: str
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


async def make_tenant(
    app: FastAPI,
    name: str = "Acme",
    *,
    scope: str = "organization",
    organization_id: int | None = None,
) -> Tenant:
    """Create (or join) an organization, a user and a key straight through the service."""
    factory = app.state.callwright.session_factory
    async with factory() as session:
        accounts = AccountsService(session)
        if organization_id is None:
            organization_id = (await accounts.create_organization(name)).id
        email = f"{uuid.uuid4().hex[:8]}@{name.lower()}.test"
        user = await accounts.create_user(organization_id, email, "correct horse battery")
        _, key = await accounts.issue_api_key(
            organization_id, user.id, "test", "user" if scope == "user" else "organization"
        )
        await session.commit()
    return Tenant(organization_id, user.id, email, "correct horse battery", key)


@pytest.fixture
async def tenant(app: FastAPI) -> Tenant:
    return await make_tenant(app, "Acme")


@pytest.fixture
async def other_tenant(app: FastAPI) -> Tenant:
    return await make_tenant(app, "Globex")


@pytest.fixture
def collector_off() -> Iterator[None]:
    """The cyclic garbage collector off for the test (after one pass), so that what a
    test leaves to reference counting alone can be checked; ``gc.DEBUG_SAVEALL`` and
    what it kept are cleared afterwards."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
