"""The tests API: CRUD, what a bad request is told, tenant walls, and runs as durable
jobs (a run left by a dead worker is resumed by another at its first unfinished test;
a run whose assistant is gone ends with the reason)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from callwright.domain.evaluations.jobs import TestRunJobs
from callwright.settings import Settings
from callwright.store.base import utcnow
from callwright.store.models import TestResult, TestRun
from tests.conftest import make_tenant
from tests.evaluations.harness import Lab, lab

TEST = {
    "name": "hours",
    "caller": {"type": "script", "steps": [{"say": "When are you open?"}, {"hangup": True}]},
    "expectations": {"must_say": ["nine"]},
}


@pytest.fixture
async def suite(settings: Settings) -> AsyncIterator[Lab]:
    async with lab(settings) as running:
        yield running


async def _assistant(suite: Lab, **fields: Any) -> int:
    response = await suite.request(
        "POST", "/api/v1/assistants", json={"name": "a", "llm_provider": "openai", **fields}
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def _test(suite: Lab, assistant_id: int, body: dict[str, Any] = TEST) -> dict[str, Any]:
    response = await suite.request("POST", f"/api/v1/assistants/{assistant_id}/tests", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_tests_crud(suite: Lab) -> None:
    assistant_id = await _assistant(suite)
    base = f"/api/v1/assistants/{assistant_id}/tests"
    created = await _test(suite, assistant_id)
    assert created["caller"] == {
        "type": "script",
        "variables": {},
        "steps": [{"say": "When are you open?"}, {"hangup": True}],
    }
    assert created["expectations"]["must_say"] == ["nine"]
    llm = await _test(
        suite,
        assistant_id,
        {
            "name": "llm",
            "caller": {"type": "llm", "persona": "p", "goal": "g"},
            "expectations": {"rubric": "Polite."},
        },
    )
    assert llm["caller"]["max_turns"] == 6
    listed = await suite.request("GET", base)
    assert [t["id"] for t in listed.json()] == [created["id"], llm["id"]]

    patched = await suite.request(
        "PATCH", f"{base}/{created['id']}", json={"expectations": {"must_not_say": ["price"]}}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "hours"
    assert patched.json()["expectations"] == {
        "must_say": [],
        "must_not_say": ["price"],
        "tool_calls": [],
    }
    one = await suite.request("GET", f"{base}/{created['id']}")
    assert one.json() == patched.json()

    deleted = await suite.request("DELETE", f"{base}/{created['id']}")
    assert deleted.status_code == 204
    assert (await suite.request("GET", f"{base}/{created['id']}")).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**TEST, "caller": {"type": "script", "steps": []}}, "caller.script.steps"),
        ({**TEST, "caller": {"type": "phone"}}, "caller"),
        ({**TEST, "caller": {"type": "script", "steps": [{"say": "a", "dtmf": "1"}]}}, "caller"),
        ({**TEST, "expectations": {}}, "expectations"),
        ({**TEST, "expectations": {"end_reason": "bored"}}, "expectations.end_reason"),
        ({**TEST, "expectations": {"max_voice_to_voice_ms": 0}}, "expectations"),
        ({**TEST, "name": ""}, "name"),
    ],
)
async def test_a_bad_test_is_a_422_naming_the_field(
    suite: Lab, body: dict[str, Any], field: str
) -> None:
    assistant_id = await _assistant(suite)
    response = await suite.request("POST", f"/api/v1/assistants/{assistant_id}/tests", json=body)
    assert response.status_code == 422, response.text
    assert any(d["field"].startswith(field) for d in response.json()["details"]), response.json()


async def test_bad_runs_are_422s(suite: Lab) -> None:
    assistant_id = await _assistant(suite)
    run = f"/api/v1/assistants/{assistant_id}/tests/run"
    empty = await suite.request("POST", run)
    assert empty.status_code == 422
    assert "has no tests to run" in empty.json()["error"]
    await _test(suite, assistant_id)
    unknown = await suite.request("POST", run, json={"test_ids": [999]})
    assert unknown.status_code == 422
    assert "has no test 999" in unknown.json()["error"]
    bad_override = await suite.request("POST", run, json={"overrides": {"llm_provider": "nope"}})
    assert bad_override.status_code == 422, bad_override.text
    assert bad_override.json()["error"].startswith("overrides: ")
    private = await suite.request(
        "POST", run, json={"overrides": {"end_call_url": "http://10.0.0.1/hook"}}
    )
    assert private.status_code == 422, private.text
    assert private.json()["details"][0]["loc"][:2] == ["body", "overrides"]


async def test_other_organizations_see_no_tests_or_runs(suite: Lab) -> None:
    assistant_id = await _assistant(suite)
    test = await _test(suite, assistant_id)
    started = await suite.request("POST", f"/api/v1/assistants/{assistant_id}/tests/run")
    assert started.status_code == 202
    run_id = started.json()["id"]
    other = await make_tenant(suite.app, "Globex")
    base = f"/api/v1/assistants/{assistant_id}/tests"
    for method, path in (
        ("GET", base),
        ("GET", f"{base}/{test['id']}"),
        ("PATCH", f"{base}/{test['id']}"),
        ("DELETE", f"{base}/{test['id']}"),
        ("POST", f"{base}/run"),
        ("GET", f"{base}/runs"),
        ("GET", f"{base}/runs/{run_id}"),
        ("GET", f"{base}/runs/{run_id}/results/1/recording"),
    ):
        response = await suite.client.request(
            method, path, headers=other.headers, json={} if method == "PATCH" else None
        )
        assert response.status_code == 404, (method, path, response.text)
    # Their own assistant cannot reach this one's test by id either.
    theirs = await suite.client.post(
        "/api/v1/assistants", json={"name": "b"}, headers=other.headers
    )
    crossed = await suite.client.get(
        f"/api/v1/assistants/{theirs.json()['id']}/tests/{test['id']}", headers=other.headers
    )
    assert crossed.status_code == 404


async def test_a_run_left_by_a_dead_worker_resumes_at_its_first_unfinished_test(
    suite: Lab,
) -> None:
    assistant_id = await _assistant(
        suite, llm_settings={"welcome_message": "Hello.", "system_prompt": "Be kind."}
    )
    await _test(suite, assistant_id)
    await _test(suite, assistant_id, {**TEST, "name": "second"})
    started = await suite.request("POST", f"/api/v1/assistants/{assistant_id}/tests/run")
    run_id = started.json()["id"]
    sessions = suite.app.state.callwright.session_factory
    # A worker took the run, finished the first test, and died in the second.
    dead = TestRunJobs(sessions, timedelta(minutes=5))
    (claim,) = await dead.claim(1)
    first = await dead.next_result(claim)
    assert first is not None
    held = await dead.settle(claim, first.id, {"status": "passed", "verdicts": []})
    assert held is not None
    second = await dead.next_result(held)
    assert second is not None
    assert second.position == 2

    progress = (
        await suite.request("GET", f"/api/v1/assistants/{assistant_id}/tests/runs/{run_id}")
    ).json()
    assert progress["status"] == "running"
    assert (progress["progress"]["done"], progress["progress"]["running"]) == (1, 1)
    # While its lease holds, nobody else takes it.
    assert await suite.run_worker() == 0
    async with sessions() as db:
        await db.execute(update(TestRun).values(locked_until=utcnow() - timedelta(seconds=1)))
        await db.commit()
    assert await suite.run_worker() == 1

    done = (
        await suite.request("GET", f"/api/v1/assistants/{assistant_id}/tests/runs/{run_id}")
    ).json()
    assert done["status"] == "done"
    assert [r["status"] for r in done["results"]] == ["passed", "passed"]
    # The first test was not run again: its (empty) record is the dead worker's.
    assert done["results"][0]["transcript"] == []
    assert done["results"][1]["transcript"]
    # The dead worker's late outcome is refused: its lease is gone.
    assert await dead.settle(held, second.id, {"status": "failed"}) is None
    async with sessions() as db:
        statuses = (await db.execute(select(TestResult.status))).scalars().all()
    assert sorted(statuses) == ["passed", "passed"]


async def test_a_run_of_a_deleted_assistant_ends_with_why(suite: Lab) -> None:
    assistant_id = await _assistant(suite)
    await _test(suite, assistant_id)
    started = await suite.request("POST", f"/api/v1/assistants/{assistant_id}/tests/run")
    assert started.status_code == 202
    deleted = await suite.request("DELETE", f"/api/v1/assistants/{assistant_id}")
    assert deleted.status_code == 204
    assert await suite.run_worker() == 1
    async with suite.app.state.callwright.session_factory() as db:
        run = (await db.execute(select(TestRun))).scalar_one()
        result = (await db.execute(select(TestResult))).scalar_one()
    assert (run.status, run.error) == ("done", "the assistant was deleted")
    assert (result.status, result.error) == ("error", "the assistant was deleted")


async def test_overrides_reach_the_providers_and_a_test_that_cannot_run_errs(suite: Lab) -> None:
    assistant_id = await _assistant(suite)
    await _test(suite, assistant_id)
    await _test(suite, assistant_id, {**TEST, "name": "second"})
    started = await suite.request(
        "POST",
        f"/api/v1/assistants/{assistant_id}/tests/run",
        json={"overrides": {"llm_provider": "anthropic"}},
    )
    assert started.status_code == 202, started.text
    assert started.json()["overrides"] == {"llm_provider": "anthropic"}
    assert await suite.run_worker() == 1
    run = (
        await suite.request(
            "GET", f"/api/v1/assistants/{assistant_id}/tests/runs/{started.json()['id']}"
        )
    ).json()
    assert run["status"] == "done"
    assert run["passed"] is False
    assert run["progress"]["errored"] == 2
    for result in run["results"]:
        assert result["status"] == "error"
        assert result["error"] == (
            "ProviderUnavailable: anthropic: no key for this test's overrides"
        )
        assert result["verdicts"] == []
