"""The issue's journey in one browser session, on the offline models: sign in → create an
assistant → a setting refused on its field → fix and save → talk to it with a fake
microphone and see the transcript → the call in the list → its page: play the
recording, the latency chart → upload a document and see it processed → create and
revoke a key. A screenshot of each page goes to ``$CALLWRIGHT_SCREENSHOTS`` (a temporary
folder by default). Uses the playground tests' live server (models warmed) and browser
(a WAV of a caller's sentence as the microphone)."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import httpx

from tests.browser import test_playground as playground
from tests.browser.test_playground import CALL_STEP_MS, WELCOME, Server
from tests.dashboard.sources import built_manifest
from tests.support.optional import unavailable

if built_manifest() is None:
    unavailable("the dashboard is not built (./dev builds it)")

from playwright.sync_api import Browser, expect

server = playground.server
browser = playground.browser
monkeypatch_module = playground.monkeypatch_module

_HEARD_THEN_ANSWERED = """() => {
    const lines = [...document.querySelectorAll('#live-transcript li')];
    const heard = lines.findIndex(li => li.dataset.role === 'user'
        && li.dataset.final === 'true' && /book/i.test(li.textContent));
    return heard >= 0 && lines.slice(heard + 1).some(li =>
        li.dataset.role === 'assistant'
        && li.querySelector('.text').textContent.trim().length > 0);
}"""


def test_the_journey_from_sign_in_to_a_revoked_key(
    server: Server, browser: Browser, tmp_path: Path
) -> None:
    shots = Path(os.environ.get("CALLWRIGHT_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(CALL_STEP_MS)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "request",
        lambda request: (
            None
            if request.url.startswith((server.url, "blob:", "data:"))
            else problems.append(f"external request: {request.url}")
        ),
    )

    def shoot(name: str) -> None:
        page.screenshot(path=shots / f"journey-{name}.png", full_page=True)

    sections = page.get_by_role("navigation", name="Sections")
    try:
        # Sign in with the credentials the first run printed.
        page.goto(f"{server.url}/")
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        shoot("sign-in")
        page.get_by_label("Email").fill(server.email)
        page.get_by_label("Password").fill(server.password)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#signed-in-as")).to_have_text(server.email)
        shoot("assistants")

        # Create an assistant; a temperature the API refuses is named on its field.
        page.get_by_role("link", name="New assistant").click()
        page.get_by_label("Name").fill("Journey desk")
        page.fill("#f-llm_settings-welcome_message", WELCOME)
        page.fill("#f-llm_settings-max_tokens", "24")
        page.fill("#f-stt_settings-utterance_end_ms", "6000")
        temperature = page.locator("#f-llm_settings-temperature")
        temperature.fill("5")
        page.get_by_role("button", name="Create").click()
        expect(page.locator("#f-llm_settings-temperature-error")).to_contain_text(
            "less than or equal to 2"
        )
        expect(temperature).to_be_focused()
        shoot("assistant-invalid")
        temperature.fill("0")
        page.get_by_role("button", name="Create").click()
        expect(page).to_have_url(re.compile(r"/app/assistants/\d+$"))
        expect(page.get_by_role("heading", name="Journey desk")).to_be_visible()
        assistant_id = page.url.rsplit("/", 1)[1]
        shoot("assistant-editor")

        # Talk to it: the fake microphone says its sentence, the assistant answers.
        page.get_by_role("link", name="Talk to it").click()
        page.get_by_role("button", name="Start call").click()
        panel = page.locator("#talk-panel")
        expect(panel).to_have_attribute("data-state", "in-call")
        call_id = panel.get_attribute("data-call-id")
        assert call_id
        page.wait_for_function(_HEARD_THEN_ANSWERED, timeout=CALL_STEP_MS)
        shoot("talk")
        page.get_by_role("button", name="End call").click()
        expect(panel).to_have_attribute("data-state", "ended")
        deadline = time.monotonic() + 60  # the record is written off the audio path
        while server.call(call_id)["status"] != "ended" and time.monotonic() < deadline:
            time.sleep(0.5)

        # The call is in the list; its page plays the recording and charts the turns.
        sections.get_by_role("link", name="Calls").click()
        row = page.locator("#calls tbody tr", has_text="Journey desk")
        expect(row.get_by_role("link", name=f"#{call_id}")).to_be_visible()
        shoot("calls")
        row.get_by_role("link", name=f"#{call_id}").click()
        expect(page.get_by_role("heading", name=f"Call #{call_id}")).to_be_visible()
        expect(page.locator("#recording")).to_have_attribute("src", re.compile(r"^blob:"))
        page.eval_on_selector("#recording", "audio => audio.play()")
        page.wait_for_function("() => document.querySelector('#recording').currentTime > 0.2")
        record = server.call(call_id)
        expect(page.locator("#latency-chart g[data-turn]")).to_have_count(len(record["turns"]))
        expect(page.locator("#waveforms svg")).to_have_count(2)
        shoot("call")
        page.eval_on_selector("#recording", "audio => audio.pause()")

        # Knowledge: turned on in the editor with the offline embedder, then a document.
        page.get_by_role("link", name="Journey desk").click()
        page.locator("#f-rag_settings-enabled").check()
        page.locator("#f-rag_settings-embedding_model").select_option("all-MiniLM-L6-v2")
        page.get_by_role("button", name="Save").click()
        expect(page.locator("#editor-error")).to_have_count(0)
        page.get_by_role("link", name="Documents").click()
        page.get_by_label("Upload a document").set_input_files(
            files=[
                {
                    "name": "hours.txt",
                    "mimeType": "text/plain",
                    "buffer": b"The restaurant opens at noon and takes bookings for up to eight.",
                }
            ]
        )
        document = page.locator("#documents tbody tr", has_text="hours.txt")
        expect(document).to_have_attribute("data-status", "ready", timeout=CALL_STEP_MS)
        shoot("knowledge")
        stored = server.call(call_id)  # still readable: nothing above touched the call
        assert stored["assistant_id"] == int(assistant_id)

        # An API key: shown once, works, revoked, refused.
        sections.get_by_role("link", name="API keys").click()
        page.get_by_label("Name").fill("journey key")
        page.get_by_role("button", name="Create key").click()
        key = page.locator("#created-key-value").inner_text()
        assert key.startswith("cw_")
        shoot("api-keys")
        bearer = {"Authorization": f"Bearer {key}"}
        assert httpx.get(f"{server.url}/api/v1/me", headers=bearer, timeout=30).status_code == 200
        key_row = page.locator("#api-keys tbody tr", has_text="journey key")
        key_row.get_by_role("button", name="Revoke the key journey key").click()
        key_row.get_by_role("button", name="Revoke journey key").click()
        expect(key_row.locator(".badge")).to_have_text("revoked")
        assert httpx.get(f"{server.url}/api/v1/me", headers=bearer, timeout=30).status_code == 401
        assert problems == []
    finally:
        context.close()
