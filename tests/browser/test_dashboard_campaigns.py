"""Campaigns and post-call analysis in the dashboard, in headless Chromium against a
real ``callwright serve`` (SQLite): a campaign created from a CSV upload shows the rows
the API rejected, is started, and its progress and per-row outcomes follow what the fake
Twilio REST API made of each call (answered, busy, no answer, through Twilio's signed
status callbacks); the do-not-call list is kept; a call's page shows its analysis and
re-runs it against a fake OpenAI-compatible model.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import pytest

from tests import server as live
from tests.browser import test_dashboard as dashboard
from tests.browser.test_dashboard import Server, Tab
from tests.calls.harness import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioApi, signed_post_headers
from tests.vendor_fakes import Received, Reply, serve
from tests.vendor_fakes.openai_chat import FakeOpenAI

# Imported by that module once the browser is known to be there (else it skips).
expect = dashboard.expect
# The dashboard tests' fixtures: this module's ``server`` replaces theirs, so its
# ``tab`` signs in here.
browser = dashboard.browser
screenshots = dashboard.screenshots
tab = dashboard.tab
twilio = dashboard.twilio

# Where Twilio is told to reach the server (never fetched: the fake places no media
# stream); Twilio signs its callbacks over this address.
PUBLIC_URL = "https://dashboard.callwright.test"
OUR_NUMBER = "+14155550142"
MODEL_KEY = "sk-analysis-fake-0123456789"
T = TypeVar("T")


def _in_a_thread(context: Callable[[], AbstractAsyncContextManager[T]]) -> Iterator[T]:
    """Enter an async context manager on its own event loop in a thread (these tests
    are synchronous), yield what it gives, and leave it when the generator closes."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop = asyncio.Event()
    entered: list[T] = []
    failed: list[BaseException] = []

    async def hold() -> None:
        try:
            async with context() as value:
                entered.append(value)
                ready.set()
                await stop.wait()
        except BaseException as exc:
            failed.append(exc)
            ready.set()
            raise

    thread = threading.Thread(target=loop.run_until_complete, args=(hold(),), daemon=True)
    thread.start()
    try:
        assert ready.wait(30), "the fake did not start"
        if failed:
            raise failed[0]
        yield entered[0]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()


@dataclass
class Analyst(FakeOpenAI):
    """The Chat Completions fake answering each analysis prompt by its kind (the plan's
    default prompts name it): ``answers`` maps a phrase of the system prompt to the
    text streamed back."""

    answers: dict[str, str] = field(default_factory=dict)

    async def _answer(self, request: Received, receive: Any, send: Any) -> None:
        body = request.body if isinstance(request.body, dict) else {}
        messages = body.get("messages") or [{}]
        system = str(messages[0].get("content") or "")
        for phrase, text in self.answers.items():
            if phrase in system:
                self.replies = deque([Reply((text,))])
                break
        await super()._answer(request, receive, send)


@pytest.fixture(scope="module")
def analyst() -> Iterator[tuple[Analyst, str]]:
    fake = Analyst(MODEL_KEY)

    @asynccontextmanager
    async def serving() -> AsyncIterator[str]:
        async with serve(fake) as url:
            yield url

    for url in _in_a_thread(serving):
        yield fake, url


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
    twilio: FakeTwilioApi,
    analyst: tuple[Analyst, str],
) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("dashboard-campaigns")
    model_port = analyst[1].rsplit(":", 1)[1]
    env = live.environment(
        f"sqlite+aiosqlite:///{root / 'callwright.db'}",
        root / "data",
        CALLWRIGHT_TWILIO_API_BASE_URL=twilio.base_url,
        CALLWRIGHT_PUBLIC_URL=PUBLIC_URL,
        CALLWRIGHT_CAMPAIGN_POLL_INTERVAL_SECONDS="0.2",
        # The fake model on loopback, allowed as an operator allows an internal LLM.
        CALLWRIGHT_OUTBOUND_ALLOWED_HOSTS=f"127.0.0.1:{model_port}",
        CALLWRIGHT_RATE_LIMIT_LOGIN_PER_MINUTE="1000",
    )
    with live.live_server(env, root / "server.log", timeout_s=60) as running:
        assert running.bootstrap_api_key, running.output
        password = re.search(r"(\S+@\S+) \(password (\S+)\)", running.output[0])
        assert password, running.output
        yield Server(running.url, password[1], password[2], running.bootstrap_api_key)


