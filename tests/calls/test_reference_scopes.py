"""References by id are checked with the referencing principal's own view (issue 13,
finding 3): a user-scoped key cannot start calls with, call from, or assign numbers
to what it cannot read, and is answered exactly as for an id that does not exist;
and a call it places never runs a stored tool it cannot read, whoever put the tool on
the assistant — the tool's server never sees that call, nor its secret headers."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from callwright.domain.calls.repository import new_call
from callwright.providers.fakes import speech
from callwright.providers.protocols import ToolCall
from callwright.settings import Settings
from tests.calls.harness import (
    ACCOUNT_SID,
    API_TIMEOUT,
    AUTH_TOKEN,
    FakeProviders,
    PhoneLab,
    phone_lab,
)
from tests.calls.test_web_calls import open_page
from tests.conftest import Tenant, make_tenant
from tests.vendor_fakes import serve

ORG_NUMBER = "+14155550199"
MEMBER_NUMBER = "+14155550198"
CUSTOMER = "+447700900123"
MISSING = 999_999


def _tool(name: str) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": name, "parameters": {"type": "object", "properties": {}}},
        "server": {"url": "https://tools.example.com/hook", "headers": {"X-Api-Key": "k"}},
    }


async def _created(api: httpx.AsyncClient, path: str, body: dict[str, Any]) -> int:
    response = await api.post(path, json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _assert_refused_like_missing(
    refused: httpx.Response, missing: httpx.Response, field: str, refused_id: int
) -> None:
    """Both are the 422 naming ``field``; their bodies differ only by the id sent."""
    assert refused.status_code == missing.status_code == 422, (refused.text, missing.text)
    assert [d["field"] for d in refused.json()["details"]] == [field]
    assert json.dumps(refused.json()).replace(str(refused_id), "<id>") == json.dumps(
        missing.json()
    ).replace(str(MISSING), "<id>")


async def _org_and_member(lab: PhoneLab) -> tuple[Tenant, Tenant, dict[str, int]]:
    """An organization-scoped admin with an assistant, a number and a tool, and a
    member (user-scoped key) with its own assistant, number and tool."""
    admin = await make_tenant(lab.app)
    member = await make_tenant(lab.app, "Acme", scope="user", organization_id=admin.organization_id)
    for number in (ORG_NUMBER, MEMBER_NUMBER):
        lab.twilio.own(number)
    twilio = {"twilio_config": {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN}}
    ids: dict[str, int] = {}
    async with httpx.AsyncClient(
        timeout=API_TIMEOUT, base_url=lab.base_url, headers=admin.headers
    ) as api:
        ids["org_assistant"] = await _created(api, "/api/v1/assistants", {"name": "Org"} | twilio)
        ids["org_number"] = await _created(
            api,
            "/api/v1/phone-numbers",
            {"number": ORG_NUMBER, "assistant_id": ids["org_assistant"]},
        )
        ids["org_tool"] = await _created(api, "/api/v1/tools", _tool("org_tool"))
    async with httpx.AsyncClient(
        timeout=API_TIMEOUT, base_url=lab.base_url, headers=member.headers
    ) as api:
        ids["assistant"] = await _created(api, "/api/v1/assistants", {"name": "Mine"} | twilio)
        ids["number"] = await _created(
            api,
            "/api/v1/phone-numbers",
            {"number": MEMBER_NUMBER, "assistant_id": ids["assistant"]},
        )
        ids["tool"] = await _created(api, "/api/v1/tools", _tool("my_tool"))
        assert (await api.get(f"/api/v1/assistants/{ids['org_assistant']}")).status_code == 404
        assert (await api.get(f"/api/v1/phone-numbers/{ids['org_number']}")).status_code == 404
    return admin, member, ids


async def test_calls_refuse_what_the_key_cannot_read_like_what_does_not_exist(
    settings: Settings,
) -> None:
    async with phone_lab(settings, FakeProviders()) as lab:
        admin, member, ids = await _org_and_member(lab)
        async with httpx.AsyncClient(
            timeout=API_TIMEOUT, base_url=lab.base_url, headers=member.headers
        ) as api:

            async def web(assistant_id: int, **overrides: Any) -> httpx.Response:
                body = {"assistant_id": assistant_id, "assistant_overrides": overrides}
                return await api.post("/api/v1/calls/web", json=body)

            async def phone(assistant_id: int, number_id: int) -> httpx.Response:
                body = {
                    "assistant_id": assistant_id,
                    "phone_number_id": number_id,
                    "customer_number": CUSTOMER,
                }
                return await api.post("/api/v1/calls", json=body)

            _assert_refused_like_missing(
                await web(ids["org_assistant"]),
                await web(MISSING),
                "assistant_id",
                ids["org_assistant"],
            )
            _assert_refused_like_missing(
                await phone(ids["org_assistant"], ids["number"]),
                await phone(MISSING, ids["number"]),
                "assistant_id",
                ids["org_assistant"],
            )
            _assert_refused_like_missing(
                await phone(ids["assistant"], ids["org_number"]),
                await phone(ids["assistant"], MISSING),
                "phone_number_id",
                ids["org_number"],
            )
            # Tools named by the call's overrides are references of the caller's too.
            _assert_refused_like_missing(
                await web(ids["assistant"], tool_ids=[ids["org_tool"]]),
                await web(ids["assistant"], tool_ids=[MISSING]),
                "assistant_overrides.tool_ids[0]",
                ids["org_tool"],
            )
            bad_inline = await web(
                ids["assistant"], tools_settings={"custom_tools": [{"function": {"name": "x"}}]}
            )
            assert bad_inline.status_code == 422, bad_inline.text
            assert (await web(ids["assistant"], tool_ids=[ids["tool"]])).status_code == 201
            placed = await phone(ids["assistant"], ids["number"])
            assert placed.status_code == 201, placed.text
        async with httpx.AsyncClient(
            timeout=API_TIMEOUT, base_url=lab.base_url, headers=admin.headers
        ) as api:
            calls = (await api.get("/api/v1/calls")).json()
        assert len(calls) == 2  # nothing was created by the refused requests
        creates = [r for r in lab.twilio.requests if r[1].endswith("/Calls.json")]
        assert [r[2]["From"] for r in creates] == [[MEMBER_NUMBER]]


async def test_a_number_can_ring_only_an_assistant_its_key_can_read(settings: Settings) -> None:
    async with phone_lab(settings, FakeProviders()) as lab:
        _, member, ids = await _org_and_member(lab)
        async with httpx.AsyncClient(
            timeout=API_TIMEOUT, base_url=lab.base_url, headers=member.headers
        ) as api:
            number_path = f"/api/v1/phone-numbers/{ids['number']}"
            _assert_refused_like_missing(
                await api.patch(number_path, json={"assistant_id": ids["org_assistant"]}),
                await api.patch(number_path, json={"assistant_id": MISSING}),
                "assistant_id",
                ids["org_assistant"],
            )
            assert (await api.get(number_path)).json()["assistant_id"] == ids["assistant"]
            await api.delete(number_path)
            register = {"number": MEMBER_NUMBER, "twilio_account_sid": ACCOUNT_SID}
            _assert_refused_like_missing(
                await api.post(
                    "/api/v1/phone-numbers", json=register | {"assistant_id": ids["org_assistant"]}
                ),
                await api.post("/api/v1/phone-numbers", json=register | {"assistant_id": MISSING}),
                "assistant_id",
                ids["org_assistant"],
            )


# -- at call time ------------------------------------------------------------------------

ORG_TOOL_KEY = "org-tool-key-0123456789"
MEMBER_TOOL_KEY = "member-tool-key-0123456789"


@dataclass
class ToolServers:
    """Two tools' webhook endpoints on loopback, recording what each receives."""

    base_url: str = ""
    received: dict[str, list[tuple[dict[str, str], dict[str, Any]]]] = field(
        default_factory=lambda: {"org": [], "member": []}
    )

    def app(self) -> Starlette:
        async def hook(request: Request) -> JSONResponse:
            body = json.loads(await request.body())
            self.received[request.path_params["owner"]].append((dict(request.headers), body))
            calls = body["message"]["toolCallList"]
            return JSONResponse(
                {"results": [{"toolCallId": c["id"], "result": "ok"} for c in calls]}
            )

        return Starlette(routes=[Route("/{owner}/hook", hook, methods=["POST"])])

    def tool(self, name: str, owner: str, key: str) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {"name": name, "parameters": {"type": "object", "properties": {}}},
            "server": {"url": f"{self.base_url}/{owner}/hook", "headers": {"X-Api-Key": key}},
        }


