"""The command line: migrations, admin commands, and refusing to serve a database
whose schema is not the one this code needs."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.conftest import POSTGRES_ADMIN_DSN
from tests.server import CALLWRIGHT, environment, live_server
from tests.support.optional import unavailable


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CALLWRIGHT, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_admin_commands_create_an_org_a_user_and_a_working_key(tmp_path: Path) -> None:
    env = environment(f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}", tmp_path / "data")

    upgraded = run(env, "db", "upgrade")
    org = run(env, "admin", "create-org", "--name", "Initech")
    user = run(
        env,
        "admin",
        "create-user",
        "--org",
        org.stdout.strip(),
        "--email",
        "Peter@Initech.test",
        "--password",
        "tps-reports",
    )
    key = run(
        env, "admin", "create-api-key", "--org", org.stdout.strip(), "--email", "peter@initech.test"
    )
    duplicate = run(
        env,
        "admin",
        "create-user",
        "--org",
        org.stdout.strip(),
        "--email",
        "peter@initech.test",
        "--password",
        "x",
    )
    stranger = run(env, "admin", "create-api-key", "--org", "999", "--email", "peter@initech.test")

    assert upgraded.returncode == 0, upgraded.stderr
    assert org.stdout.strip().isdigit()
    assert user.returncode == 0, user.stderr
    assert key.stdout.strip().startswith("cw_")
    assert duplicate.returncode != 0
    assert "already exists" in duplicate.stderr
    assert stranger.returncode != 0
    with live_server(env, tmp_path / "server.log") as server:
        assert server.bootstrap_api_key is None  # not an empty database: no bootstrap
        me = httpx.get(
            f"{server.url}/api/v1/me", headers={"Authorization": f"Bearer {key.stdout.strip()}"}
        )
        login = httpx.post(
            f"{server.url}/auth/login",
            json={"email": "peter@initech.test", "password": "tps-reports"},
        )
    assert me.status_code == 200
    assert me.json()["organization"]["name"] == "Initech"
    assert login.status_code == 200


def test_admin_commands_refuse_an_unmigrated_database(tmp_path: Path) -> None:
    env = environment(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}", tmp_path / "data")
    result = run(env, "admin", "create-org", "--name", "x")
    assert result.returncode != 0
    assert "callwright db upgrade" in result.stderr


def test_serve_refuses_an_unmigrated_postgres_database(tmp_path: Path) -> None:
    import asyncio

    # Unique per run: concurrent test runs share the one PostgreSQL server.
    name = f"cw_unmigrated_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    try:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        unavailable(f"PostgreSQL is not reachable: {exc}")
    try:
        base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0]
        env = environment(f"{base}/{name}", tmp_path / "data")
        result = run(env, "serve", "--port", "1")
        assert result.returncode != 0
        assert "run `callwright db upgrade` first" in result.stderr
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_production_refuses_a_missing_or_weak_secret_key(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'prod.db'}"
    for key in (None, "change-me", "short"):
        extra = {"CALLWRIGHT_ENVIRONMENT": "production"}
        if key:
            extra["CALLWRIGHT_SECRET_KEY"] = key
        result = run(environment(url, tmp_path / "data", **extra), "serve", "--port", "1")
        assert result.returncode != 0, key
        assert "CALLWRIGHT_SECRET_KEY" in result.stderr


@pytest.mark.parametrize("url", ["postgres://u@h/db", "postgresql://u@h/db", "sqlite:///x.db"])
def test_database_urls_from_hosting_platforms_get_the_async_driver(url: str) -> None:
    from callwright.settings import Settings

    resolved = Settings(database_url=url).resolved_database_url
    assert resolved.split("://")[0] in ("postgresql+asyncpg", "sqlite+aiosqlite")
