"""The dashboard's call journey on the offline models: sign in, open the assistant, talk
to it (the playground, fed a WAV as the microphone), then find the call in the list
and read its page — the transcript, the recording and the latency chart. Uses the
playground tests' live server (models warmed) and browser."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

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


def test_talk_to_an_assistant_then_read_the_calls_record(
    server: Server, browser: Browser, tmp_path: Path
) -> None:
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
        expect(page.locator("#assistant")).to_have_value(str(server.assistant_id))
        page.click("#start")
        expect(page.locator("#playground")).to_have_attribute("data-state", "in-call")
        call_id = page.get_attribute("#playground", "data-call-id")
        assert call_id
        # The caller's sentence heard, and a reply after it, then hang up.
        page.wait_for_function(
            """() => {
                const lines = [...document.querySelectorAll('#transcript li')];
                const heard = lines.findIndex(li => li.dataset.role === 'user'
                    && li.dataset.final === 'true' && /book/i.test(li.textContent));
                return heard >= 0 && lines.slice(heard + 1).some(li =>
                    li.dataset.role === 'assistant'
                    && li.querySelector('.text').textContent.trim().length > 0);
            }""",
            timeout=CALL_STEP_MS,
        )
        page.click("#stop")
        expect(page.locator("#playground")).to_have_attribute("data-state", "ended")
        # The record is written off the audio path once the call is over (a hang guard).
        deadline = time.monotonic() + 60
        while server.call(call_id)["status"] != "ended" and time.monotonic() < deadline:
            time.sleep(0.5)

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

        # The stereo recording plays in the page's player, through the cookie session.
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
        page.screenshot(path=screenshots / "call.png", full_page=True)

        # The overview counts it today and takes its turns into the latency figures.
        page.get_by_role("navigation", name="Sections").get_by_role("link", name="Overview").click()
        expect(page.locator("#calls-in-progress")).to_have_text("0")
        expect(page.locator("#calls-per-day g").last).to_have_attribute("data-count", "1")
        latencies = sorted(
            t["voice_to_voice_ms"] for t in record["turns"] if t["voice_to_voice_ms"]
        )
        if len(latencies) == 1:
            expect(page.locator("#latency-p50")).to_have_text(f"{round(latencies[0])} ms")
        expect(page.locator("#latency-p95")).to_have_text(re.compile(r"^\d+ ms$"))
        page.screenshot(path=screenshots / "overview.png")
        assert errors == []
    finally:
        context.close()
