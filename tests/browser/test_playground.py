"""The playground in headless Chromium against a real server on the offline models.

Chromium's fake microphone plays a WAV of speech into ``getUserMedia``; the page
resamples it in its AudioWorklet and streams 16 kHz PCM16 over the call's WebSocket;
whisper must hear the sentence, and the assistant's synthesised reply must come back
and play through the page's AudioContext, its marks echoed. Needs Debian's
``chromium`` and Playwright (never ``playwright install``); see
/work/shared/BROWSER_TESTING.md for the launch flags.
"""

from __future__ import annotations

import re
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests import server as live
from tests.browser.chromium import CHROMIUM, launch_arguments, require_browser

# Piper saying "I would like to book a table for two." (16 kHz PCM16 mono).
SPEECH = Path(__file__).parents[1] / "fixtures" / "audio" / "book_table.wav"
WELCOME = "Hello, thanks for calling Acme."

# Hang detectors only: the offline models load in seconds, but the machine is shared.
CALL_STEP_MS = 120_000


require_browser(("faster_whisper", "offline"), ("llama_cpp", "local-llm"))

from playwright.sync_api import Browser, Page, sync_playwright


def _microphone_wav(path: Path) -> Path:
    """The sentence between silences: 6 s first (the welcome message plays out while
    the models warm up), 4 s after (so the caller's turn ends)."""
    with wave.open(str(SPEECH), "rb") as source:
        rate = source.getframerate()
        speech = np.frombuffer(source.readframes(source.getnframes()), dtype="<i2")
    samples = np.concatenate(
        [np.zeros(6 * rate, dtype="<i2"), speech, np.zeros(4 * rate, dtype="<i2")]
    )
    with wave.open(str(path), "wb") as target:
        target.setnchannels(1)
        target.setsampwidth(2)
        target.setframerate(rate)
        target.writeframes(samples.tobytes())
    return path


class Server:
    """The live server, its bootstrap credentials and one short-spoken assistant."""

    def __init__(self, url: str, api_key: str, email: str, password: str) -> None:
        self.url = url
        self.api_key = api_key
        self.email = email
        self.password = password
        self.headers = {"Authorization": f"Bearer {api_key}"}
        created = httpx.post(
            f"{url}/api/v1/assistants",
            headers=self.headers,
            json={
                "name": "Playground test",
                "llm_settings": {"welcome_message": WELCOME, "max_tokens": 24, "temperature": 0},
                # Whisper on a loaded 2-core machine can take over a second for a final.
                "stt_settings": {"utterance_end_ms": 6000},
            },
            timeout=30,
        )
        assert created.status_code == 201, created.text
        self.assistant_id: int = created.json()["id"]

    def call(self, call_id: str) -> dict[str, Any]:
        response = httpx.get(f"{self.url}/api/v1/calls/{call_id}", headers=self.headers, timeout=30)
        assert response.status_code == 200, response.text
        record: dict[str, Any] = response.json()
        return record


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch_module: pytest.MonkeyPatch
) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("playground")
    # The ws_url handed to the page is built from CALLWRIGHT_PUBLIC_URL, so the port
    # must be known before the server starts.
    port = live.free_port()
    monkeypatch_module.setattr(live, "free_port", lambda: port)
    env = live.environment(
        f"sqlite+aiosqlite:///{root / 'callwright.db'}",
        root / "data",
        CALLWRIGHT_PUBLIC_URL=f"http://127.0.0.1:{port}",
        CALLWRIGHT_WARM_UP_MODELS="true",
    )
    with live.live_server(env, root / "server.log", timeout_s=60) as running:
        assert running.bootstrap_api_key, running.output
        password = re.search(r"admin@localhost \(password (\S+)\)", running.output[0])
        assert password, running.output
        yield Server(running.url, running.bootstrap_api_key, "admin@localhost", password[1])


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    wav = _microphone_wav(tmp_path_factory.mktemp("microphone") / "caller.wav")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=launch_arguments(microphone=wav),
        )
        try:
            yield chromium
        finally:
            chromium.close()


def _stats(page: Page) -> dict[str, str]:
    stats: dict[str, str] = page.eval_on_selector("#stats", "element => ({...element.dataset})")
    return stats