@asynccontextmanager
async def tool_servers() -> AsyncIterator[ToolServers]:
    servers = ToolServers()
    async with serve(servers.app()) as base_url:
        servers.base_url = base_url
        yield servers


async def _web_call(lab: PhoneLab, tenant: Tenant, assistant_id: int) -> dict[str, Any]:
    """A browser call: the welcome, one caller turn (the model calls both tools, then
    answers), hang-up; returns the finished record."""
    async with httpx.AsyncClient(
        timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
    ) as api:
        started = await api.post("/api/v1/calls/web", json={"assistant_id": assistant_id})
        assert started.status_code == 201, started.text
        body = started.json()
        async with open_page(body["ws_url"]) as page:
            await page.wait_for(lambda: len(page.transcripts("assistant")) == 1)
            await page.send_audio(speech(1.0))
            await page.wait_for(lambda: len(page.transcripts("assistant")) == 2)
            await page.websocket.send(json.dumps({"type": "hangup"}))
            await asyncio.wait_for(page.closed.wait(), 5)
        deadline = time.monotonic() + 10
        while True:
            record: dict[str, Any] = (await api.get(f"/api/v1/calls/{body['call_id']}")).json()
            if record["status"] == "ended":
                return record
            assert time.monotonic() < deadline, record
            await asyncio.sleep(0.05)


