"""The dashboard served by the app: its page at ``/`` and under its sections, hashed
assets, a strict policy, and the API's own 404s left alone."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from callwright.api.app import create_app
from callwright.settings import Settings
from tests.conftest import TEST_SECRET_KEY

INDEX = b'<!doctype html><title>callwright</title><script src="/assets/app-AB12.js"></script>'
SCRIPT = b"console.log('dashboard')"


def _build(folder: Path, sections: list[str]) -> Path:
    (folder / "assets").mkdir(parents=True)
    (folder / "index.html").write_bytes(INDEX)
    (folder / "assets" / "app-AB12.js").write_bytes(SCRIPT)
    (folder / "assets" / "app-CD34.css").write_bytes(b"body{}")
    manifest = {
        "sources_sha256": "0" * 64,
        "sections": sections,
        "assets": ["app-AB12.js", "app-CD34.css"],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def _settings(tmp_path: Path, database: Path | None = None) -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{database or tmp_path / 'unused.db'}",
        data_dir=tmp_path / "data",
        secret_key=TEST_SECRET_KEY,
        redis_url=None,
    )


@pytest.fixture
async def client(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A started app (the API's routes answer as in production) with a small build."""
    database = tmp_path / "callwright.db"
    shutil.copy(sqlite_template, database)
    build = _build(tmp_path / "build", ["app", "help"])
    app = create_app(_settings(tmp_path, database), dashboard_directory=build)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as http,
    ):
        yield http


@pytest.mark.parametrize("path", ["/", "/app", "/app/login", "/app/assistants/12", "/help/x/y"])
async def test_the_page_answers_at_the_root_and_under_every_section(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)

    assert response.status_code == 200
    assert response.content == INDEX
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self';" in policy
    assert "style-src 'self';" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe" not in policy


async def test_assets_are_served_immutable_by_their_hashed_names(
    client: httpx.AsyncClient,
) -> None:
    script = await client.get("/assets/app-AB12.js")
    style = await client.get("/assets/app-CD34.css")
    missing = await client.get("/assets/app-ZZZZ.js")
    outside = await client.get("/assets/..%2Fmanifest.json")

    assert script.content == SCRIPT
    assert script.headers["content-type"].startswith("text/javascript")
    assert "immutable" in script.headers["cache-control"]
    assert script.headers["x-content-type-options"] == "nosniff"
    assert style.headers["content-type"].startswith("text/css")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    assert outside.status_code == 404


@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/nothing-here", "/appx"])
async def test_other_unknown_paths_keep_the_api_404(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")


async def test_the_api_and_the_playground_are_not_shadowed(client: httpx.AsyncClient) -> None:
    health = await client.get("/healthz")
    seed_001 = await client.get("/assistants/12")
    unauthenticated = await client.get("/api/v1/assistants")
    playground = await client.get("/playground")

    assert health.json()["status"] == "ok"
    assert seed_001.status_code == 401  # the API's, not the page
    assert unauthenticated.status_code == 401
    assert b'id="assistant"' in playground.content


async def test_without_a_build_the_root_says_how_to_build_it(tmp_path: Path) -> None:
    # Neither request reaches the database: the app is not even started.
    app = create_app(_settings(tmp_path), dashboard_directory=tmp_path / "not-built")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get("/")
        assets = await http.get("/assets/app-AB12.js")

    assert response.status_code == 503
    assert "./dev serve" in response.text
    assert assets.status_code == 404


# assistants: seed 001's GET /assistants/{id}; docs: FastAPI's own page.
@pytest.mark.parametrize("section", ["api", "playground", "assets", "assistants", "docs"])
def test_a_section_may_not_shadow_the_apps_routes(tmp_path: Path, section: str) -> None:
    build = _build(tmp_path / "build", ["app", section])

    with pytest.raises(ValueError, match=section):
        create_app(_settings(tmp_path), dashboard_directory=build)