def _wait_for_stat(page: Page, name: str, at_least: float) -> None:
    page.wait_for_function(
        "([name, least]) => Number(document.querySelector('#stats').dataset[name]) >= least",
        arg=[name, at_least],
        timeout=CALL_STEP_MS,
    )


def _open(page: Page, server: Server, errors: list[str]) -> None:
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{server.url}/playground")


def test_a_spoken_sentence_is_transcribed_and_the_reply_plays(
    server: Server, browser: Browser
) -> None:
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    try:
        _open(page, server, errors)
        page.fill("#api-key", server.api_key)
        page.click("#use-key")
        page.wait_for_function(
            "id => document.querySelector('#assistant').value === id", arg=str(server.assistant_id)
        )
        page.click("#start")
        page.wait_for_function(
            "() => document.querySelector('#playground').dataset.state === 'in-call'",
            timeout=CALL_STEP_MS,
        )
        call_id = page.get_attribute("#playground", "data-call-id")
        assert call_id
        assert call_id.isdigit()

        # What the fake microphone said, as whisper heard it, as a final line.
        page.wait_for_function(
            """() => [...document.querySelectorAll('#transcript li[data-role="user"]')]
                .some(li => li.dataset.final === 'true' && /book/i.test(li.textContent)
                            && /table/i.test(li.textContent))""",
            timeout=CALL_STEP_MS,
        )
        # The assistant answers after it: audio received, played to the end, marked.
        page.wait_for_function(
            """() => {
                const lines = [...document.querySelectorAll('#transcript li')];
                const heard = lines.findIndex(li => li.dataset.role === 'user'
                                                    && /book/i.test(li.textContent));
                return lines.slice(heard + 1).some(li => li.dataset.role === 'assistant'
                    && li.querySelector('.text').textContent.trim().length > 0);
            }""",
            timeout=CALL_STEP_MS,
        )
        _wait_for_stat(page, "marksEchoed", 1)
        stats = _stats(page)
        assert stats["inputRate"].endswith("Hz")
        assert int(stats["framesSent"]) >= 300, stats  # 6 s of microphone at 20 ms
        assert int(stats["framesDropped"]) == 0, stats
        assert int(stats["framesReceived"]) > 0, stats
        assert float(stats["secondsReceived"]) > 0.5, stats
        assert int(stats["buffersPlayed"]) > 0, stats
        assert int(stats["errors"]) == 0, (stats, page.inner_text("#error"))

        page.click("#stop")
        page.wait_for_function(
            "() => document.querySelector('#playground').dataset.state === 'ended'",
            timeout=CALL_STEP_MS,
        )
        assert page.get_attribute("#playground", "data-end-reason") == "customer-ended-call"
        assert page.is_enabled("#start")
        assert errors == []

        # The record: finished off the audio path, so give it a moment.
        deadline = time.monotonic() + 60
        record = server.call(call_id)
        while record["status"] != "ended" and time.monotonic() < deadline:
            time.sleep(0.5)
            record = server.call(call_id)
        assert record["status"] == "ended", record
        assert record["direction"] == "web"
        assert record["end_reason"] == "customer-ended-call"
        user_lines = [m["text"].lower() for m in record["messages"] if m["role"] == "user"]
        assert any("book a table" in line for line in user_lines), record["messages"]
        assistant_lines = [m for m in record["messages"] if m["role"] == "assistant"]
        assert any(m["text"] and m["text"] != WELCOME for m in assistant_lines), record["messages"]

        # The key is remembered in this browser: a reload lists the assistants at once.
        page.reload()
        page.wait_for_function(
            "id => document.querySelector('#assistant').value === id", arg=str(server.assistant_id)
        )
        assert page.inner_text("#auth-status") == "Using your API key."
    finally:
        context.close()


