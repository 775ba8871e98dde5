"""Every query on phone numbers. ``PhoneNumberRepository`` is filtered to what a
principal may see (its organization, not released, and its own user's numbers for a
user-scoped key); ``live_number`` is for the carrier's webhooks, which name a number
by its account and digits before anyone is known."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.principal import Principal
from callwright.store.models import PhoneNumber

__all__ = ["PhoneNumberRepository", "live_number"]


class PhoneNumberRepository:
    """The numbers ``principal`` may read and write."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self._session = session
        self._principal = principal

    def _visible(self) -> Select[PhoneNumber]:
        query = select(PhoneNumber).where(
            PhoneNumber.organization_id == self._principal.organization_id,
            PhoneNumber.deleted_at.is_(None),
        )
        if self._principal.scope == "user":
            query = query.where(PhoneNumber.user_id == self._principal.user_id)
        return query

    async def get(self, number_id: int) -> PhoneNumber | None:
        query = self._visible().where(PhoneNumber.id == number_id)
        return (await self._session.execute(query)).scalar_one_or_none()

    async def list(self, *, skip: int, limit: int) -> Sequence[PhoneNumber]:
        query = self._visible().order_by(PhoneNumber.created_at.desc(), PhoneNumber.id.desc())
        return (await self._session.execute(query.offset(skip).limit(limit))).scalars().all()

    async def add(self, number: PhoneNumber) -> PhoneNumber:
        """Insert ``number``; the unique index on live (account, number) rows may refuse
        it with an ``IntegrityError`` (registered concurrently)."""
        if number.organization_id != self._principal.organization_id:
            raise ValueError("a number can only be added to the principal's organization")
        self._session.add(number)
        await self._session.flush()
        return number

    async def flush(self) -> None:
        await self._session.flush()


async def live_number(session: AsyncSession, account_sid: str, number: str) -> PhoneNumber | None:
    """The live row of ``number`` on this Twilio account, in whichever organization
    holds it (at most one: a unique index)."""
    query = select(PhoneNumber).where(
        PhoneNumber.provider == "twilio",
        PhoneNumber.provider_account == account_sid,
        PhoneNumber.number == number,
        PhoneNumber.deleted_at.is_(None),
    )
    return (await session.execute(query)).scalar_one_or_none()
