"""What a user-scoped key reaches through a path id is what its own queries find: an
organization assistant it cannot read is a 404 on every route that names it, the
seed 001 / seed 004 compatibility paths and its knowledge documents included (issue
13, finding 3: the same rule holds for ids in bodies, tests/calls/test_reference_scopes.py)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.conftest import Tenant, make_tenant


async def test_a_user_scoped_key_reaches_no_route_of_an_assistant_it_cannot_read(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    member = await make_tenant(app, "Acme", scope="user", organization_id=tenant.organization_id)
    created = await client.post(
        "/api/v1/assistants", json={"name": "Org", "external_id": "org-1"}, headers=tenant.headers
    )
    assert created.status_code == 201, created.text
    org_id = created.json()["id"]
    document = await client.post(
        f"/api/v1/assistants/{org_id}/documents",
        json={"text": "Aisle four."},
        headers=tenant.headers,
    )
    assert document.status_code == 201, document.text
    base = f"/api/v1/assistants/{org_id}"
    for method, path, body in [
        ("GET", f"/assistants/{org_id}", None),  # seed 001
        ("GET", "/assistants/org-1", None),  # seed 001, by external id
        ("GET", f"/assistant/details/{org_id}", None),  # seed 004
        ("GET", base, None),
        ("POST", f"{base}/duplicate", None),
        ("GET", f"{base}/documents", None),
        ("GET", f"{base}/documents/{document.json()['id']}", None),
        ("POST", f"{base}/documents", {"text": "Planted."}),
        ("POST", f"{base}/knowledge/search", {"query": "aisle"}),
    ]:
        response = await client.request(method, path, json=body, headers=member.headers)
        assert response.status_code == 404, (method, path, response.text)
        assert (
            await client.request(method, path, json=body, headers=tenant.headers)
        ).status_code < 300
    # The first document and the organization key's upload; nothing of the member's.
    listed = await client.get(f"{base}/documents", headers=tenant.headers)
    assert len(listed.json()) == 2
