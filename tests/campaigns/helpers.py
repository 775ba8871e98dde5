"""What campaign tests share: an assistant and numbers of a tenant, without a carrier."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from callwright.store.base import utcnow
from callwright.store.models import PhoneNumber
from tests.conftest import Tenant


async def add_number(app: FastAPI, tenant: Tenant, number: str, account_sid: str) -> int:
    """A registered number, written directly (registration's carrier proof is tested
    with the phone numbers)."""
    async with app.state.callwright.session_factory() as session:
        now = utcnow()
        row = PhoneNumber(
            organization_id=tenant.organization_id,
            user_id=tenant.user_id,
            assistant_id=None,
            provider="twilio",
            provider_account=account_sid,
            number=number,
            name=None,
            config={},
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        await session.commit()
        return row.id


async def add_assistant(api: httpx.AsyncClient, **settings: object) -> int:
    created = await api.post("/api/v1/assistants", json={"name": "Caller", **settings})
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


class NoSleep:
    """A scheduler's clock when the test calls ``tick`` itself: nothing may sleep."""

    def now(self) -> float:
        return 0.0

    async def sleep(self, seconds: float) -> None:
        raise AssertionError("the test ticks the scheduler itself")
