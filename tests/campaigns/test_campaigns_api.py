"""The Campaigns API: references checked against the principal, recipients uploads
with a per-row report, windows and retry policies validated, state rules."""

from __future__ import annotations

import json

import httpx
from fastapi import FastAPI

from tests.campaigns.helpers import add_assistant, add_number
from tests.conftest import Tenant, make_tenant

ACCOUNT = "AC" + "0123456789abcdef" * 2


async def _campaign(app: FastAPI, client: httpx.AsyncClient, tenant: Tenant) -> dict[str, object]:
    assistant_id = await add_assistant(client)
    number_id = await add_number(app, tenant, "+14155550100", ACCOUNT)
    created = await client.post(
        "/api/v1/campaigns",
        json={
            "name": "Reminders",
            "assistant_id": assistant_id,
            "phone_number_ids": [number_id],
            "calling_window": {"days": ["mon", "tue"], "start": "10:00", "end": "18:30"},
            "max_concurrency": 3,
            "retry_policy": {"busy": {"max_retries": 4, "retry_after_seconds": 120}},
        },
    )
    assert created.status_code == 201, created.text
    body: dict[str, object] = created.json()
    return body


async def test_create_read_update_delete(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    client.headers.update(tenant.headers)
    campaign = await _campaign(app, client, tenant)
    assert campaign["status"] == "draft"
    assert campaign["calling_window"] == {"days": ["mon", "tue"], "start": "10:00", "end": "18:30"}
    policy = campaign["retry_policy"]
    assert isinstance(policy, dict)
    assert policy["busy"] == {"max_retries": 4, "retry_after_seconds": 120}
    # Outcomes not named keep their defaults.
    assert policy["no-answer"] == {"max_retries": 2, "retry_after_seconds": 3600}
    assert campaign["progress"] == {
        "total": 0, "pending": 0, "in_progress": 0, "retrying": 0,
        "completed": 0, "failed": 0, "do_not_call": 0, "canceled": 0,
    }  # fmt: skip
    cid = campaign["id"]
    patched = await client.patch(f"/api/v1/campaigns/{cid}", json={"max_concurrency": 7})
    assert patched.status_code == 200, patched.text
    assert patched.json()["max_concurrency"] == 7
    listed = await client.get("/api/v1/campaigns")
    assert [c["id"] for c in listed.json()] == [cid]
    assert (await client.delete(f"/api/v1/campaigns/{cid}")).status_code == 204
    assert (await client.get(f"/api/v1/campaigns/{cid}")).status_code == 404


async def test_references_are_the_principals_own(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    client.headers.update(other_tenant.headers)
    foreign_assistant = await add_assistant(client)
    foreign_number = await add_number(app, other_tenant, "+14155550111", ACCOUNT)
    client.headers.update(tenant.headers)
    own_assistant = await add_assistant(client)
    own_number = await add_number(app, tenant, "+14155550100", ACCOUNT)

    refused = await client.post(
        "/api/v1/campaigns",
        json={"name": "x", "assistant_id": foreign_assistant, "phone_number_ids": [own_number]},
    )
    assert refused.status_code == 422
    assert refused.json()["details"][0]["field"] == "assistant_id"

    refused = await client.post(
        "/api/v1/campaigns",
        json={
            "name": "x",
            "assistant_id": own_assistant,
            "phone_number_ids": [own_number, foreign_number],
        },
    )
    assert refused.status_code == 422
    assert [d["field"] for d in refused.json()["details"]] == ["phone_number_ids[1]"]
    assert refused.json()["details"][0]["message"] == f"no phone number {foreign_number} found"

    # Another organization's campaign is not found, nor is it in the list.
    client.headers.update(other_tenant.headers)
    other = await client.post(
        "/api/v1/campaigns",
        json={"name": "x", "assistant_id": foreign_assistant, "phone_number_ids": [foreign_number]},
    )
    assert other.status_code == 201, other.text
    client.headers.update(tenant.headers)
    assert (await client.get(f"/api/v1/campaigns/{other.json()['id']}")).status_code == 404
    assert (await client.get("/api/v1/campaigns")).json() == []


async def test_user_scoped_key_sees_only_its_own(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    client.headers.update(tenant.headers)
    campaign = await _campaign(app, client, tenant)
    member = await make_tenant(app, "Acme", scope="user", organization_id=tenant.organization_id)
    client.headers.update(member.headers)
    assert (await client.get(f"/api/v1/campaigns/{campaign['id']}")).status_code == 404
    # Nor may it call from the organization's numbers it cannot read.
    own_assistant = await add_assistant(client)
    refused = await client.post(
        "/api/v1/campaigns",
        json={
            "name": "x",
            "assistant_id": own_assistant,
            "phone_number_ids": campaign["phone_number_ids"],
        },
    )
    assert refused.status_code == 422
    assert refused.json()["details"][0]["field"] == "phone_number_ids[0]"


async def test_bad_windows_policies_and_zones_are_named(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    client.headers.update(tenant.headers)
    assistant_id = await add_assistant(client)
    number_id = await add_number(app, tenant, "+14155550100", ACCOUNT)
    base = {"name": "x", "assistant_id": assistant_id, "phone_number_ids": [number_id]}
    cases = {
        "calling_window": {"calling_window": {"start": "18:00", "end": "09:00"}},
        "calling_window.days[0]": {"calling_window": {"days": ["someday"]}},
        "default_timezone": {"default_timezone": "Mars/Olympus_Mons"},
        "retry_policy.busy.retry_after_seconds": {
            "retry_policy": {"busy": {"max_retries": 1, "retry_after_seconds": 5}}
        },
        "max_concurrency": {"max_concurrency": 0},
        "phone_number_ids": {"phone_number_ids": [number_id, number_id]},
    }
    cases_list = [*cases.items(), ("calling_window", {"calling_window": {"end": "17:00:00Z"}})]
    for field, change in cases_list:
        answer = await client.post("/api/v1/campaigns", json=base | change)
        assert answer.status_code == 422, (field, answer.text)
        assert field in [d["field"] for d in answer.json()["details"]], (field, answer.json())


async def test_csv_upload_reports_each_rejected_row(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    client.headers.update(tenant.headers)
    campaign = await _campaign(app, client, tenant)
    url = f"/api/v1/campaigns/{campaign['id']}/recipients"
    csv_text = (
        "number,first_name,timezone\n"
        "+1 (415) 555-0101,Ada,\n"  # formatting ignored; +1 → America/Chicago
        "+447700900123,Grace,Europe/Paris\n"  # the row's own zone wins
        "4155550102,Alan,\n"  # no country code
        "+14155550101,Ada again,\n"  # the same number as row 1
        "+447700900124,Edsger,Mars/Base\n"  # unknown zone
        "+8799912345,Barbara,\n"  # a code with no representative zone, no default
        "+33612345678,Marie\n"  # a missing trailing field is an empty value
    )
    report = await client.post(url, content=csv_text, headers={"content-type": "text/csv"})
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["accepted"] == 3
    assert [(r["row"], r["number"]) for r in body["rejected"]] == [
        (3, "4155550102"),
        (4, "+14155550101"),
        (5, "+447700900124"),
        (6, "+8799912345"),
    ]
    reasons = [r["reason"] for r in body["rejected"]]
    assert "E.164" in reasons[0]
    assert reasons[1] == "the same number as row 1"
    assert "Mars/Base" in reasons[2]
    assert "default_timezone" in reasons[3]

    rows = (await client.get(url)).json()
    assert [(r["number"], r["timezone"], r["variables"], r["status"]) for r in rows] == [
        ("+14155550101", "America/Chicago", {"first_name": "Ada"}, "pending"),
        ("+447700900123", "Europe/Paris", {"first_name": "Grace"}, "pending"),
        ("+33612345678", "Europe/Paris", {"first_name": "Marie"}, "pending"),
    ]
    progress = (await client.get(f"/api/v1/campaigns/{campaign['id']}")).json()["progress"]
    assert (progress["total"], progress["pending"]) == (3, 3)

    # JSON rows; a number already in the campaign is reported, not added twice.
    rows_json = [
        {"number": "+14155550101"},
        {"number": "+4915112345678", "variables": {"first_name": "Emmy"}},
        {"number": "+4915112345679", "name": "Lise"},
        "not an object",
    ]
    report = await client.post(
        url, content=json.dumps(rows_json), headers={"content-type": "application/json"}
    )
    assert report.status_code == 200, report.text
    assert report.json()["accepted"] == 1
    assert [(r["row"], r["reason"]) for r in report.json()["rejected"]] == [
        (1, "already a recipient of this campaign"),
        (3, "unknown field(s) name: put template values in variables"),
        (4, "not an object"),
    ]
    added = (await client.get(url, params={"skip": 3})).json()
    assert [(r["position"], r["timezone"]) for r in added] == [(4, "Europe/Berlin")]


async def test_malformed_uploads_are_refused_whole(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    client.headers.update(tenant.headers)
    campaign = await _campaign(app, client, tenant)
    url = f"/api/v1/campaigns/{campaign['id']}/recipients"
    no_column = await client.post(
        url, content="phone\n+14155550101\n", headers={"content-type": "text/csv"}
    )
    assert no_column.status_code == 422
    assert "'number' column" in no_column.json()["error"]
    wrong_type = await client.post(url, content="x", headers={"content-type": "text/plain"})
    assert wrong_type.status_code == 415
    not_json = await client.post(url, content="{", headers={"content-type": "application/json"})
    assert not_json.status_code == 422
    not_list = await client.post(url, content="{}", headers={"content-type": "application/json"})
    assert not_list.status_code == 422
    assert (await client.get(url)).json() == []
