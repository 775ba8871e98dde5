"""A campaign holds its organization's concurrent-call limit as well as its own cap:
calls the organization has up elsewhere take places from it, and a dial the limit
refuses hands its row back (not an attempt) rather than failing it."""

from __future__ import annotations

import httpx
import pytest

from callwright.settings import Settings
from tests.calls.harness import FakeProviders, phone_lab
from tests.campaigns.lab import CampaignLab, expected
from tests.conftest import make_tenant

QUIET = {"webhook_delivery_enabled": False}


@pytest.mark.parametrize("org_hint", [True, False], ids=["claims-fit-the-limit", "dial-refused"])
async def test_a_campaign_respects_the_organization_limit(
    settings: Settings, org_hint: bool
) -> None:
    async with phone_lab(settings, FakeProviders(), **QUIET) as phone:
        tenant = await make_tenant(phone.app)
        lab = CampaignLab(phone, tenant, cap=10)
        await lab.create(rows=35)
        async with httpx.AsyncClient(base_url=phone.base_url, headers=tenant.headers) as api:
            limited = await api.patch("/api/v1/organization", json={"max_concurrent_calls": 4})
            assert limited.status_code == 200, limited.text
            # A browser call issued and never connected holds one of the four places.
            assistant = await api.post("/api/v1/assistants", json={"name": "Web"})
            web = await api.post("/api/v1/calls/web", json={"assistant_id": assistant.json()["id"]})
            assert web.status_code == 201, web.text
        scheduler = lab.scheduler(org_hint=org_hint)
        await lab.run_to_end(scheduler)

        assert lab.most_live == 3  # the cap is 10; the organization had room for 3
        rows = await lab.recipients()
        dials = lab.dials_per_number()
        for row in rows:
            status, outcome, attempts = expected(lab.scripts[str(row["number"])])
            assert (row["status"], row["outcome"], row["attempts"]) == (status, outcome, attempts)
            assert dials[str(row["number"])] == attempts
        lab.assert_inside_windows()
        lab.assert_retries_waited()
