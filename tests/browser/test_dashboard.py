"""The dashboard in headless Chromium against a real ``callwright serve`` on SQLite:
sign in with the credentials the first run prints, the API's errors where the API
sends them, the assistants list, and the editor. Every page is screenshotted into
``$CALLWRIGHT_SCREENSHOTS`` (a temporary folder by default); the README's are from here.
Needs Debian's ``chromium``, Playwright and the built dashboard (``./dev`` builds it).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import server as live
from tests.browser.chromium import CHROMIUM, launch_arguments, require_browser
from tests.conftest import IN_CI
from tests.dashboard.sources import built_manifest

require_browser()
if built_manifest() is None:
    if IN_CI:
        pytest.fail("the dashboard is not built (CI=true: it must be)", pytrace=False)
    pytest.skip("the dashboard is not built (./dev builds it)", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

# Hang detectors only: the machine is shared.
STEP_MS = 30_000


@dataclass
class Server:
    """The live server and the bootstrap user and key its first run printed."""

    url: str
    email: str
    password: str
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(
            method, f"{self.url}{path}", headers=self.headers, timeout=30, **kwargs
        )

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self.api("POST", "/api/v1/assistants", json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("dashboard")
    env = live.environment(f"sqlite+aiosqlite:///{root / 'callwright.db'}", root / "data")
    with live.live_server(env, root / "server.log", timeout_s=60) as running:
        assert running.bootstrap_api_key, running.output
        password = re.search(r"(\S+@\S+) \(password (\S+)\)", running.output[0])
        assert password, running.output
        yield Server(running.url, password[1], password[2], running.bootstrap_api_key)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=launch_arguments()
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get("CALLWRIGHT_SCREENSHOTS")
    folder = Path(configured) if configured else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class Tab:
    """A page of a fresh browser context, and what it did that it should not have."""

    page: Page
    server: Server
    screenshots: Path
    problems: list[str] = field(default_factory=list)

    def shoot(self, name: str) -> None:
        self.page.screenshot(path=self.screenshots / f"{name}.png")

    def sign_in(self) -> None:
        self.page.goto(f"{self.server.url}/")
        self.page.fill("#email", self.server.email)
        self.page.fill("#password", self.server.password)
        self.page.click("#sign-in")
        expect(self.page.locator("#signed-in-as")).to_have_text(self.server.email)


@pytest.fixture
def tab(browser: Browser, server: Server, screenshots: Path) -> Iterator[Tab]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(STEP_MS)
    page = context.new_page()
    opened = Tab(page, server, screenshots)
    # Nothing may fail on the page, be refused by its policy, or leave this origin.
    page.on("pageerror", lambda error: opened.problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: (
            opened.problems.append(f"console: {message.text}")
            if message.type == "error" and "status of 4" not in message.text
            else None
        ),
    )
    page.on(
        "request",
        lambda request: (
            None
            if request.url.startswith(server.url)
            else opened.problems.append(f"external request: {request.url}")
        ),
    )
    try:
        yield opened
        assert opened.problems == []
    finally:
        context.close()


def test_sign_in_with_the_printed_credentials_then_sign_out(tab: Tab) -> None:
    page = tab.page
    page.goto(f"{tab.server.url}/app/assistants")
    expect(page).to_have_url(re.compile(r"/app/login\?next=%2Fapp%2Fassistants$"))
    tab.shoot("sign-in")

    page.get_by_label("Email").fill(tab.server.email)
    page.get_by_label("Password").fill(tab.server.password)
    page.get_by_role("button", name="Sign in").click()

    expect(page.locator("#signed-in-as")).to_have_text(tab.server.email)
    expect(page).to_have_url(f"{tab.server.url}/app/assistants")
    cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
    assert cookies["auth-token"]["httpOnly"] is True

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/app/login$"))
    # The session is over on the server, not only in the page.
    page.goto(f"{tab.server.url}/app/assistants")
    expect(page).to_have_url(re.compile(r"/app/login\?next="))
    assert "auth-token" not in {cookie["name"] for cookie in page.context.cookies()}


def test_a_wrong_password_shows_the_apis_error(tab: Tab) -> None:
    expected = httpx.post(
        f"{tab.server.url}/auth/login",
        json={"email": tab.server.email, "password": "not the password"},
        timeout=30,
    )
    assert expected.status_code == 401

    page = tab.page
    page.goto(f"{tab.server.url}/app/login")
    page.get_by_label("Email").fill(tab.server.email)
    page.get_by_label("Password").fill("still not the password")
    page.get_by_role("button", name="Sign in").click()

    expect(page.locator("#sign-in-error")).to_have_text(expected.json()["error"])
    expect(page.locator("#signed-in-as")).to_have_count(0)
    tab.shoot("sign-in-refused")
