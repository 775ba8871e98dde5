"""The organization's do-not-call list: every campaign of the organization checks it
before each dial (``claims``), so a number added mid-campaign is not called again."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.principal import Principal
from callwright.errors import Conflict, NotFound
from callwright.store.base import utcnow
from callwright.store.models import DoNotCallNumber

from .repository import CampaignRepository
from .schemas import DoNotCallIn

__all__ = ["DoNotCallService"]


class DoNotCallService:
    """One list per organization, shared by its users (user-scoped keys included)."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self._session = session
        self._principal = principal
        self._campaigns = CampaignRepository(session, principal)

    async def list(self, *, skip: int, limit: int) -> Sequence[DoNotCallNumber]:
        return await self._campaigns.do_not_call(skip=skip, limit=limit)

    async def add(self, body: DoNotCallIn) -> DoNotCallNumber:
        if await self._campaigns.do_not_call_entry(body.number) is not None:
            raise Conflict(f"{body.number} is already on the do-not-call list")
        entry = DoNotCallNumber(
            organization_id=self._principal.organization_id,
            number=body.number,
            reason=body.reason,
            created_at=utcnow(),
        )
        self._campaigns.add_do_not_call(entry)
        try:
            await self._campaigns.flush()
        except IntegrityError as exc:  # added concurrently
            raise Conflict(f"{body.number} is already on the do-not-call list") from exc
        return entry

    async def remove(self, number: str) -> None:
        entry = await self._campaigns.do_not_call_entry(number)
        if entry is None:
            raise NotFound(f"{number} is not on the do-not-call list")
        await self._campaigns.delete(entry)
        await self._campaigns.flush()