def _noon_zone() -> str:
    """An IANA zone where it is now about noon, so the default 09:00-17:00 window is
    open whatever the hour here (Etc/GMT-N is N hours east of UTC)."""
    offset = 12 - datetime.now(UTC).hour  # from +12 down to -11
    return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}" if offset else "Etc/GMT"


def _carrier_answers(
    server: Server, outcomes: dict[str, str]
) -> Callable[[dict[str, list[str]]], Any]:
    """What the far end does with each call the server places: once the server has
    recorded the call's Twilio sid, Twilio's signed status callback with the outcome
    scripted for the number (``completed``, ``busy``, ``no-answer``)."""

    async def answer(form: dict[str, list[str]]) -> None:
        sid, to = form["Sid"][0], form["To"][0]
        async with httpx.AsyncClient(base_url=server.url, headers=server.headers) as api:
            # The sid is stored once Twilio's answer to the create request is read.
            async with asyncio.timeout(30):
                while True:
                    calls = (await api.get("/api/v1/calls", params={"limit": 1000})).json()
                    if any(call["provider_call_id"] == sid for call in calls):
                        break
                    await asyncio.sleep(0.05)
            params = {"AccountSid": ACCOUNT_SID, "CallSid": sid, "CallStatus": outcomes[to]}
            path = "/telephony/twilio/status"
            headers = signed_post_headers(PUBLIC_URL + path, params, AUTH_TOKEN)
            sent = await api.post(path, data=params, headers=headers)
            assert sent.status_code == 204, sent.text

    return answer


