"""``GET /api/v1/assistants?name=``: the dashboard's search by name, on both backends."""

from __future__ import annotations

import httpx

from tests.conftest import Tenant


async def _create(client: httpx.AsyncClient, tenant: Tenant, name: str) -> int:
    response = await client.post("/api/v1/assistants", headers=tenant.headers, json={"name": name})
    assert response.status_code == 201, response.text
    identifier: int = response.json()["id"]
    return identifier


async def _names(client: httpx.AsyncClient, tenant: Tenant, **query: str) -> list[str]:
    response = await client.get("/api/v1/assistants", headers=tenant.headers, params=query)
    assert response.status_code == 200, response.text
    return [row["name"] for row in response.json()]


async def test_name_filters_by_case_insensitive_substring_newest_first(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    for name in ("Support EN", "Sales", "support DE", "Billing"):
        await _create(client, tenant, name)

    assert await _names(client, tenant, name="SUPPORT") == ["support DE", "Support EN"]
    assert await _names(client, tenant, name="sales") == ["Sales"]
    assert await _names(client, tenant, name="nobody") == []
    assert len(await _names(client, tenant)) == 4


async def test_wildcards_in_the_name_match_themselves(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    for name in ("100% uptime", "1000 uptime", "a_b", "axb"):
        await _create(client, tenant, name)

    assert await _names(client, tenant, name="0%") == ["100% uptime"]
    assert await _names(client, tenant, name="a_b") == ["a_b"]


async def test_name_combines_with_the_active_filter_and_paging(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    for index in range(3):
        await _create(client, tenant, f"Agent {index}")
    inactive = await _create(client, tenant, "Agent inactive")
    await _create(client, tenant, "Other")
    response = await client.patch(
        f"/api/v1/assistants/{inactive}", headers=tenant.headers, json={"is_active": False}
    )
    assert response.status_code == 200

    assert await _names(client, tenant, name="agent", active_only="true") == [
        "Agent 2",
        "Agent 1",
        "Agent 0",
    ]
    assert await _names(client, tenant, name="agent", skip="1", limit="2") == [
        "Agent 2",
        "Agent 1",
    ]


async def test_a_name_too_long_is_a_422_naming_it(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.get(
        "/api/v1/assistants", headers=tenant.headers, params={"name": "x" * 201}
    )

    assert response.status_code == 422
    assert [detail["field"] for detail in response.json()["details"]] == ["name"]


async def test_another_organizations_assistants_are_never_found(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    await _create(client, other_tenant, "Support elsewhere")

    assert await _names(client, tenant, name="support") == []


async def test_text_no_database_can_store_is_refused_not_a_500(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.get(
        "/api/v1/assistants", headers=tenant.headers, params={"name": "a\x00b"}
    )

    assert response.status_code in (400, 422), response.text
    assert "name" in response.text
