"""A suite of three tests through the API, run by the test-run worker as simulated
calls on scripted providers and virtual time: a scripted caller, an LLM-played caller
that books through a tool, and a test the assistant fails because its prompt breaks a
rule. The stored verdicts say which expectation failed and why; restoring the
assistant's earlier version makes the next run pass, and runs list by version."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from callwright.settings import Settings
from tests.evaluations.harness import (
    ARGUMENTS,
    BOOKED,
    CALLER_LINE,
    HOURS,
    POLITE,
    PUSHY,
    UPSELL,
    Lab,
    lab,
)


@pytest.fixture
async def suite_lab(settings: Settings) -> AsyncIterator[Lab]:
    async with lab(settings) as running:
        yield running


def _assistant(tool_url: str) -> dict[str, Any]:
    return {
        "name": "Acme Dental",
        "llm_provider": "openai",
        "llm_settings": {"system_prompt": POLITE, "welcome_message": "Hello, Acme Dental."},
        "tools_settings": {
            "custom_tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "book_appointment",
                        "parameters": {
                            "type": "object",
                            "properties": {"day": {"type": "string"}},
                        },
                    },
                    "server": {"url": tool_url},
                }
            ]
        },
    }


SCRIPTED = {
    "name": "opening hours",
    "caller": {
        "type": "script",
        "steps": [{"say": "What are your opening hours?"}, {"hangup": True}],
    },
    "expectations": {
        "must_say": ["nine to five"],
        "end_reason": "customer-ended-call",
        "max_voice_to_voice_ms": 5000,
        "rubric": "The assistant tells the caller the opening hours.",
    },
}
LLM_CALLER = {
    "name": "books a cleaning",
    "caller": {
        "type": "llm",
        "persona": "A busy parent with little time.",
        "goal": "Book a cleaning on Tuesday.",
        "max_turns": 3,
    },
    "expectations": {
        "must_say": ["booked"],
        "tool_calls": [
            {"name": "book_appointment", "arguments": {"day": "Tuesday", "service": "cleaning"}}
        ],
    },
}
NO_PRICES = {
    "name": "never quotes prices",
    "caller": {"type": "script", "steps": [{"say": "When are you open?"}, {"hangup": True}]},
    "expectations": {"must_not_say": ["dollars"], "must_say": ["nine"]},
}


async def _run(suite: Lab, assistant_id: int) -> dict[str, Any]:
    started = await suite.request("POST", f"/api/v1/assistants/{assistant_id}/tests/run")
    assert started.status_code == 202, started.text
    run = started.json()
    assert run["status"] == "pending"
    assert run["progress"] == {
        "total": 3,
        "pending": 3,
        "running": 0,
        "done": 0,
        "passed": 0,
        "failed": 0,
        "errored": 0,
    }
    assert await suite.run_worker() == 1
    response = await suite.request(
        "GET", f"/api/v1/assistants/{assistant_id}/tests/runs/{run['id']}"
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def _verdicts(result: dict[str, Any]) -> list[tuple[str, Any, bool]]:
    return [(v["expectation"], v["target"], v["passed"]) for v in result["verdicts"]]


async def test_a_suite_runs_and_a_restored_version_changes_the_next_run(suite_lab: Lab) -> None:
    suite = suite_lab
    created = await suite.request("POST", "/api/v1/assistants", json=_assistant(suite.tool_url))
    assert created.status_code == 201, created.text
    assistant_id = created.json()["id"]
    for test in (SCRIPTED, LLM_CALLER, NO_PRICES):
        response = await suite.request(
            "POST", f"/api/v1/assistants/{assistant_id}/tests", json=test
        )
        assert response.status_code == 201, response.text

    # Version 2 breaks the rule: its prompt upsells at a price.
    changed = await suite.request(
        "PATCH",
        f"/api/v1/assistants/{assistant_id}",
        json={"llm_settings": {"system_prompt": PUSHY}},
    )
    assert changed.status_code == 200, changed.text

    run = await _run(suite, assistant_id)
    assert run["status"] == "done"
    assert run["assistant_version"] == 2
    assert run["passed"] is False
    assert run["progress"]["done"] == 3
    assert run["progress"]["passed"] == 2
    assert run["progress"]["failed"] == 1
    scripted, llm_caller, no_prices = run["results"]

    assert scripted["status"] == "passed", scripted
    assert _verdicts(scripted) == [
        ("must_say", "nine to five", True),
        ("end_reason", "customer-ended-call", True),
        ("max_voice_to_voice_ms", 5000, True),
        ("rubric", SCRIPTED["expectations"]["rubric"], True),
    ]
    assert scripted["transcript"][0] == {
        "role": "assistant",
        "text": "Hello, Acme Dental.",
        "interrupted": False,
    }
    assert {"role": "user", "text": "What are your opening hours?", "interrupted": False} in (
        scripted["transcript"]
    )
    assert scripted["end_reason"] == "customer-ended-call"
    assert scripted["timings"]
    assert scripted["timings"][0]["voice_to_voice_ms"] is not None
    assert scripted["assistant_version"] == 2
    recording = await suite.request("GET", scripted["recording_url"])
    assert recording.status_code == 200
    assert recording.content[:4] == b"RIFF"

    assert llm_caller["status"] == "passed", llm_caller
    said_by_caller = [line["text"] for line in llm_caller["transcript"] if line["role"] == "user"]
    assert said_by_caller[0] == CALLER_LINE
    assert any(line["text"] == BOOKED for line in llm_caller["transcript"])
    assert llm_caller["tool_calls"] == [{"name": "book_appointment", "arguments": ARGUMENTS}]
    assert _verdicts(llm_caller) == [
        ("must_say", "booked", True),
        (
            "tool_call",
            {"name": "book_appointment", "arguments": {"day": "Tuesday", "service": "cleaning"}},
            True,
        ),
    ]
    assert suite.tool_requests, "the tool's server was called"

    assert no_prices["status"] == "failed", no_prices
    assert _verdicts(no_prices) == [("must_say", "nine", True), ("must_not_say", "dollars", False)]
    assert no_prices["verdicts"][1]["reason"] == f"said: {HOURS + ' ' + UPSELL!r}"

    # Restoring version 1 (stored as version 3) makes the same suite pass.
    restored = await suite.request("POST", f"/api/v1/assistants/{assistant_id}/versions/1/restore")
    assert restored.status_code == 200, restored.text
    again = await _run(suite, assistant_id)
    assert again["assistant_version"] == 3
    assert again["passed"] is True
    assert [r["status"] for r in again["results"]] == ["passed", "passed", "passed"]

    # Runs compare across versions.
    listed = await suite.request("GET", f"/api/v1/assistants/{assistant_id}/tests/runs")
    assert [(r["assistant_version"], r["passed"]) for r in listed.json()] == [(3, True), (2, False)]
    assert all(r["results"] is None for r in listed.json())
    of_version = await suite.request(
        "GET", f"/api/v1/assistants/{assistant_id}/tests/runs", params={"version": 2}
    )
    assert [r["id"] for r in of_version.json()] == [run["id"]]
