"""An assistant's Tests page in headless Chromium against the dashboard tests' live
server on the offline models (issue 19): two tests made in the form (the API's 422
shown on the fields it names first), one that passes and one that must fail because
the assistant breaks its rule; both run from the page, whose run view polls until the
verdicts are in; the runs list then filters by the assistant version each run tested.
"""

from __future__ import annotations

import re

import pytest

from tests.browser import test_dashboard as dashboard
from tests.browser.test_dashboard import Tab
from tests.support.optional import require_installed

expect = dashboard.expect
browser = dashboard.browser
screenshots = dashboard.screenshots
server = dashboard.server
tab = dashboard.tab
twilio = dashboard.twilio

# The assistant's opening line: said whatever the local model makes of the caller.
WELCOME = "Hello, thanks for calling Acme."
# A hang detector only: each test is a real-time simulated call on the offline models,
# loaded by the server on the first one, on a shared machine.
RUN_MS = 600_000


@pytest.fixture
def testable(tab: Tab) -> Tab:
    operations = {
        operation.get("operationId")
        for path in tab.server.api("GET", "/openapi.json").json()["paths"].values()
        for operation in path.values()
        if isinstance(operation, dict)
    }
    if "run_assistant_tests" not in operations:
        pytest.skip("this server has no test suites API yet (issue 19)")
    require_installed(
        "faster_whisper", "llama_cpp", "piper", why="test runs here use the offline models"
    )
    return tab