@pytest.fixture(scope="module")
def carrier(server: Server, twilio: FakeTwilioApi) -> dict[str, Any]:
    """The organization's Twilio credential and number (answered by an assistant):
    what a campaign calls from. Returns the number as listed."""
    stored = server.api(
        "POST",
        "/api/v1/credentials",
        json={"provider": "twilio", "account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN},
    )
    assert stored.status_code == 201, stored.text
    assistant = server.create({"name": "Reminder caller"})
    twilio.own(OUR_NUMBER)
    number = server.api(
        "POST",
        "/api/v1/phone-numbers",
        json={"number": OUR_NUMBER, "name": "Outbound", "assistant_id": assistant["id"]},
    )
    assert number.status_code == 201, number.text
    listed: dict[str, Any] = number.json()
    return listed


def test_a_campaign_from_a_csv_shows_its_rejected_rows_then_runs_with_its_progress(
    tab: Tab, twilio: FakeTwilioApi, carrier: dict[str, Any]
) -> None:
    server = tab.server
    zone = _noon_zone()
    outcomes = {
        "+14155550101": "completed",
        "+14155550102": "completed",
        "+14155550103": "busy",
        "+14155550104": "no-answer",
    }
    twilio.on_create_call = _carrier_answers(server, outcomes)
    csv = "\n".join(
        [
            "number,timezone,first_name",
            f"+14155550101,{zone},Ada",
            "555-0100,,Bob",  # not E.164
            f"+1 (415) 555-0102,{zone},Cy",
            f"+14155550103,{zone},Di",
            f"+14155550101,{zone},Ada again",  # the same number as row 1
            f"+14155550104,{zone},Ed",
            "+14155550105,Mars/Olympus,Flo",  # no such zone
        ]
    )

    tab.sign_in()
    page = tab.page
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Campaigns").click()
    expect(page.locator("#no-campaigns")).to_be_visible()
    page.get_by_role("link", name="New campaign").click()

    # Nothing chosen, and a retry sooner than a minute: the API's 422, on the fields
    # it names; nothing is stored.
    busy_wait = page.get_by_label("Busy: minutes between tries")
    expect(busy_wait).to_have_value("10")  # the API's default
    busy_wait.fill("0.5")
    page.get_by_role("button", name="Create campaign").click()
    expect(page.locator("#campaign-name-error")).to_be_visible()
    expect(page.locator("#campaign-phone_number_ids-error")).to_be_visible()
    expect(page.locator("#campaign-retry_policy-error")).to_contain_text("busy.retry_after_seconds")
    expect(busy_wait).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Name")).to_have_attribute("aria-invalid", "true")
    assert server.api("GET", "/api/v1/campaigns").json() == []

    page.get_by_label("Name").fill("December reminders")
    expect(page.locator("#campaign-name-error")).to_have_count(0)  # gone once edited
    busy_wait.fill("10")
    page.get_by_label("Assistant").select_option(label="Reminder caller")
    page.get_by_label(OUR_NUMBER).check()
    page.get_by_label("Recipients (CSV or JSON)").set_input_files(
        files=[{"name": "reminders.csv", "mimeType": "text/csv", "buffer": csv.encode()}]
    )
    page.get_by_label("Sat").check()
    page.get_by_label("Sun").check()
    page.get_by_label("Calls at once, at most").fill("2")
    page.get_by_label("No answer: retries").fill("0")
    tab.page.screenshot(path=tab.screenshots / "campaign-new.png", full_page=True)
    page.get_by_role("button", name="Create campaign").click()

    # The campaign's page, with the upload's report: each rejected row and why.
    expect(page.get_by_role("heading", name="December reminders")).to_be_visible()
    report = page.locator("#upload-report")
    expect(report).to_contain_text("reminders.csv: 4 rows added; 3 rejected.")
    rejected = page.locator("#rejected-rows tbody tr")
    expect(rejected).to_have_count(3)
    expect(rejected.nth(0)).to_contain_text("555-0100")
    expect(rejected.nth(0)).to_contain_text("not an E.164 number")
    expect(page.locator('#rejected-rows tr[data-row="5"]')).to_contain_text(
        "the same number as row 1"
    )
    expect(page.locator('#rejected-rows tr[data-row="7"]')).to_contain_text("unknown time zone")
    expect(page.locator("#campaign-status")).to_have_text("draft")
    expect(page.locator('#campaign-progress [data-count="pending"]')).to_have_text("4")
    expect(page.locator("#campaign-window")).to_contain_text("Mon–Sun 09:00–17:00")
    expect(page.locator('#campaign-retries [data-outcome="no-answer"]')).to_have_text(
        "No answer: not retried"
    )
    (stored,) = server.api("GET", "/api/v1/campaigns").json()
    assert stored["max_concurrency"] == 2
    assert stored["retry_policy"]["no-answer"]["max_retries"] == 0
    assert stored["calling_window"]["days"] == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

    page.get_by_role("button", name="Start").click()
    expect(page.locator("#campaign-status")).to_have_text("running")
    # Progress follows the calls' outcomes as the page polls: two answered, the busy
    # number waiting for its retry, the unanswered one failed (no retries for it).
    progress = page.locator("#campaign-progress")
    expect(progress.locator('[data-count="completed"]')).to_have_text("2")
    expect(progress.locator('[data-count="retrying"]')).to_have_text("1")
    expect(progress.locator('[data-count="failed"]')).to_have_text("1")
    expect(progress.locator('[data-count="in_progress"]')).to_have_text("0")
    expect(progress.locator('[data-count="pending"]')).to_have_text("0")
    expect(progress.locator('rect[data-state="completed"]')).to_have_attribute("data-count", "2")

    rows = page.locator("#recipients tbody tr")
    expect(rows).to_have_count(4)
    busy = page.locator('#recipients tr[data-number="+14155550103"]')
    expect(busy).to_have_attribute("data-status", "retrying")
    expect(busy).to_contain_text("busy")
    expect(busy).to_contain_text("first_name: Di")
    failed = page.locator('#recipients tr[data-number="+14155550104"]')
    expect(failed).to_have_attribute("data-status", "failed")
    expect(failed).to_contain_text("no-answer")
    page.screenshot(path=tab.screenshots / "campaign.png", full_page=True)
    # On a phone: nothing wider than the screen (wide tables scroll in their panel).
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.locator("#recipients")).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    page.screenshot(path=tab.screenshots / "phone-campaign.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    # Only the rows in one state; each row links to its calls.
    page.get_by_label("State").select_option("completed")
    expect(rows).to_have_count(2)
    answered = page.locator('#recipients tr[data-number="+14155550102"]')
    (recipient,) = [
        row
        for row in server.api("GET", f"/api/v1/campaigns/{stored['id']}/recipients").json()
        if row["number"] == "+14155550102"
    ]
    (call_id,) = recipient["call_ids"]
    answered.get_by_role("link", name=f"#{call_id}").click()
    expect(page.get_by_role("heading", name=f"Call #{call_id}")).to_be_visible()
    expect(page.locator("#call-status")).to_have_text("ended")
    page.go_back()
    expect(page.get_by_role("heading", name="December reminders")).to_be_visible()

    page.get_by_role("button", name="Pause").click()
    expect(page.locator("#campaign-status")).to_have_text("paused")
    page.get_by_role("button", name="Resume").click()
    expect(page.locator("#campaign-status")).to_have_text("running")
    page.get_by_role("button", name="Cancel campaign").click()
    page.get_by_role("button", name="Cancel it").click()
    expect(page.locator("#campaign-status")).to_have_text("canceled")
    expect(page.get_by_role("button", name="Start")).to_have_count(0)
    expect(page.get_by_label("Add recipients (CSV or JSON)")).to_have_count(0)
    expect(progress.locator('[data-count="canceled"]')).to_have_text("1")  # the busy retry
    assert server.api("GET", f"/api/v1/campaigns/{stored['id']}").json()["status"] == "canceled"
    # Exactly one call per number that was dialled: nothing was called twice.
    dialled = [
        form["To"][0] for method, path, form in twilio.requests if path.endswith("/Calls.json")
    ]
    assert sorted(dialled) == sorted(outcomes)

    page.get_by_role("link", name="Campaigns").first.click()
    row = page.locator(f'#campaigns tr[data-id="{stored["id"]}"]')
    expect(row).to_have_attribute("data-status", "canceled")
    expect(row).to_contain_text("Reminder caller")
    expect(row.locator(".progress-cell")).to_contain_text("100% of 4")
    tab.shoot("campaigns")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390


def test_an_upload_the_api_refuses_whole_is_said_and_more_rows_can_be_added(
    tab: Tab, carrier: dict[str, Any]
) -> None:
    server = tab.server
    assistant = server.create({"name": "Survey caller"})
    created = server.api(
        "POST",
        "/api/v1/campaigns",
        json={
            "name": "Survey",
            "assistant_id": assistant["id"],
            "phone_number_ids": [carrier["id"]],
        },
    )
    assert created.status_code == 201, created.text

    tab.sign_in()
    page = tab.page
    page.goto(f"{server.url}/app/campaigns/{created.json()['id']}")
    expect(page.locator("#no-recipients")).to_be_visible()
    upload = page.get_by_label("Add recipients (CSV or JSON)")
    # A CSV without a number column: the API refuses the upload whole.
    upload.set_input_files(
        files=[{"name": "people.csv", "mimeType": "text/csv", "buffer": b"phone\n+14155550100\n"}]
    )
    expect(page.locator("#upload-report")).to_contain_text("a 'number' column")
    expect(page.locator("#upload-report")).to_have_attribute("data-state", "refused")
    # JSON, told apart from CSV by its extension.
    people = b'[{"number": "+442071838750", "variables": {"name": "Flo"}}, {"number": "12"}]'
    upload.set_input_files(
        files=[{"name": "people.json", "mimeType": "application/json", "buffer": people}]
    )
    expect(page.locator("#upload-report")).to_contain_text("people.json: 1 row added; 1 rejected.")
    row = page.locator('#recipients tr[data-number="+442071838750"]')
    expect(row).to_contain_text("Europe/London")  # from the country code
    expect(row).to_have_attribute("data-status", "pending")
    # A draft with rows can be deleted from its page.
    page.get_by_role("button", name="Delete").click()
    page.get_by_role("button", name="Delete Survey").click()
    expect(page).to_have_url(f"{server.url}/app/campaigns")
    assert server.api("GET", f"/api/v1/campaigns/{created.json()['id']}").status_code == 404


def test_the_do_not_call_list_is_added_to_refused_on_its_field_and_pruned(tab: Tab) -> None:
    server = tab.server
    tab.sign_in()
    page = tab.page
    page.goto(f"{server.url}/app/campaigns")
    page.get_by_role("link", name="Do-not-call list").click()
    expect(page.locator("#no-do-not-call")).to_be_visible()

    page.get_by_label("Number", exact=True).fill("0207 946 0000")
    page.get_by_role("button", name="Add to the list").click()
    expect(page.locator("#dnc-number-error")).to_be_visible()
    expect(page.get_by_label("Number", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Number", exact=True)).to_be_focused()
    assert server.api("GET", "/api/v1/do-not-call").json() == []

    page.get_by_label("Number", exact=True).fill("+442079460000")
    page.get_by_label("Reason").fill("Asked not to be called")
    page.get_by_role("button", name="Add to the list").click()
    row = page.locator('#do-not-call tr[data-number="+442079460000"]')
    expect(row).to_contain_text("Asked not to be called")
    expect(page.get_by_label("Number", exact=True)).to_have_value("")
    listed = server.api("GET", "/api/v1/do-not-call").json()
    assert [entry["number"] for entry in listed] == ["+442079460000"]
    tab.shoot("do-not-call")

    row.get_by_role("button", name="Take +442079460000 off the list").click()
    row.get_by_role("button", name="Remove +442079460000").click()
    expect(page.locator("#no-do-not-call")).to_be_visible()
    assert server.api("GET", "/api/v1/do-not-call").json() == []


SCHEMA = {
    "type": "object",
    "properties": {"topic": {"type": "string"}, "booked": {"type": "boolean"}},
    "required": ["topic", "booked"],
}


def test_a_calls_analysis_is_shown_and_re_run(tab: Tab, analyst: tuple[Analyst, str]) -> None:
    server = tab.server
    fake, model_url = analyst
    assistant = server.create(
        {
            "name": "Analysed",
            "llm_provider": "openai",
            "llm_provider_config": {"api_key": MODEL_KEY, "base_url": f"{model_url}/v1"},
            "analysis_plan": {
                # The call below never connects: no transcript, analysed all the same.
                "min_messages_threshold": 0,
                "structured_data_plan": {"json_schema": SCHEMA},
            },
        }
    )
    placed = server.api("POST", "/api/v1/calls/web", json={"assistant_id": assistant["id"]})
    assert placed.status_code == 201, placed.text
    call_id = placed.json()["call_id"]
    ended = server.api("POST", f"/api/v1/calls/{call_id}/end")
    assert ended.status_code == 200, ended.text
    assert server.api("GET", f"/api/v1/calls/{call_id}").json()["analysis"] is None
    fake.answers = {
        "expert note-taker": "The caller booked a table for two at eight.",
        "expert data extractor": '{"topic": "booking", "booked": true}',
        "expert call evaluator": "true",
    }

    tab.sign_in()
    page = tab.page
    page.goto(f"{server.url}/app/calls/{call_id}")
    panel = page.locator("#call-analysis")
    expect(panel).to_have_attribute("data-status", "none")
    expect(panel).to_contain_text("This call has not been analysed.")

    page.get_by_role("button", name="Re-run analysis").click()
    # Pending while the server's worker runs it; the page polls until it settles.
    expect(panel).to_have_attribute("data-status", "completed")
    expect(page.locator("#analysis-summary")).to_have_text(
        "The caller booked a table for two at eight."
    )
    expect(page.locator("#analysis-structured-data")).to_contain_text('"topic": "booking"')
    expect(page.locator("#analysis-structured-data")).to_contain_text('"booked": true')
    expect(page.locator("#analysis-success")).to_have_text("Passed")
    expect(page.locator("#analysis-error")).to_have_count(0)
    stored = server.api("GET", f"/api/v1/calls/{call_id}").json()["analysis"]
    assert stored == {
        "summary": "The caller booked a table for two at eight.",
        "structured_data": {"topic": "booking", "booked": True},
        "success_evaluation": True,
        "status": "completed",
        "error": None,
    }
    tab.page.screenshot(path=tab.screenshots / "call-analysis.png", full_page=True)

    # The model now answers off the schema, twice: the re-run replaces the analysis,
    # the data recorded as an error, never as valid.
    fake.answers = {
        "expert note-taker": "A second look: the caller cancelled.",
        "expert data extractor": '{"topic": "booking", "booked": "no"}',
        "expert call evaluator": "false",
    }
    page.get_by_role("button", name="Re-run analysis").click()
    expect(panel).to_have_attribute("data-status", "failed")
    expect(page.locator("#analysis-summary")).to_have_text("A second look: the caller cancelled.")
    expect(page.locator("#analysis-error")).to_contain_text(
        "structured_data: invalid against the schema at booked"
    )
    expect(page.locator("#analysis-structured-data")).to_have_text("—")
    expect(page.locator("#analysis-success")).to_have_text("Failed")

    # An assistant without a plan: the re-run's 409 is shown as the API words it.
    plain = server.create({"name": "Not analysed"})
    other = server.api("POST", "/api/v1/calls/web", json={"assistant_id": plain["id"]})
    other_id = other.json()["call_id"]
    assert server.api("POST", f"/api/v1/calls/{other_id}/end").status_code == 200
    refused = server.api("POST", f"/api/v1/calls/{other_id}/analysis")
    assert refused.status_code == 409
    page.goto(f"{server.url}/app/calls/{other_id}")
    expect(page.locator("#analysis-no-plan")).to_be_visible()
    page.get_by_role("button", name="Re-run analysis").click()
    expect(page.locator("#analysis-problem")).to_have_text(refused.json()["error"])