async def test_a_call_placed_by_a_user_scoped_key_never_runs_a_tool_it_cannot_read(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    providers = FakeProviders(
        utterances=("Where is my order?",),
        replies=[
            [ToolCall("call_1", "lookup_order", "{}"), ToolCall("call_2", "my_notes", "{}")],
            "It ships today.",
        ],
    )
    async with phone_lab(settings, providers) as lab, tool_servers() as servers:
        admin = await make_tenant(lab.app)
        member = await make_tenant(
            lab.app, "Acme", scope="user", organization_id=admin.organization_id
        )
        async with httpx.AsyncClient(
            timeout=API_TIMEOUT, base_url=lab.base_url, headers=admin.headers
        ) as api:
            org_tool = await _created(
                api, "/api/v1/tools", servers.tool("lookup_order", "org", ORG_TOOL_KEY)
            )
        async with httpx.AsyncClient(
            timeout=API_TIMEOUT, base_url=lab.base_url, headers=member.headers
        ) as api:
            own_tool = await _created(
                api, "/api/v1/tools", servers.tool("my_notes", "member", MEMBER_TOOL_KEY)
            )
            assistant_id = await _created(
                api,
                "/api/v1/assistants",
                {
                    "name": "Orders",
                    "llm_settings": {"welcome_message": "Hello."},
                    "idle_timeout": None,
                    "tool_ids": [own_tool],
                },
            )
        # An organization-scoped key may put its tool on the member's assistant (it
        # reads both); the member still cannot read that tool.
        async with httpx.AsyncClient(
            timeout=API_TIMEOUT, base_url=lab.base_url, headers=admin.headers
        ) as api:
            shared = await api.patch(
                f"/api/v1/assistants/{assistant_id}", json={"tool_ids": [org_tool, own_tool]}
            )
            assert shared.status_code == 200, shared.text

        with caplog.at_level(logging.WARNING, logger="callwright.runtime.preparation"):
            record = await _web_call(lab, member, assistant_id)
        assert servers.received["org"] == []  # the organization's tool was never called
        [(headers, body)] = servers.received["member"]
        assert headers["x-api-key"] == MEMBER_TOOL_KEY
        assert [c["function"]["name"] for c in body["message"]["toolCallList"]] == ["my_notes"]
        assert ORG_TOOL_KEY not in json.dumps(record)
        assert record["tools_left_out"] == [
            {
                "tool_id": org_tool,
                "reason": "not a live tool that the key which placed the call can read",
            }
        ]
        assert f"stored tool {org_tool} left out" in caplog.text
        refused = next(c for c in record["tool_calls"] if c["name"] == "lookup_order")
        assert "there is no tool named 'lookup_order'" in json.dumps(refused)

        # The same assistant, called by the organization-scoped key, runs both tools:
        # what kept the tool out above was the key that placed the call.
        record = await _web_call(lab, admin, assistant_id)
        [(headers, _)] = servers.received["org"]
        assert headers["x-api-key"] == ORG_TOOL_KEY
        assert len(servers.received["member"]) == 2
        assert record["tools_left_out"] == []


async def test_the_tools_of_a_calls_overrides_act_and_are_checked_when_it_starts(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Tools named in ``assistant_overrides`` are the call's (inline and stored), and
    are held to the same rule when the call starts as the assistant's own."""
    admin = await make_tenant(app)
    member = await make_tenant(app, "Acme", scope="user", organization_id=admin.organization_id)
    servers = ToolServers("https://tools.example.com")

    async def created(tenant: Tenant, path: str, body: dict[str, Any]) -> int:
        response = await client.post(path, json=body, headers=tenant.headers)
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    org_tool = await created(admin, "/api/v1/tools", servers.tool("lookup_order", "org", "k1"))
    own_tool = await created(member, "/api/v1/tools", servers.tool("my_notes", "member", "k2"))
    assistant_id = await created(member, "/api/v1/assistants", {"name": "Bare"})
    inline = servers.tool("inline_tool", "member", "k3")
    overrides = {"tool_ids": [own_tool], "tools_settings": {"custom_tools": [inline]}}
    started = await client.post(
        "/api/v1/calls/web",
        json={"assistant_id": assistant_id, "assistant_overrides": overrides},
        headers=member.headers,
    )
    assert started.status_code == 201, started.text
    runtime = app.state.callwright.calls
    prepared = await runtime.prepare(started.json()["call_id"])
    assert [tool.name for tool in prepared.tools] == ["inline_tool", "my_notes"]
    assert prepared.call.tools_left_out == []

    # Overrides stored before they were checked (the API now refuses this one).
    async with app.state.callwright.session_factory() as db:
        call = new_call(
            organization_id=member.organization_id,
            user_id=member.user_id,
            placed_by_scope="user",
            assistant_id=assistant_id,
            type="webCall",
            status="queued",
            node_id=app.state.callwright.node.id,
            overrides={"tool_ids": [org_tool, own_tool]},
        )
        db.add(call)
        await db.commit()
        call_id = call.id
    prepared = await runtime.prepare(call_id)
    assert [tool.name for tool in prepared.tools] == ["my_notes"]
    assert [left["tool_id"] for left in prepared.call.tools_left_out] == [org_tool]