def test_two_tests_made_run_and_judged_one_passes_one_fails(testable: Tab) -> None:
    tab = testable
    server = tab.server
    created = server.create(
        {
            "name": "Acme front desk",
            "llm_settings": {"welcome_message": WELCOME, "max_tokens": 24, "temperature": 0},
        }
    )
    base = f"/api/v1/assistants/{created['id']}"

    tab.sign_in()
    page = tab.page
    page.goto(f"{server.url}/app/assistants/{created['id']}")
    page.locator("#tests-link").click()
    expect(page.get_by_role("heading", name="Tests", exact=True)).to_be_visible()
    expect(page.locator("#no-tests")).to_be_visible()
    expect(page.locator("#no-runs")).to_be_visible()
    expect(page.locator("#run-all")).to_be_disabled()

    # The first test, sent with an empty line and a negative latency bound: the API's
    # 422 lands on those two fields.
    page.get_by_role("button", name="New test").click()
    form = page.locator("#test-form")
    form.get_by_label("Name", exact=True).fill("greets with the name")
    form.get_by_label("Max voice-to-voice (ms)").fill("-5")
    form.get_by_label("Must say (one phrase a line)").fill("Acme")
    form.get_by_label("End reason").select_option("customer-ended-call")
    form.get_by_role("button", name="Create test").click()
    expect(page.locator("#test-form-error")).to_be_visible()
    expect(page.locator("#test-step-0-error")).to_contain_text("at least 1 character")
    expect(page.locator("#test-max-v2v-error")).to_contain_text("greater than 0")
    expect(form.get_by_label("Words of step 1")).to_have_attribute("aria-invalid", "true")
    tab.shoot("assistant-test-invalid")
    form.get_by_label("Words of step 1").fill("Hi, when are you open?")
    form.get_by_label("Max voice-to-voice (ms)").fill("")
    form.get_by_role("button", name="Create test").click()
    expect(page.locator("#tests-notice")).to_contain_text("greets with the name")

    # The second: the assistant must never name the company, which its opening does.
    page.get_by_role("button", name="New test").click()
    form.get_by_label("Name", exact=True).fill("never names it")
    form.get_by_role("button", name="Remove step 1").click()
    expect(form.get_by_label("Step 1", exact=True)).to_have_value("hangup")
    form.get_by_label("Must not say (one phrase a line)").fill("acme")
    form.get_by_role("button", name="Create test").click()
    expect(page.locator("#tests-notice")).to_contain_text("never names it")

    # Edited: the form opens with the test as stored; a PATCH saves it.
    page.get_by_role("button", name="Edit never names it").click()
    expect(form.get_by_label("Step 1", exact=True)).to_have_value("hangup")
    expect(form.get_by_label("Must not say (one phrase a line)")).to_have_value("acme")
    form.get_by_label("Name", exact=True).fill("never names the company")
    form.get_by_role("button", name="Save test").click()
    expect(page.locator("#tests-notice")).to_have_text("Test “never names the company” saved.")

    # A third, never run here: an LLM caller, a tool with arguments and a rubric, its
    # turn bound first out of range (the API's 422 on the field).
    page.get_by_role("button", name="New test").click()
    form.get_by_label("Name", exact=True).fill("books a cleaning")
    form.get_by_label("An LLM playing a caller").check()
    form.get_by_label("Persona").fill("A busy parent who talks fast.")
    form.get_by_label("Goal").fill("Book a cleaning on Tuesday.")
    form.get_by_label("Max turns").fill("50")
    page.get_by_role("button", name="Add tool").click()
    form.get_by_label("Tool 1 name").fill("book_appointment")
    form.get_by_label("Tool 1 arguments (JSON)").fill('{"day": "Tuesday"}')
    form.get_by_label("Rubric (judged by a model)").fill("The assistant confirms the day.")
    form.get_by_role("button", name="Create test").click()
    expect(page.locator("#test-max-turns-error")).to_contain_text("less than or equal to 30")
    form.get_by_label("Max turns").fill("3")
    form.get_by_role("button", name="Create test").click()
    expect(page.locator("#tests-notice")).to_contain_text("books a cleaning")

    rows = page.locator("#tests tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(2)).to_contain_text("LLM caller, up to 3 turns")
    expect(rows.nth(2)).to_contain_text("calls book_appointment")
    expect(rows.nth(0)).to_contain_text("Script: 2 steps")
    expect(rows.nth(0)).to_contain_text("ends: customer-ended-call")
    expect(rows.nth(1)).to_contain_text("never says “acme”")
    stored = server.api("GET", f"{base}/tests").json()
    assert [test["caller"].get("steps") for test in stored] == [
        [{"say": "Hi, when are you open?"}, {"hangup": True}],
        [{"hangup": True}],
        None,
    ]
    assert stored[0]["expectations"]["end_reason"] == "customer-ended-call"
    assert stored[2]["caller"] == {
        "type": "llm",
        "persona": "A busy parent who talks fast.",
        "goal": "Book a cleaning on Tuesday.",
        "max_turns": 3,
        "variables": {},
    }
    assert stored[2]["expectations"]["tool_calls"] == [
        {"name": "book_appointment", "arguments": {"day": "Tuesday"}}
    ]
    assert stored[2]["expectations"]["rubric"] == "The assistant confirms the day."

    # Run the first two (ticked), and follow the run until its verdicts are in.
    page.get_by_label("Select greets with the name").check()
    page.get_by_label("Select never names the company").check()
    # Overrides the merged assistant refuses are a 422 on the overrides, and no run.
    page.get_by_text("Run with other settings").click()
    overrides = page.get_by_label("Overrides for the run (JSON object)")
    overrides.fill('{"llm_settings": {"temperature": 9}}')
    page.get_by_role("button", name="Run selected (2)").click()
    expect(page.locator("#run-overrides-error")).to_contain_text("llm_settings.temperature")
    expect(overrides).to_have_attribute("aria-invalid", "true")
    assert server.api("GET", f"{base}/tests/runs").json() == []
    overrides.fill("")
    page.get_by_role("button", name="Run selected (2)").click()
    expect(page).to_have_url(re.compile(r"/tests/runs/\d+$"))
    run_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("#run-version")).to_have_text("v1")
    expect(page.locator("#run-outcome")).to_have_text("failed", timeout=RUN_MS)
    expect(page.locator("#run-progress-text")).to_have_text("2 of 2 done: 1 passed, 1 failed")

    passing = page.locator('.test-result[data-position="1"]')
    failing = page.locator('.test-result[data-position="2"]')
    expect(passing).to_have_attribute("data-status", "passed")
    expect(failing).to_have_attribute("data-status", "failed")
    expect(passing.locator('tr[data-expectation="must_say"]')).to_have_attribute(
        "data-passed", "true"
    )
    expect(passing.locator('tr[data-expectation="end_reason"]')).to_have_attribute(
        "data-passed", "true"
    )
    broken = failing.locator('tr[data-expectation="must_not_say"]')
    expect(broken).to_have_attribute("data-passed", "false")
    expect(broken).to_contain_text("fail")
    expect(broken).to_contain_text("Acme")
    expect(passing.locator(".transcript")).to_contain_text(WELCOME)
    expect(passing.locator(".transcript li[data-role='assistant']").first).to_be_visible()
    expect(passing.locator("table.timings")).to_be_visible()
    link = failing.locator("a.recording-link")
    href = link.get_attribute("href")
    assert href == f"{base}/tests/runs/{run_id}/results/2/recording"
    recording = page.request.get(f"{server.url}{href}")
    assert recording.status == 200
    assert recording.headers["content-type"] == "audio/wav"
    assert recording.body()[:4] == b"RIFF"
    tab.shoot("assistant-tests")

    # What the page showed is what the API stored.
    stored_run = server.api("GET", f"{base}/tests/runs/{run_id}").json()
    assert stored_run["passed"] is False
    assert [r["status"] for r in stored_run["results"]] == ["passed", "failed"]

    # A change to the assistant is a new version: the runs list tells them apart.
    patched = server.api("PATCH", base, json={"description": "edited after the run"})
    assert patched.status_code == 200, patched.text
    page.get_by_role("link", name="Tests", exact=True).click()
    runs = page.locator("#runs tbody tr")
    expect(runs).to_have_count(1)
    expect(runs.nth(0)).to_have_attribute("data-version", "1")
    expect(runs.nth(0)).to_contain_text("1 passed, 1 failed")
    page.get_by_label("Version").select_option("2")
    expect(page.locator("#no-runs")).to_have_text("No runs of version 2.")
    expect(page).to_have_url(re.compile(r"[?&]version=2"))
    page.get_by_label("Version").select_option("1")
    expect(runs).to_have_count(1)
    tab.shoot("assistant-test-list")

    # A deleted test leaves its run whole.
    page.get_by_role("button", name="Delete never names the company…").click()
    page.get_by_role("button", name="Delete never names the company", exact=True).click()
    expect(page.locator("#tests-notice")).to_contain_text("deleted")
    expect(rows).to_have_count(2)
    page.get_by_role("link", name=f"Run #{run_id}").click()
    expect(failing).to_have_attribute("data-status", "failed")