def test_a_dashboard_login_is_enough_to_start_a_call(server: Server, browser: Browser) -> None:
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    try:
        # The login sets the auth-token and csrf-token cookies for this browser.
        login = context.request.post(
            f"{server.url}/auth/login", data={"email": server.email, "password": server.password}
        )
        assert login.status == 200, login.text()
        _open(page, server, errors)
        page.wait_for_function(
            "id => document.querySelector('#assistant').value === id", arg=str(server.assistant_id)
        )
        assert page.inner_text("#auth-status") == "Using your dashboard login."

        page.fill("#variables", "[1, 2]")
        page.click("#start")
        assert "Variables must be a JSON object" in page.inner_text("#error")
        assert page.get_attribute("#playground", "data-state") == "idle"

        # A cookie-authenticated write: the page must send the CSRF header.
        page.fill("#variables", '{"name": "Ada"}')
        page.click("#start")
        page.wait_for_function(
            "() => document.querySelector('#playground').dataset.state === 'in-call'",
            timeout=CALL_STEP_MS,
        )
        call_id = page.get_attribute("#playground", "data-call-id")
        assert call_id
        page.click("#stop")
        page.wait_for_function(
            "() => document.querySelector('#playground').dataset.state === 'ended'",
            timeout=CALL_STEP_MS,
        )
        assert page.get_attribute("#playground", "data-end-reason") == "customer-ended-call"
        assert server.call(call_id)["variables"] == {"name": "Ada"}
        assert errors == []
    finally:
        context.close()


def test_the_page_and_its_files_are_served_with_a_strict_policy(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        page = client.get("/playground")
        worklet = client.get("/playground/capture-worklet.js")
        missing = client.get("/playground/secrets.txt")
        slash = client.get("/playground/")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert '<select id="assistant"' in page.text
    assert worklet.status_code == 200
    assert worklet.headers["content-type"].startswith("text/javascript")
    assert 'registerProcessor("capture-processor"' in worklet.text
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    assert slash.status_code == 308
    assert slash.headers["location"] == "/playground"


_RENDER_THROUGH_WORKLET = """
async ([rate, frequency]) => {
  // One second of a tone at the context's rate through the capture worklet.
  const context = new OfflineAudioContext(2, rate, rate);
  await context.audioWorklet.addModule("playground/capture-worklet.js");
  const tone = new OscillatorNode(context, { frequency });
  const node = new AudioWorkletNode(context, "capture-processor", {
    numberOfOutputs: 1, channelCount: 2, channelCountMode: "explicit",
  });
  const frames = [];
  node.port.onmessage = (event) => frames.push(event.data);
  // Stereo in, at half amplitude: the worklet must average the two channels.
  tone.connect(new GainNode(context, { gain: 0.5 })).connect(node).connect(context.destination);
  tone.start();
  await context.startRendering();
  await new Promise((resolve) => setTimeout(resolve, 300)); // the last posted frames
  const samples = [];
  for (const frame of frames) {
    const view = new DataView(frame);
    for (let i = 0; i < frame.byteLength; i += 2) samples.push(view.getInt16(i, true));
  }
  return { sizes: [...new Set(frames.map((frame) => frame.byteLength))], samples };
}
"""


@pytest.mark.parametrize("rate", [44_100, 48_000])
def test_the_capture_worklet_resamples_to_16_khz_without_aliasing(
    server: Server, browser: Browser, rate: int
) -> None:
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{server.url}/playground")
        speech_band = page.evaluate(_RENDER_THROUGH_WORKLET, [rate, 1000])
        above_nyquist = page.evaluate(_RENDER_THROUGH_WORKLET, [rate, 12_000])
    finally:
        context.close()

    assert speech_band["sizes"] == [640]  # 20 ms of PCM16 at 16 kHz per frame
    tone = np.asarray(speech_band["samples"][800:], dtype=np.float64)  # past the filter's start
    assert len(tone) >= 15_000 - 800
    rms = np.sqrt(np.mean(tone**2)) / 32768
    assert rms == pytest.approx(0.5 / np.sqrt(2), rel=0.03)
    spectrum = np.abs(np.fft.rfft(tone * np.hanning(len(tone))))
    peak_hz = np.argmax(spectrum) * 16_000 / len(tone)
    assert peak_hz == pytest.approx(1000, abs=5)
    # 12 kHz cannot exist at 16 kHz: without the low-pass it would fold back to 4 kHz.
    folded = np.asarray(above_nyquist["samples"][800:], dtype=np.float64)
    assert np.sqrt(np.mean(folded**2)) / 32768 < 0.005
