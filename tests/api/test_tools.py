"""Tools API: CRUD, secrets, tenant isolation, unique names, validation, references
from assistants and the call-time resolver."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from callwright.domain.assistants.service import load_assistant_for_call
from callwright.domain.tools.service import tools_for_call
from callwright.store.models import Tool
from tests.conftest import Tenant, make_tenant

SERVER_SECRET = "whsec-0123456789abcdefghij"
BEARER = "Bearer tok-0123456789abcdefghij"


def _tool(name: str = "get_weather", **fields: Any) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": "Weather for a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
        "server": {
            "url": "https://tools.example.com/hook",
            "secret": SERVER_SECRET,
            "timeoutSeconds": 10,
            "headers": {"Authorization": BEARER, "X-Region": "eu"},
        },
        **fields,
    }


async def _create(client: httpx.AsyncClient, tenant: Tenant, **fields: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/tools", json=_tool(**fields), headers=tenant.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_crud_happy_path(client: httpx.AsyncClient, tenant: Tenant) -> None:
    first = await _create(client, tenant, name="first", messages=[{"type": "request-start"}])
    second = await _create(client, tenant, name="second", **{"async": True})
    assert first["function"]["name"] == "first"
    assert first["server"]["timeoutSeconds"] == 10
    assert first["messages"] == [{"type": "request-start"}]
    assert second["async"] is True
    assert first["organization_id"] == tenant.organization_id
    assert first["user_id"] == tenant.user_id

    listed = await client.get("/api/v1/tools", headers=tenant.headers)
    assert [tool["id"] for tool in listed.json()] == [second["id"], first["id"]]  # newest first
    paged = await client.get("/api/v1/tools?skip=1&limit=1", headers=tenant.headers)
    assert [tool["id"] for tool in paged.json()] == [first["id"]]

    fetched = await client.get(f"/api/v1/tools/{first['id']}", headers=tenant.headers)
    assert fetched.status_code == 200
    assert fetched.json() == first

    patched = await client.patch(
        f"/api/v1/tools/{first['id']}",
        json={"function": {"description": "Forecast."}, "server": {"timeoutSeconds": 30}},
        headers=tenant.headers,
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["function"]["name"] == "first"  # kept: function merges
    assert body["function"]["description"] == "Forecast."
    assert body["function"]["parameters"] == first["function"]["parameters"]
    assert body["server"]["timeoutSeconds"] == 30
    assert body["server"]["url"] == "https://tools.example.com/hook"
    assert body["server"]["secret"] == first["server"]["secret"]  # still masked, still set

    deleted = await client.delete(f"/api/v1/tools/{first['id']}", headers=tenant.headers)
    assert deleted.status_code == 204
    gone = await client.get(f"/api/v1/tools/{first['id']}", headers=tenant.headers)
    assert gone.status_code == 404
    listed = await client.get("/api/v1/tools", headers=tenant.headers)
    assert [tool["id"] for tool in listed.json()] == [second["id"]]
    # The name is free again once the tool is deleted.
    await _create(client, tenant, name="first")


async def test_secrets_are_masked_and_encrypted_at_rest(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await _create(client, tenant)
    fetched = await client.get(f"/api/v1/tools/{created['id']}", headers=tenant.headers)
    listed = await client.get("/api/v1/tools", headers=tenant.headers)
    for text in (json.dumps(created), fetched.text, listed.text):
        assert SERVER_SECRET not in text
        assert BEARER not in text
    server = fetched.json()["server"]
    assert server["secret"] == "whs…ghij"
    assert server["headers"] == {"Authorization": "Bea…ghij", "X-Region": "eu"}

    async with app.state.callwright.session_factory() as session:
        row = (await session.execute(select(Tool).where(Tool.id == created["id"]))).scalar_one()
    stored = json.dumps(row.config)
    assert SERVER_SECRET not in stored
    assert BEARER not in stored
    assert stored.count("enc:v1:") == 2
    assert row.name == "get_weather"
    assert row.config["server"]["headers"]["X-Region"] == "eu"


async def test_sending_the_mask_back_keeps_the_secret(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await _create(client, tenant)
    response = await client.patch(
        f"/api/v1/tools/{created['id']}",
        json={"server": created["server"] | {"url": "https://other.example.com/hook"}},
        headers=tenant.headers,
    )
    assert response.status_code == 200, response.text
    assistant = await client.post(
        "/api/v1/assistants",
        json={"name": "a", "tool_ids": [created["id"]]},
        headers=tenant.headers,
    )
    async with app.state.callwright.session_factory() as session:
        stored = await load_assistant_for_call(
            session, app.state.callwright.secret_box, assistant.json()["id"]
        )
        (tool,) = (await tools_for_call(session, app.state.callwright.secret_box, stored)).tools
    assert tool.server.url == "https://other.example.com/hook"
    assert tool.server.secret == SERVER_SECRET
    assert tool.server.headers["Authorization"] == BEARER


async def test_another_organizations_tool_is_not_found(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    created = await _create(client, tenant)
    path = f"/api/v1/tools/{created['id']}"
    headers = other_tenant.headers
    assert (await client.get(path, headers=headers)).status_code == 404
    assert (await client.patch(path, json={"async": True}, headers=headers)).status_code == 404
    assert (await client.delete(path, headers=headers)).status_code == 404
    assert (await client.get("/api/v1/tools", headers=headers)).json() == []
    # Names are unique per organization only.
    await _create(client, other_tenant)


async def test_duplicate_function_name_is_a_conflict(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await _create(client, tenant, name="lookup")
    again = await client.post("/api/v1/tools", json=_tool("lookup"), headers=tenant.headers)
    assert again.status_code == 409
    assert again.json()["code"] == "conflict"
    other = await _create(client, tenant, name="other")
    renamed = await client.patch(
        f"/api/v1/tools/{other['id']}",
        json={"function": {"name": "lookup"}},
        headers=tenant.headers,
    )
    assert renamed.status_code == 409


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (_tool("bad name!"), "function.name"),
        (_tool("end_call"), "function.name"),
        (_tool() | {"server": {"url": "http://example.com/hook"}}, "server.url"),
        (
            _tool() | {"server": {"url": "https://x.example", "timeoutSeconds": 0}},
            "server.timeoutSeconds",
        ),
        (
            _tool() | {"server": {"url": "https://x.example", "headers": {"Host": "evil"}}},
            "server.headers",
        ),
        ({"type": "function", "server": {"url": "https://x.example"}}, "function"),
    ],
)
async def test_a_bad_tool_is_refused_naming_the_field(
    client: httpx.AsyncClient, tenant: Tenant, payload: dict[str, Any], field: str
) -> None:
    response = await client.post("/api/v1/tools", json=payload, headers=tenant.headers)
    assert response.status_code == 422, response.text
    assert field in {detail["field"] for detail in response.json()["details"]}


async def test_a_bad_patch_is_refused_naming_the_field(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await _create(client, tenant)
    response = await client.patch(
        f"/api/v1/tools/{created['id']}",
        json={"function": {"parameters": {"type": "array"}}, "server": {"url": "ftp://x"}},
        headers=tenant.headers,
    )
    assert response.status_code == 422, response.text
    fields = {detail["field"] for detail in response.json()["details"]}
    assert fields == {"function.parameters", "server.url"}


async def test_assistant_tool_ids_must_be_live_tools_of_the_organization(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    mine = await _create(client, tenant)
    foreign = await _create(client, other_tenant)
    for tool_ids in ([999_999, mine["id"]], [foreign["id"]]):
        response = await client.post(
            "/api/v1/assistants", json={"name": "a", "tool_ids": tool_ids}, headers=tenant.headers
        )
        assert response.status_code == 422, response.text
        assert [detail["field"] for detail in response.json()["details"]] == ["tool_ids[0]"]

    created = await client.post(
        "/api/v1/assistants", json={"name": "a", "tool_ids": [mine["id"]]}, headers=tenant.headers
    )
    assert created.status_code == 201, created.text
    assert created.json()["tool_ids"] == [mine["id"]]
    path = f"/api/v1/assistants/{created.json()['id']}"
    bad = await client.patch(
        path, json={"tool_ids": [mine["id"], foreign["id"]]}, headers=tenant.headers
    )
    assert bad.status_code == 422
    assert [detail["field"] for detail in bad.json()["details"]] == ["tool_ids[1]"]

    # Deleting a referenced tool is allowed and does not block later edits.
    assert (
        await client.delete(f"/api/v1/tools/{mine['id']}", headers=tenant.headers)
    ).status_code == 204
    renamed = await client.patch(path, json={"name": "b"}, headers=tenant.headers)
    assert renamed.status_code == 200, renamed.text
    # ...but a deleted tool cannot be newly referenced.
    fresh = await client.post(
        "/api/v1/assistants", json={"name": "c", "tool_ids": [mine["id"]]}, headers=tenant.headers
    )
    assert fresh.status_code == 422


async def test_a_user_scoped_key_can_reference_only_tools_it_can_read(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    """Issue 13, finding 3: a user-scoped key that cannot GET an organization tool
    must not be able to put it on its assistant (and so use its secret headers)."""
    member = await make_tenant(app, "Acme", scope="user", organization_id=tenant.organization_id)
    other_member = await make_tenant(
        app, "Acme", scope="user", organization_id=tenant.organization_id
    )
    org_tool = await _create(client, tenant, name="org_tool")
    theirs = await _create(client, other_member, name="their_tool")
    mine = await _create(client, member, name="my_tool")
    assert (
        await client.get(f"/api/v1/tools/{org_tool['id']}", headers=member.headers)
    ).status_code == 404

    def refused_as_missing(response: httpx.Response, tool_id: int) -> None:
        assert response.status_code == 422, response.text
        assert response.json() == {
            "error": "invalid value for tool_ids[0]",
            "code": "validation_failed",
            "details": [
                {
                    "field": "tool_ids[0]",
                    "message": f"no tool {tool_id} found",
                    "type": "not_found",
                    "loc": ["body", "tool_ids", 0],
                }
            ],
        }

    for tool_id in (org_tool["id"], theirs["id"], 999_999):
        created = await client.post(
            "/api/v1/assistants", json={"name": "a", "tool_ids": [tool_id]}, headers=member.headers
        )
        refused_as_missing(created, tool_id)
        imported = await client.post(
            "/api/v1/assistants/import",
            json={"name": "a", "tool_ids": [tool_id]},
            headers=member.headers,
        )
        refused_as_missing(imported, tool_id)  # the same answer for each: nothing leaks

    assistant = await client.post(
        "/api/v1/assistants", json={"name": "a", "tool_ids": [mine["id"]]}, headers=member.headers
    )
    assert assistant.status_code == 201, assistant.text
    path = f"/api/v1/assistants/{assistant.json()['id']}"
    patched = await client.patch(
        path, json={"tool_ids": [mine["id"], org_tool["id"]]}, headers=member.headers
    )
    assert patched.status_code == 422
    assert [d["field"] for d in patched.json()["details"]] == ["tool_ids[1]"]
    replaced = await client.put(
        path, json={"name": "a", "tool_ids": [org_tool["id"]]}, headers=member.headers
    )
    assert replaced.status_code == 422
    assert (await client.get(path, headers=member.headers)).json()["tool_ids"] == [mine["id"]]

    # An organization-scoped key reads every tool of the organization.
    by_org = await client.patch(
        path, json={"tool_ids": [mine["id"], org_tool["id"]]}, headers=tenant.headers
    )
    assert by_org.status_code == 200, by_org.text
    # The member may still edit the rest of its assistant: that is no new reference
    # (its calls leave the tool out, see tests/calls/test_tool_scopes.py)...
    renamed = await client.patch(path, json={"name": "b"}, headers=member.headers)
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["tool_ids"] == [mine["id"], org_tool["id"]]
    # ...but a copy is a new assistant, whose references are the member's own.
    copied = await client.post(f"{path}/duplicate", headers=member.headers)
    assert copied.status_code == 422
    assert [d["field"] for d in copied.json()["details"]] == ["tool_ids[1]"]


async def test_tools_for_call_returns_inline_then_stored_tools(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    weather = await _create(client, tenant, name="get_weather")
    shadowed = await _create(client, tenant, name="book")
    deleted = await _create(client, tenant, name="gone")
    inline = _tool("book") | {"server": {"url": "https://inline.example.com/book"}}
    assistant = await client.post(
        "/api/v1/assistants",
        json={
            "name": "a",
            "tools_settings": {"custom_tools": [inline]},
            "tool_ids": [deleted["id"], shadowed["id"], weather["id"]],
        },
        headers=tenant.headers,
    )
    assert assistant.status_code == 201, assistant.text
    await client.delete(f"/api/v1/tools/{deleted['id']}", headers=tenant.headers)

    box = app.state.callwright.secret_box
    async with app.state.callwright.session_factory() as session:
        stored = await load_assistant_for_call(session, box, assistant.json()["id"])
        call_tools = await tools_for_call(session, box, stored)
    tools = call_tools.tools
    assert [tool.name for tool in tools] == ["book", "get_weather"]
    # The deleted one is said, not silently dropped; the shadowed one is not refused.
    assert [(left.tool_id, left.reason) for left in call_tools.left_out] == [
        (deleted["id"], "not a live tool of the assistant's organization")
    ]
    assert tools[0].server.url == "https://inline.example.com/book"  # inline wins
    assert tools[1].server.secret == SERVER_SECRET  # decrypted
    assert tools[1].server.headers == {"Authorization": BEARER, "X-Region": "eu"}


@pytest.mark.parametrize(
    "field",
    ["id", "organization_id", "user_id", "created_at", "updated_at", "orgId", "createdAt"],
)
async def test_identity_fields_are_refused_on_create_and_patch(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant, field: str
) -> None:
    value = other_tenant.organization_id if "org" in field.lower() else 424242
    refused = await client.post(
        "/api/v1/tools", json=_tool("sneaky") | {field: value}, headers=tenant.headers
    )
    assert refused.status_code == 422, refused.text
    assert [(d["field"], d["type"]) for d in refused.json()["details"]] == [
        (field, "extra_forbidden")
    ]
    assert (await client.get("/api/v1/tools", headers=tenant.headers)).json() == []

    created = await _create(client, tenant)
    path = f"/api/v1/tools/{created['id']}"
    patched = await client.patch(path, json={"async": True, field: value}, headers=tenant.headers)
    assert patched.status_code == 422, patched.text
    assert [d["field"] for d in patched.json()["details"]] == [field]
    assert (await client.get(path, headers=tenant.headers)).json() == created  # unchanged


async def test_identity_keys_stored_before_the_rule_are_dropped_when_read(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    created = await _create(client, tenant)
    forged = {
        "id": 999_999,
        "organization_id": other_tenant.organization_id,
        "user_id": other_tenant.user_id,
        "orgId": str(other_tenant.organization_id),
        "createdAt": "2020-01-01T00:00:00Z",
    }
    async with app.state.callwright.session_factory() as session:
        row = await session.get(Tool, created["id"])
        assert row is not None
        row.config = {**row.config, **forged}
        await session.commit()

    path = f"/api/v1/tools/{created['id']}"
    fetched = (await client.get(path, headers=tenant.headers)).json()
    assert fetched == created
    assert "orgId" not in fetched
    assistant = await client.post(
        "/api/v1/assistants",
        json={"name": "a", "tool_ids": [created["id"]]},
        headers=tenant.headers,
    )
    box = app.state.callwright.secret_box
    async with app.state.callwright.session_factory() as session:
        stored = await load_assistant_for_call(session, box, assistant.json()["id"])
        (tool,) = (await tools_for_call(session, box, stored)).tools
    # What the tool's server is sent carries no forged identity either.
    assert not set(tool.public_config()) & set(forged)

    # The next write stores the document without them.
    patched = await client.patch(path, json={"async": True}, headers=tenant.headers)
    assert patched.status_code == 200, patched.text
    async with app.state.callwright.session_factory() as session:
        row = await session.get(Tool, created["id"])
        assert row is not None
        assert not set(row.config) & set(forged)
