"""The dashboard's call journey on the offline models: sign in, open the assistant, talk
to it from its editor (fed a WAV as the microphone), then find the call in the list
and read its page — the transcript, the recording and the latency chart. Uses the
playground tests' live server (models warmed) and browser."""

from __future__ import annotations

import math
import os
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.browser import test_playground as playground
from tests.browser.test_playground import CALL_STEP_MS, Server
from tests.dashboard.sources import built_manifest
from tests.support.optional import unavailable

if built_manifest() is None:
    unavailable("the dashboard is not built (./dev builds it)")

from playwright.sync_api import Browser, expect

# The playground tests' fixtures: one live server with warm models, one browser whose
# microphone is the WAV of a caller's sentence.
server = playground.server
browser = playground.browser
monkeypatch_module = playground.monkeypatch_module


class _Receiver(BaseHTTPRequestHandler):
    """The assistant's webhook receiver: takes every event."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Nothing logged: the test's output is its assertions."""


@pytest.fixture
def webhook_url() -> Iterator[str]:
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    finally:
        receiver.shutdown()
        receiver.server_close()
        thread.join()


def test_talk_to_an_assistant_then_read_the_calls_record(
    server: Server, browser: Browser, tmp_path: Path, webhook_url: str
) -> None:
    patched = httpx.patch(
        f"{server.url}/api/v1/assistants/{server.assistant_id}",
        headers=server.headers,
        json={"webhook_url": webhook_url},
        timeout=30,
    )
    assert patched.status_code == 200, patched.text
    screenshots = Path(os.environ.get("CALLWRIGHT_SCREENSHOTS") or tmp_path)
    screenshots.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(CALL_STEP_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(f"{server.url}/app/assistants/{server.assistant_id}")
        page.get_by_label("Email").fill(server.email)
        page.get_by_label("Password").fill(server.password)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Playground test")).to_be_visible()

        page.get_by_role("link", name="Talk to it").click()
        panel = page.locator("#talk-panel")
        expect(panel).to_have_attribute("data-state", "idle")
        page.get_by_role("button", name="Start call").click()
        expect(panel).to_have_attribute("data-state", "in-call")
        call_id = panel.get_attribute("data-call-id")
        assert call_id
        assert call_id.isdigit()
        # The caller's sentence heard as a final line, and a reply after it.
        page.wait_for_function(
            """() => {
                const lines = [...document.querySelectorAll('#live-transcript li')];
                const heard = lines.findIndex(li => li.dataset.role === 'user'
                    && li.dataset.final === 'true' && /book/i.test(li.textContent));
                return heard >= 0 && lines.slice(heard + 1).some(li =>
                    li.dataset.role === 'assistant'
                    && li.querySelector('.text').textContent.trim().length > 0);
            }""",
            timeout=CALL_STEP_MS,
        )
        page.screenshot(path=screenshots / "talk.png", full_page=True)
        page.get_by_role("button", name="End call").click()
        expect(panel).to_have_attribute("data-state", "ended")
        expect(page.locator("#call-state")).to_contain_text("customer-ended-call")
        expect(page.get_by_role("button", name="Start call")).to_be_hidden()
        expect(page.get_by_role("button", name="Call again")).to_be_enabled()
        # The record is written off the audio path once the call is over (a hang guard).
        deadline = time.monotonic() + 60
        while server.call(call_id)["status"] != "ended" and time.monotonic() < deadline:
            time.sleep(0.5)
        page.locator("#call-record").get_by_role("link").click()
        expect(page.get_by_role("heading", name=f"Call #{call_id}")).to_be_visible()
        expect(page.locator("#call-status")).to_have_text("ended")

        page.goto(f"{server.url}/app/calls")
        page.get_by_role("link", name=f"#{call_id}").click()
        expect(page.get_by_role("heading", name=f"Call #{call_id}")).to_be_visible()
        expect(page.locator("#call-status")).to_have_text("ended")
        expect(page.locator("#call-end-reason")).to_contain_text("customer-ended-call")
        caller = page.locator('#transcript li[data-role="user"]')
        expect(caller.filter(has_text="table")).to_have_count(1)
        expect(page.locator('#transcript li[data-role="assistant"]').first).to_be_visible()

        # One stacked bar per measured turn, its stages adding up to its total.
        record = server.call(call_id)
        bars = page.locator("#latency-chart g[data-turn]")
        expect(bars).to_have_count(len(record["turns"]))
        answered = next(
            index for index, turn in enumerate(record["turns"]) if turn.get("voice_to_voice_ms")
        )
        stage_ms = [
            int(value)
            for value in bars.nth(answered)
            .locator("rect")
            .evaluate_all("rects => rects.map(rect => rect.dataset.ms)")
        ]
        assert len(stage_ms) == 6
        turn = {name: value or 0 for name, value in record["turns"][answered].items()}
        measured = (
            turn["endpointing_ms"]
            + turn["llm_first_token_ms"]
            + max(0, turn["first_sentence_ms"] - turn["llm_first_token_ms"])
            + turn["tts_first_audio_ms"]
        )
        assert turn["voice_to_voice_ms"] > 0
        assert sum(stage_ms) == pytest.approx(max(turn["voice_to_voice_ms"], measured), abs=6)

        # The stereo recording, fetched once through the cookie session, plays from memory.
        expect(page.locator("#recording")).to_have_attribute("src", re.compile(r"^blob:"))
        duration = page.eval_on_selector(
            "#recording",
            """audio => new Promise((resolve, reject) => {
                if (audio.readyState >= 1) return resolve(audio.duration);
                audio.addEventListener('loadedmetadata', () => resolve(audio.duration));
                audio.addEventListener('error', () => reject(new Error('recording failed')));
            })""",
        )
        assert duration > 5  # 6 s of silence before the sentence alone
        page.eval_on_selector("#recording", "audio => audio.play()")
        page.wait_for_function("() => document.querySelector('#recording').currentTime > 0.2")

        # Both channels drawn from the decoded recording: the caller's sentence on the
        # left, the assistant's voice on the right (strokes in a 64-unit-high box).
        loudest = page.locator("#waveforms path.wave").evaluate_all(
            """paths => Object.fromEntries(paths.map(path => [
                path.closest('svg').dataset.channel,
                Math.max(...[...path.getAttribute('d').matchAll(/M[\\d.]+ ([\\d.]+)V([\\d.]+)/g)]
                    .map(([, top, bottom]) => Number(bottom) - Number(top))),
            ]))"""
        )
        assert set(loudest) == {"caller", "assistant"}
        assert loudest["caller"] > 8, loudest
        assert loudest["assistant"] > 8, loudest

        # A line's time seeks there, and that line is the one highlighted as playing.
        reply = page.locator('#transcript li[data-role="assistant"]').last
        reply_at = next(
            m["seconds_from_start"]
            for m in reversed(record["messages"])
            if m["role"] == "assistant"
        )
        reply.get_by_role("button", name=re.compile(r"^Play from")).click()
        expect(reply).to_have_attribute("data-playing", "true")
        assert page.eval_on_selector("#recording", "audio => audio.currentTime") >= reply_at - 0.01
        expect(page.locator('#transcript li[data-playing="true"]')).to_have_count(1)
        page.eval_on_selector("#recording", "audio => audio.pause()")

        # The call's webhook events, delivered to the receiver, listed with their status.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
            event["event_type"] == "end-of-call-report" and event["status"] == "delivered"
            for event in server.webhook_events(call_id)
        ):
            time.sleep(0.5)
        page.reload()
        delivered = page.locator(
            '#webhook-deliveries tr[data-event-type="end-of-call-report"][data-status="delivered"]'
        )
        expect(delivered).to_have_count(1)
        expect(page.locator("#webhook-deliveries tbody tr")).to_have_count(
            len(server.webhook_events(call_id))
        )
        expect(page.locator("#call-usage")).to_contain_text("completion tokens")
        page.screenshot(path=screenshots / "call.png", full_page=True)
        # On a phone: the waveforms and tables fit (wide tables scroll inside their panel).
        page.set_viewport_size({"width": 390, "height": 844})
        expect(page.locator("#waveforms svg")).to_have_count(2)
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
        page.screenshot(path=screenshots / "phone-call.png", full_page=True)
        page.set_viewport_size({"width": 1280, "height": 900})

        # The overview counts it today and takes its turns into the latency figures.
        page.get_by_role("navigation", name="Sections").get_by_role("link", name="Overview").click()
        expect(page.locator("#calls-in-progress")).to_have_text("0")
        expect(page.locator("#calls-per-day g").last).to_have_attribute("data-count", "1")
        latencies = sorted(
            t["voice_to_voice_ms"] for t in record["turns"] if t["voice_to_voice_ms"]
        )
        if len(latencies) == 1:
            # Math.round: halves go up (Python's round() would go to the even one).
            expect(page.locator("#latency-p50")).to_have_text(
                f"{math.floor(latencies[0] + 0.5)} ms"
            )
        expect(page.locator("#latency-p95")).to_have_text(re.compile(r"^\d+ ms$"))
        page.screenshot(path=screenshots / "overview.png")
        assert errors == []
    finally:
        context.close()
