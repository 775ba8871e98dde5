"""The dashboard in headless Chromium against a real ``callwright serve`` on SQLite:
sign in with the credentials the first run prints, the API's errors where the API
sends them, the assistants list, and the editor. Every page is screenshotted into
``$CALLWRIGHT_SCREENSHOTS`` (a temporary folder by default); the README's are from here.
Needs Debian's ``chromium``, Playwright and the built dashboard (``./dev`` builds it).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import server as live
from tests.browser.chromium import CHROMIUM, launch_arguments, require_browser
from tests.calls.harness import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioApi
from tests.dashboard.sources import built_manifest
from tests.support.optional import unavailable

require_browser()
if built_manifest() is None:
    unavailable("the dashboard is not built (./dev builds it)")

from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

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
def twilio() -> Iterator[FakeTwilioApi]:
    """The calls tests' fake Twilio REST API, served from its own event loop in a thread
    (these tests are synchronous) for the server to prove numbers with."""
    fake = FakeTwilioApi()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop = asyncio.Event()

    async def serve() -> None:
        async with fake.serving():
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    try:
        assert ready.wait(30), "the fake Twilio API did not start"
        yield fake
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, twilio: FakeTwilioApi) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("dashboard")
    env = live.environment(
        f"sqlite+aiosqlite:///{root / 'callwright.db'}",
        root / "data",
        CALLWRIGHT_TWILIO_API_BASE_URL=twilio.base_url,
        # Every test signs in anew, and a quiet machine runs more than the default ten
        # a minute: the login throttle is the API tests' (tests/api/test_auth.py).
        CALLWRIGHT_RATE_LIMIT_LOGIN_PER_MINUTE="1000",
    )
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


def test_the_list_searches_filters_and_pages_newest_first(tab: Tab) -> None:
    server = tab.server
    names = [f"Listed {index:02d}" for index in range(22)]
    for name in names:
        server.create({"name": name})
    server.create({"name": "Listed support line", "description": "Tier 1"})
    server.create({"name": "Listed dormant", "is_active": False})
    newest_first = ["Listed dormant", "Listed support line", *reversed(names)]

    tab.sign_in()
    page = tab.page
    page.get_by_label("Search by name").fill("listed")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("#assistants tbody tr td:first-child a")
    expect(rows).to_have_text(newest_first[:20])
    expect(page.locator("#previous-page")).to_be_disabled()
    tab.shoot("assistants")

    page.get_by_role("button", name="Next").click()
    expect(rows).to_have_text(newest_first[20:])
    expect(page.locator("#next-page")).to_be_disabled()
    expect(page).to_have_url(re.compile(r"[?&]page=2"))

    page.get_by_label("Search by name").fill("SUPPORT")
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_text(["Listed support line"])

    page.get_by_label("Search by name").fill("listed d")
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_text(["Listed dormant"])
    page.get_by_label("Active only").check()
    expect(page.locator("#no-assistants")).to_be_visible()

    # The filters live in the URL: a reload keeps them.
    page.reload()
    expect(page.get_by_label("Active only")).to_be_checked()
    expect(page.get_by_label("Search by name")).to_have_value("listed d")


def test_create_in_the_editor_with_the_422_shown_on_its_field(tab: Tab) -> None:
    tab.sign_in()
    page = tab.page
    page.get_by_role("link", name="New assistant").click()
    expect(page.get_by_role("heading", name="New assistant")).to_be_visible()

    # Every field says its default, read from the API's schema.
    expect(page.locator("#f-llm_settings-temperature-help")).to_contain_text("Default: 0.5")
    expect(page.locator("#f-tts_settings-provider-help")).to_contain_text("Default: elevenlabs")
    expect(page.locator("#f-stt_settings-endpointing-silence_threshold")).to_have_value("500")
    tab.shoot("assistant-new")

    page.get_by_label("Name").fill("Front desk")
    page.fill("#f-llm_settings-temperature", "5")
    page.fill("#f-llm_settings-welcome_message", "Hello, front desk speaking.")
    page.get_by_role("button", name="Create").click()

    temperature = page.locator("#f-llm_settings-temperature")
    error = page.locator("#f-llm_settings-temperature-error")
    expect(error).to_contain_text("less than or equal to 2")
    expect(temperature).to_have_attribute("aria-invalid", "true")
    expect(temperature).to_be_focused()
    expect(page.locator("#editor-error")).to_contain_text("llm_settings.temperature")
    expect(page.locator(".groups a[data-invalid='true']")).to_have_text(["Model"])
    tab.shoot("assistant-invalid")
    assert _stored_names(tab.server) == []  # nothing was stored

    temperature.fill("0.7")
    page.get_by_role("button", name="Create").click()
    expect(page).to_have_url(re.compile(r"/assistants/\d+$"))
    expect(page.get_by_role("heading", name="Front desk")).to_be_visible()
    expect(error).to_have_count(0)

    identifier = page.url.rsplit("/", 1)[1]
    stored = tab.server.api("GET", f"/api/v1/assistants/{identifier}").json()
    assert stored["name"] == "Front desk"
    assert stored["llm_settings"]["temperature"] == 0.7
    assert stored["llm_settings"]["welcome_message"] == "Hello, front desk speaking."
    assert stored["tts_settings"]["provider"] == "elevenlabs"
    tab.shoot("assistant-editor")


def _stored_names(server: Server) -> list[str]:
    response = server.api("GET", "/api/v1/assistants", params={"name": "Front desk"})
    return [row["name"] for row in response.json()]


def test_secrets_are_masked_and_kept_when_saved(tab: Tab) -> None:
    key = "sk-dashboard-secret-0123456789abcdef"
    created = tab.server.create({"name": "Keyed", "llm_provider_config": {"api_key": key}})

    tab.sign_in()
    page = tab.page
    page.goto(f"{tab.server.url}/app/assistants/{created['id']}")
    api_key = page.locator("#f-llm_provider_config-api_key")
    expect(api_key).to_have_value("")
    expect(api_key).to_have_attribute("placeholder", re.compile(r"sk-…cdef"))
    assert key not in page.content()

    page.fill("#f-description", "Saved from the dashboard")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#editor-status")).to_have_text("Saved.")

    stored = tab.server.api("GET", f"/api/v1/assistants/{created['id']}").json()
    assert stored["description"] == "Saved from the dashboard"
    assert stored["llm_provider_config"]["api_key"] == created["llm_provider_config"]["api_key"]


def test_duplicate_deactivate_and_delete(tab: Tab) -> None:
    original = tab.server.create({"name": "Doomed", "llm_settings": {"max_tokens": 77}})

    tab.sign_in()
    page = tab.page
    page.goto(f"{tab.server.url}/app/assistants/{original['id']}")
    page.get_by_role("button", name="Duplicate").click()
    expect(page.get_by_role("heading", name="Doomed (copy)")).to_be_visible()
    copy_id = page.url.rsplit("/", 1)[1]
    assert copy_id != str(original["id"])
    copy = tab.server.api("GET", f"/api/v1/assistants/{copy_id}").json()
    assert copy["llm_settings"]["max_tokens"] == 77

    page.get_by_role("button", name="Deactivate").click()
    expect(page.locator("#editor-status")).to_have_text("Deactivated.")
    expect(page.get_by_role("button", name="Activate")).to_be_visible()
    assert tab.server.api("GET", f"/api/v1/assistants/{copy_id}").json()["is_active"] is False

    page.get_by_role("button", name="Delete").click()
    page.get_by_role("button", name="Delete it").click()
    expect(page).to_have_url(f"{tab.server.url}/app/assistants")
    assert tab.server.api("GET", f"/api/v1/assistants/{copy_id}").status_code == 404
    assert tab.server.api("GET", f"/api/v1/assistants/{original['id']}").status_code == 200


def test_the_editor_is_usable_on_a_phone(
    browser: Browser, server: Server, screenshots: Path
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.set_default_timeout(STEP_MS)
    tab = Tab(context.new_page(), server, screenshots)
    try:
        long = server.create({"name": "A rather long assistant name for a narrow phone screen"})
        tab.sign_in()
        page = tab.page
        for path, ready in [
            ("/app/assistants", "#assistants"),
            ("/app/assistants/new", "#save"),
            ("/app/calls", ".pager"),
            ("/app/campaigns", ".pager"),
            ("/app/campaigns/new", "#create-campaign"),
            ("/app/campaigns/do-not-call", "#add-do-not-call"),
            ("/app/api-keys", "#api-keys"),
            ("/app/credentials", "#add-credential"),
            ("/app/tools", "#create-tool"),
            ("/app/phone-numbers", "#add-number"),
            (f"/app/assistants/{long['id']}/talk", "#start-call"),
            ("/app/overview", "#calls-per-day"),
            ("/app/settings", "#reveal-secret"),
        ]:
            page.goto(f"{server.url}{path}")
            expect(page.locator(ready)).to_be_visible()
            # Nothing wider than the screen: no sideways scrolling.
            width = page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= 390, path
            tab.shoot(f"phone-{path.removeprefix('/app/').replace('/', '-')}")
    finally:
        context.close()


def test_export_in_a_dialect_and_import_it_back(tab: Tab, tmp_path: Path) -> None:
    original = tab.server.create(
        {
            "name": "Exported",
            "first_message_mode": "assistant-waits-for-user",
            "llm_settings": {"welcome_message": "Hi there", "temperature": 0.3},
        }
    )

    tab.sign_in()
    page = tab.page
    page.goto(f"{tab.server.url}/app/assistants/{original['id']}")
    page.get_by_label("Export format").select_option("vapi")
    with page.expect_download() as download:
        page.get_by_role("button", name="Export").click()
    exported_path = tmp_path / download.value.suggested_filename
    download.value.save_as(exported_path)
    assert exported_path.name == "exported.vapi.json"
    exported = json.loads(exported_path.read_text())
    assert exported["firstMessage"] == "Hi there"  # seed 001's camelCase
    assert exported["model"]["temperature"] == 0.3

    exported["name"] = "Imported"
    page.goto(f"{tab.server.url}/app/assistants")
    page.get_by_role("link", name="Import").click()
    page.get_by_label("Format").select_option("vapi")
    page.get_by_label("Document").fill(json.dumps({**exported, "maxDurationSeconds": 5}))
    page.get_by_role("button", name="Import").click()
    # The API's 422, field by field, named in the dialect's own terms.
    expect(page.locator("#import-error li")).to_have_text(
        ["maxDurationSeconds: Input should be greater than or equal to 10"]
    )
    tab.shoot("assistant-import-refused")

    page.get_by_label("File").set_input_files(exported_path)
    expect(page.get_by_label("Document")).to_have_value(exported_path.read_text())
    page.get_by_label("Document").fill(json.dumps(exported))
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("heading", name="Imported")).to_be_visible()

    imported = tab.server.api("GET", f"/api/v1/assistants/{page.url.rsplit('/', 1)[1]}").json()
    assert imported["first_message_mode"] == "assistant-waits-for-user"
    assert imported["llm_settings"]["welcome_message"] == "Hi there"
    assert imported["llm_settings"]["temperature"] == 0.3


def test_talk_to_it_opens_a_call_page_and_a_missing_microphone_is_said(tab: Tab) -> None:
    chosen = tab.server.create({"name": "Talk to me"})
    before = tab.server.api("GET", "/api/v1/calls").json()

    tab.sign_in()
    page = tab.page
    page.goto(f"{tab.server.url}/app/assistants/{chosen['id']}")
    page.get_by_role("link", name="Talk to it").click()

    expect(page).to_have_url(f"{tab.server.url}/app/assistants/{chosen['id']}/talk")
    expect(page.get_by_role("heading", name="Talk to Talk to me")).to_be_visible()
    expect(page.get_by_role("button", name="End call")).to_be_disabled()
    # This browser has no microphone: the call is not placed and the page says why.
    page.get_by_role("button", name="Start call").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("Could not start the call")
    expect(page.locator("#talk-panel")).to_have_attribute("data-state", "ended")
    expect(page.get_by_role("button", name="Call again")).to_be_enabled()
    assert tab.server.api("GET", "/api/v1/calls").json() == before


def test_calls_filter_by_assistant_direction_and_day_and_open_one(tab: Tab) -> None:
    server = tab.server
    front = server.create({"name": "Calls front"})
    back = server.create({"name": "Calls back"})
    placed = []
    for assistant in (front, back, front):
        response = server.api("POST", "/api/v1/calls/web", json={"assistant_id": assistant["id"]})
        assert response.status_code == 201, response.text
        placed.append(response.json()["call_id"])

    tab.sign_in()
    page = tab.page
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Calls").click()
    page.get_by_label("Assistant").select_option(label="Calls front")
    links = page.locator("#calls tbody tr td:first-child a")
    expect(links).to_have_text([f"#{placed[2]}", f"#{placed[0]}"])  # newest first
    tab.shoot("calls")

    page.get_by_label("Direction").select_option("inbound")
    expect(page.locator("#no-calls")).to_be_visible()
    page.get_by_label("Direction").select_option("web")
    expect(links).to_have_count(2)
    status = server.api("GET", f"/api/v1/calls/{placed[0]}").json()["status"]
    page.get_by_label("Status").select_option(status)
    expect(links).to_have_count(2)
    page.get_by_label("From").fill("2999-01-01")
    expect(page.locator("#no-calls")).to_be_visible()
    page.get_by_label("From").fill("")
    expect(links).to_have_count(2)

    links.last.click()
    expect(page.get_by_role("heading", name=f"Call #{placed[0]}")).to_be_visible()
    expect(page.locator("#call-status")).to_have_text(status)
    expect(page.locator("#call-facts")).to_contain_text("Calls front")
    expect(page.get_by_text("No transcript yet.")).to_be_visible()


def test_create_a_key_shown_once_then_revoke_it(tab: Tab) -> None:
    tab.sign_in()
    page = tab.page
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="API keys").click()

    page.get_by_role("button", name="Create key").click()  # no name: the API's 422
    expect(page.locator("#key-name-error")).to_contain_text("at least 1 character")
    expect(page.get_by_label("Name")).to_have_attribute("aria-invalid", "true")

    page.get_by_label("Name").fill("deploy bot")
    page.get_by_label("Scope").select_option("user")
    page.get_by_role("button", name="Create key").click()
    key = page.locator("#created-key-value").inner_text()
    assert key.startswith("cw_")
    row = page.locator("#api-keys tbody tr", has_text="deploy bot")
    expect(row).to_contain_text("user")
    expect(row).to_contain_text(key[:8])
    tab.shoot("api-keys")
    bearer = {"Authorization": f"Bearer {key}"}
    me = httpx.get(f"{tab.server.url}/api/v1/me", headers=bearer, timeout=30)
    assert me.status_code == 200
    assert me.json()["scope"] == "user"

    row.get_by_role("button", name="Revoke the key deploy bot").click()
    row.get_by_role("button", name="Revoke deploy bot").click()
    expect(row.locator(".badge")).to_have_text("revoked")
    expect(page.locator("#created-key")).to_have_count(0)
    page.reload()
    expect(page.locator("#created-key-value")).to_have_count(0)  # never shown again
    refused = httpx.get(f"{tab.server.url}/api/v1/me", headers=bearer, timeout=30)
    assert refused.status_code == 401


def test_the_signing_secret_is_revealed_on_demand_and_rotated(tab: Tab) -> None:
    before = tab.server.api("GET", "/api/v1/organization/signing-secret").json()

    tab.sign_in()
    page = tab.page
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Settings").click()
    assert before["signing_secret"] not in page.content()
    page.get_by_role("button", name="Reveal the secret").click()
    expect(page.locator("#signing-secret-value")).to_have_text(before["signing_secret"])

    page.get_by_role("button", name="Rotate…").click()
    page.get_by_role("button", name="Rotate now").click()
    expect(page.locator("#signing-status")).to_contain_text("Rotated")
    after = tab.server.api("GET", "/api/v1/organization/signing-secret").json()
    assert after["signing_secret"] != before["signing_secret"]
    assert after["source"] == "rotated"
    expect(page.locator("#signing-secret-value")).to_have_text(after["signing_secret"])


def test_signing_in_by_keyboard_alone(tab: Tab) -> None:
    page = tab.page
    page.goto(f"{tab.server.url}/app/login")
    page.locator("body").focus()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Email")).to_be_focused()
    page.keyboard.type(tab.server.email)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(tab.server.password)
    page.keyboard.press("Enter")
    expect(page.locator("#signed-in-as")).to_have_text(tab.server.email)


def test_credentials_are_added_masked_refused_inline_and_deleted(tab: Tab) -> None:
    key = "sk-organization-key-0123456789wxyz"
    tab.sign_in()
    page = tab.page
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Credentials").click()
    page.get_by_label("Provider").select_option("openai")
    page.get_by_label("API key").fill(key)
    # A loopback endpoint: the outbound-URL policy refuses it, named on its field.
    page.get_by_label("Base URL").fill("http://127.0.0.1:9/v1")
    page.get_by_role("button", name="Add credential").click()
    expect(page.locator("#credential-base_url-error")).to_be_visible()
    expect(page.get_by_label("Base URL")).to_have_attribute("aria-invalid", "true")
    assert tab.server.api("GET", "/api/v1/credentials").json() == []

    page.get_by_label("Base URL").fill("")
    page.get_by_role("button", name="Add credential").click()
    row = page.locator('#credentials tr[data-provider="openai"]')
    expect(row).to_contain_text("sk-…wxyz")
    assert key not in page.content()
    expect(page.get_by_label("API key")).to_have_value("")  # not kept in the form either
    stored = tab.server.api("GET", "/api/v1/credentials").json()
    assert [credential["provider"] for credential in stored] == ["openai"]
    tab.shoot("credentials")

    row.get_by_role("button", name="Delete the openai credential").click()
    row.get_by_role("button", name="Delete openai").click()
    expect(page.locator("#no-credentials")).to_be_visible()
    assert tab.server.api("GET", "/api/v1/credentials").json() == []


def test_upload_a_document_see_it_processed_search_it_and_delete_it(tab: Tab) -> None:
    assistant = tab.server.create(
        {
            "name": "Knows things",
            # The offline embedder: no key needed.
            "rag_settings": {
                "enabled": True,
                "embedding_model": "all-MiniLM-L6-v2",
                # MiniLM's cosine for a question and its answer sits well below 0.7.
                "similarity_threshold": 0.3,
            },
        }
    )
    text = (
        "Acme Bakery opens at seven in the morning and closes at six in the evening. "
        "Sourdough is baked fresh every Tuesday and Friday."
    )

    tab.sign_in()
    page = tab.page
    page.goto(f"{tab.server.url}/app/assistants/{assistant['id']}")
    page.get_by_role("link", name="Documents").click()
    expect(page.get_by_role("heading", name="Knowledge")).to_be_visible()
    page.get_by_label("Upload a document").set_input_files(
        files=[{"name": "bakery.txt", "mimeType": "text/plain", "buffer": text.encode()}]
    )
    row = page.locator("#documents tbody tr", has_text="bakery.txt")
    expect(row).to_be_visible()
    # Processed in the background (a parser process, the offline embedder): the page
    # polls until the status settles.
    expect(row).to_have_attribute("data-status", "ready", timeout=120_000)
    expect(row.locator(".badge")).to_have_text("ready")
    tab.shoot("knowledge")

    page.get_by_label("Search as a call would").fill("When does the bakery open?")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#passages li").first).to_contain_text("opens at seven")

    row.get_by_role("button", name="Delete bakery.txt").click()
    row.get_by_role("button", name="Delete bakery.txt").click()
    expect(page.locator("#documents")).to_have_count(0)
    documents = tab.server.api("GET", f"/api/v1/assistants/{assistant['id']}/documents").json()
    assert documents == []


def test_tools_are_created_and_edited_with_errors_on_their_fields_and_deleted(tab: Tab) -> None:
    tab.sign_in()
    page = tab.page
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Tools").click()
    page.get_by_label("Function name").fill("book_table")
    page.get_by_label("Description").fill("Books a table for the caller.")
    page.get_by_label("Server URL").fill("http://127.0.0.1:9/hook")
    page.get_by_role("button", name="Create tool").click()
    # The outbound-URL policy's 422, on the field it names.
    expect(page.locator("#tool-url-error")).to_be_visible()
    expect(page.get_by_label("Server URL")).to_have_attribute("aria-invalid", "true")

    page.get_by_label("Server URL").fill("https://tools.example.com/book")
    page.get_by_label("Parameters").fill(
        '{"type": "object", "properties": {"party": {"type": "integer"}}}'
    )
    page.get_by_role("button", name="Create tool").click()
    row = page.locator("#tools tbody tr", has_text="book_table")
    expect(row).to_contain_text("https://tools.example.com/book")
    stored = tab.server.api("GET", "/api/v1/tools").json()
    assert [tool["function"]["name"] for tool in stored] == ["book_table"]
    assert stored[0]["function"]["parameters"]["properties"] == {"party": {"type": "integer"}}
    tab.shoot("tools")

    # Edit it: the form holds the stored tool, the API's 422 lands on its field again.
    row.get_by_role("button", name="Edit the tool book_table").click()
    expect(page.locator("#editing-tool")).to_contain_text("book_table")
    expect(page.get_by_label("Server URL")).to_have_value("https://tools.example.com/book")
    expect(page.get_by_label("Parameters")).to_have_value(re.compile(r'"party"'))
    page.get_by_label("Server URL").fill("http://127.0.0.1:9/hook")
    page.get_by_role("button", name="Save tool").click()
    expect(page.locator("#tool-url-error")).to_be_visible()
    assert tab.server.api("GET", "/api/v1/tools").json() == stored
    page.get_by_label("Server URL").fill("https://tools.example.com/v2/book")
    page.get_by_label("Description").fill("")
    page.get_by_role("button", name="Save tool").click()
    expect(row).to_contain_text("https://tools.example.com/v2/book")
    expect(page.get_by_role("button", name="Create tool")).to_be_visible()
    (edited,) = tab.server.api("GET", "/api/v1/tools").json()
    assert edited["id"] == stored[0]["id"]
    assert edited["server"]["url"] == "https://tools.example.com/v2/book"
    assert not edited["function"].get("description")
    assert edited["function"]["parameters"] == stored[0]["function"]["parameters"]

    row.get_by_role("button", name="Delete the tool book_table").click()
    row.get_by_role("button", name="Delete book_table").click()
    expect(page.locator("#no-tools")).to_be_visible()
    assert tab.server.api("GET", "/api/v1/tools").json() == []


def test_phone_numbers_are_proven_assigned_refused_on_their_field_and_deleted(
    tab: Tab, twilio: FakeTwilioApi
) -> None:
    server = tab.server
    front = server.create({"name": "Front desk"})
    back = server.create({"name": "Back office"})
    stored = server.api(
        "POST",
        "/api/v1/credentials",
        json={"provider": "twilio", "account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN},
    )
    assert stored.status_code == 201, stored.text
    number = "+14155550142"

    tab.sign_in()
    page = tab.page
    page.get_by_role("navigation", name="Sections").get_by_role(
        "link", name="Phone numbers"
    ).click()
    expect(page.locator("#no-numbers")).to_be_visible()

    # Not E.164: the API's 422 on the number's field, the keyboard taken there.
    page.get_by_label("Number", exact=True).fill("555-0142")
    page.get_by_role("button", name="Add number").click()
    expect(page.locator("#number-number-error")).to_be_visible()
    expect(page.get_by_label("Number", exact=True)).to_be_focused()
    expect(page.get_by_label("Number", exact=True)).to_have_attribute("aria-invalid", "true")

    # Well formed, but Twilio does not list it among the account's numbers.
    page.get_by_label("Number", exact=True).fill(number)
    page.get_by_role("button", name="Add number").click()
    expect(page.locator("#number-number-error")).to_contain_text("Twilio")
    assert server.api("GET", "/api/v1/phone-numbers").json() == []

    twilio.own(number)
    page.get_by_label("Name").fill("Main line")
    page.locator("#number-assistant_id").select_option(label="Front desk")
    page.get_by_role("button", name="Add number").click()
    row = page.locator(f'#phone-numbers tr[data-number="{number}"]')
    expect(row).to_contain_text("Main line")
    expect(page.locator("#number-number-error")).to_be_hidden()
    expect(page.get_by_label("Number", exact=True)).to_have_value("")
    (listed,) = server.api("GET", "/api/v1/phone-numbers").json()
    assert listed["assistant_id"] == front["id"]
    # The number's voice webhook was pointed at this server through Twilio's API.
    assert any(
        method == "POST" and path.endswith(f"{twilio.number_sid(number)}.json")
        for method, path, _ in twilio.requests
    )
    tab.shoot("phone-numbers")

    with page.expect_response(
        lambda response: response.request.method == "PATCH" and "/phone-numbers/" in response.url
    ) as assigned:
        row.get_by_label(f"Assistant answering {number}").select_option(label="Back office")
    assert assigned.value.ok
    got = server.api("GET", f"/api/v1/phone-numbers/{listed['id']}").json()
    assert got["assistant_id"] == back["id"]

    row.get_by_role("button", name=f"Delete the number {number}").click()
    page.get_by_role("button", name=f"Release {number}").click()
    expect(page.locator("#no-numbers")).to_be_visible()
    assert server.api("GET", "/api/v1/phone-numbers").json() == []


def test_a_calls_tool_calls_knowledge_and_cost_are_shown(tab: Tab) -> None:
    server = tab.server
    assistant = server.create({"name": "Record reader"})
    placed = server.api("POST", "/api/v1/calls/web", json={"assistant_id": assistant["id"]})
    assert placed.status_code == 201, placed.text
    call_id = placed.json()["call_id"]
    page = tab.page

    # The real record, with what a finished call with tools and knowledge would hold
    # (this server runs no models, so no call here ever reaches them).
    def enriched(route: Route) -> None:
        record = route.fetch().json()
        record["tool_calls"] = [
            {
                "id": "call_1",
                "name": "book_table",
                "arguments": {"party": 2},
                "seconds_from_start": 12.5,
                "result": "Booked for 8 pm.",
            }
        ]
        record["knowledge"] = [
            {
                "query": "When do you open?",
                "at": 3.25,
                "seconds_from_start": 3.25,
                "retrieval_ms": 4.2,
                "passages": [
                    {
                        "chunk_id": 1,
                        "document_id": 1,
                        "source": "hours.txt",
                        "score": 0.81234,
                        "tokens": 12,
                        "text": "We open at noon.",
                    }
                ],
            }
        ]
        record["usage"] = {**record["usage"], "cost": {"llm": 0.0012, "total": 0.0031}}
        route.fulfill(json=record)

    page.route(f"{server.url}/api/v1/calls/{call_id}", enriched)
    tab.sign_in()
    page.goto(f"{server.url}/app/calls/{call_id}")
    tool = page.locator('#tool-calls tr[data-tool="book_table"]')
    expect(tool).to_contain_text("12.5 s")
    expect(tool).to_contain_text('"party": 2')
    expect(tool).to_contain_text("Booked for 8 pm.")
    knowledge = page.locator("#call-knowledge details")
    expect(knowledge.locator("summary")).to_contain_text("When do you open?")
    expect(knowledge.locator("summary")).to_contain_text("1 passage in 4.2 ms")
    knowledge.locator("summary").click()
    expect(knowledge.locator(".passages li")).to_contain_text("We open at noon.")
    expect(knowledge.locator(".passages li")).to_contain_text("score 0.812")
    expect(page.locator("#call-cost")).to_contain_text("total")
    expect(page.locator("#call-cost")).to_contain_text("0.0031")
    # No server URL on this assistant: no deliveries, and the page says so.
    expect(page.locator("#webhook-deliveries")).to_contain_text("No webhook events")
