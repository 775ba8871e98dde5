"""The server's own test-run worker (started with the app) runs a run queued through
the API: real time, the caller's voice an offline one (espeak-ng), the assistant's
providers scripted. The test reads the run again each time a change to a run is
committed, with a hang detector only."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import Engine, Update, event

from callwright.api.app import create_app
from callwright.clock import MonotonicClock
from callwright.settings import Settings
from tests.conftest import make_tenant
from tests.evaluations.harness import provider_factory
from tests.support.optional import require, require_program

HANG_DETECTOR_S = 120  # a run of one short test takes seconds


RECHECK_S = 1.0  # the longest a read of the run waits for a change: see ``until_done``


@contextmanager
def run_changes(engine: Engine) -> Iterator[asyncio.Event]:
    """An event set whenever a transaction that updated ``test_runs`` commits (as the
    commit begins: SQLAlchemy has no engine event after it)."""
    changed = asyncio.Event()
    loop = asyncio.get_running_loop()

    def executed(connection: Any, statement: Any, *args: Any) -> None:
        if isinstance(statement, Update) and statement.table.name == "test_runs":
            connection.info["test_runs_changed"] = True

    def committed(connection: Any) -> None:
        if connection.info.pop("test_runs_changed", False):
            loop.call_soon_threadsafe(changed.set)

    event.listen(engine, "after_execute", executed)
    event.listen(engine, "commit", committed)
    try:
        yield changed
    finally:
        event.remove(engine, "after_execute", executed)
        event.remove(engine, "commit", committed)


async def until_done(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], changed: asyncio.Event
) -> dict[str, Any]:
    """The run at ``path`` once done: read again after each change to a run, and at
    least every ``RECHECK_S``, since the change event fires as the commit begins and the
    read it wakes may still see the run as it was before that commit (the last one)."""
    while True:
        changed.clear()
        run: dict[str, Any] = (await client.get(path, headers=headers)).json()
        if run["status"] == "done":
            return run
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(RECHECK_S):
                await changed.wait()


async def test_the_servers_worker_runs_a_run_queued_through_the_api(settings: Settings) -> None:
    require("onnxruntime", "the offline extra")
    require_program("espeak-ng", "the simulated caller speaks with espeak-ng")
    line = "When are you open?"
    configured = settings.model_copy(update={"analysis_enabled": False})
    app = create_app(configured, provider_factory=provider_factory(MonotonicClock(), deque([line])))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client,
    ):
        tenant = await make_tenant(app, "Acme")
        headers = tenant.headers
        created = await client.post(
            "/api/v1/assistants",
            json={
                "name": "a",
                "llm_provider": "openai",
                "llm_settings": {"welcome_message": "Hi."},
            },
            headers=headers,
        )
        base = f"/api/v1/assistants/{created.json()['id']}/tests"
        test = {
            "name": "hours",
            "caller": {"type": "script", "steps": [{"say": line}, {"hangup": True}]},
            "expectations": {"must_say": ["nine to five"], "end_reason": "customer-ended-call"},
        }
        assert (await client.post(base, json=test, headers=headers)).status_code == 201
        with run_changes(app.state.callwright.engine.sync_engine) as changed:
            started = await client.post(f"{base}/run", headers=headers)
            assert started.status_code == 202, started.text
            run_path = f"{base}/runs/{started.json()['id']}"
            async with asyncio.timeout(HANG_DETECTOR_S):
                run = await until_done(client, run_path, headers, changed)
    (result,) = run["results"]
    assert result["status"] == "passed", result
    assert {"role": "user", "text": line, "interrupted": False} in result["transcript"]
    assert result["recording_url"] is not None
