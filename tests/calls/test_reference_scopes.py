"""References by id are checked with the referencing principal's own view (issue 13,
finding 3): a user-scoped key cannot start calls with, call from, or assign numbers
to what it cannot read, and is answered exactly as for an id that does not exist."""

from __future__ import annotations

import json
from typing import Any

import httpx

from callwright.settings import Settings
from tests.calls.harness import ACCOUNT_SID, AUTH_TOKEN, FakeProviders, PhoneLab, phone_lab
from tests.conftest import Tenant, make_tenant

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
    lab.twilio.numbers.update({ORG_NUMBER, MEMBER_NUMBER})
    twilio = {"twilio_config": {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN}}
    ids: dict[str, int] = {}
    async with httpx.AsyncClient(base_url=lab.base_url, headers=admin.headers) as api:
        ids["org_assistant"] = await _created(api, "/api/v1/assistants", {"name": "Org"} | twilio)
        ids["org_number"] = await _created(
            api,
            "/api/v1/phone-numbers",
            {"number": ORG_NUMBER, "assistant_id": ids["org_assistant"]},
        )
        ids["org_tool"] = await _created(api, "/api/v1/tools", _tool("org_tool"))
    async with httpx.AsyncClient(base_url=lab.base_url, headers=member.headers) as api:
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
        async with httpx.AsyncClient(base_url=lab.base_url, headers=member.headers) as api:

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
        async with httpx.AsyncClient(base_url=lab.base_url, headers=admin.headers) as api:
            calls = (await api.get("/api/v1/calls")).json()
        assert len(calls) == 2  # nothing was created by the refused requests
        creates = [r for r in lab.twilio.requests if r[1].endswith("/Calls.json")]
        assert [r[2]["From"] for r in creates] == [[MEMBER_NUMBER]]


async def test_a_number_can_ring_only_an_assistant_its_key_can_read(settings: Settings) -> None:
    async with phone_lab(settings, FakeProviders()) as lab:
        _, member, ids = await _org_and_member(lab)
        async with httpx.AsyncClient(base_url=lab.base_url, headers=member.headers) as api:
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
