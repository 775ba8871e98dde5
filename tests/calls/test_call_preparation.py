"""What a call starts with: the assistant as the call runs it (the stored settings with
the call's overrides merged), validated once, and the session's config taken from
that same settings object; and only a call that has not ended starts."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from callwright.domain.assistants.schemas import AssistantIn
from callwright.domain.calls.repository import IllegalCallTransition
from tests.conftest import Tenant


async def test_the_overrides_are_validated_once_into_the_settings_the_call_runs_on(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = await client.post(
        "/api/v1/assistants",
        json={"name": "Desk", "max_duration_seconds": 600},
        headers=tenant.headers,
    )
    assert created.status_code == 201, created.text
    overrides = {"max_duration_seconds": 42, "llm_settings": {"temperature": 0.2}}
    started = await client.post(
        "/api/v1/calls/web",
        json={"assistant_id": created.json()["id"], "assistant_overrides": overrides},
        headers=tenant.headers,
    )
    assert started.status_code == 201, started.text

    validated: list[Any] = []
    validate = AssistantIn.model_validate

    def counting(cls: type[AssistantIn], obj: Any, *args: Any, **kwargs: Any) -> AssistantIn:
        validated.append(obj.get("max_duration_seconds") if isinstance(obj, dict) else obj)
        return validate(obj, *args, **kwargs)

    monkeypatch.setattr(AssistantIn, "model_validate", classmethod(counting))
    prepared = await app.state.callwright.calls.prepare(started.json()["call_id"])

    assert validated.count(42) == 1  # the merged document, once
    settings = prepared.assistant.settings
    assert (settings.max_duration_seconds, settings.llm_settings.temperature) == (42, 0.2)
    assert (prepared.config.max_duration_s, prepared.config.llm.temperature) == (42, 0.2)
    assert prepared.assistant.row.id == created.json()["id"]


async def test_an_ended_call_does_not_start_again(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    """Its stream token may already be spent when the call is ended through the API:
    the call must not come back to life as in progress."""
    created = await client.post("/api/v1/assistants", json={"name": "Desk"}, headers=tenant.headers)
    assert created.status_code == 201, created.text
    started = await client.post(
        "/api/v1/calls/web", json={"assistant_id": created.json()["id"]}, headers=tenant.headers
    )
    assert started.status_code == 201, started.text
    call_id = started.json()["call_id"]
    ended = await client.post(f"/api/v1/calls/{call_id}/end", headers=tenant.headers)
    assert ended.status_code == 200, ended.text

    with pytest.raises(IllegalCallTransition, match="is ended and cannot become in-progress"):
        await app.state.callwright.calls.prepare(call_id)
    record = (await client.get(f"/api/v1/calls/{call_id}", headers=tenant.headers)).json()
    assert (record["status"], record["end_reason"]) == ("ended", "manually-canceled")
    assert record["started_at"] is None
