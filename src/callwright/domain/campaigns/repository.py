"""Every query the campaigns API makes, filtered to what the principal may read: its
organization's campaigns, and only its own user's for a user-scoped key."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.principal import Principal
from callwright.store.base import utcnow
from callwright.store.models import Campaign, CampaignRecipient, DoNotCallNumber

from .recipients import RecipientRow

__all__ = ["CampaignRepository"]


class CampaignRepository:
    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self._session = session
        self._principal = principal

    def _visible(self) -> Select[Campaign]:
        query = select(Campaign).where(
            Campaign.organization_id == self._principal.organization_id,
            Campaign.deleted_at.is_(None),
        )
        if self._principal.scope == "user":
            query = query.where(Campaign.user_id == self._principal.user_id)
        return query

    async def get(self, campaign_id: int, *, for_update: bool = False) -> Campaign | None:
        query = self._visible().where(Campaign.id == campaign_id)
        if for_update:
            query = query.with_for_update()
        return (await self._session.execute(query)).scalar_one_or_none()

    async def list(self, *, skip: int, limit: int) -> Sequence[Campaign]:
        query = self._visible().order_by(Campaign.created_at.desc(), Campaign.id.desc())
        return (await self._session.execute(query.offset(skip).limit(limit))).scalars().all()

    def add(self, campaign: Campaign) -> None:
        self._session.add(campaign)

    async def flush(self) -> None:
        await self._session.flush()

    async def progress(self, campaign_ids: Sequence[int]) -> dict[int, dict[str, int]]:
        """Recipients per status, per campaign (campaigns already known visible)."""
        if not campaign_ids:
            return {}
        query = (
            select(CampaignRecipient.campaign_id, CampaignRecipient.status, func.count())
            .where(CampaignRecipient.campaign_id.in_(campaign_ids))
            .group_by(CampaignRecipient.campaign_id, CampaignRecipient.status)
        )
        counts: dict[int, dict[str, int]] = {campaign_id: {} for campaign_id in campaign_ids}
        for campaign_id, status, count in (await self._session.execute(query)).all():
            counts[campaign_id][status] = count
        return counts

    async def numbers(self, campaign_id: int) -> set[str]:
        query = select(CampaignRecipient.number).where(CampaignRecipient.campaign_id == campaign_id)
        return set((await self._session.execute(query)).scalars().all())

    async def add_recipients(self, campaign: Campaign, rows: Sequence[RecipientRow]) -> None:
        if not rows:
            return
        last = (
            await self._session.execute(
                select(func.coalesce(func.max(CampaignRecipient.position), 0)).where(
                    CampaignRecipient.campaign_id == campaign.id
                )
            )
        ).scalar_one()
        now = utcnow()
        await self._session.execute(
            insert(CampaignRecipient),
            [
                {
                    "campaign_id": campaign.id,
                    "organization_id": campaign.organization_id,
                    "position": last + index,
                    "number": row.number,
                    "timezone": row.timezone,
                    "variables": row.variables,
                    "status": "pending",
                    "attempts": 0,
                    "retries": {},
                    "call_ids": [],
                    "created_at": now,
                    "updated_at": now,
                }
                for index, row in enumerate(rows, start=1)
            ],
        )

    async def cancel_waiting(self, campaign_id: int, now: datetime) -> None:
        """Rows not called yet, or waiting for a retry, are ``canceled``."""
        await self._session.execute(
            update(CampaignRecipient)
            .where(
                CampaignRecipient.campaign_id == campaign_id,
                CampaignRecipient.status.in_(("pending", "retrying")),
            )
            .values(status="canceled", next_attempt_at=None, updated_at=now)
            .execution_options(synchronize_session=False)
        )

    async def recipients(
        self, campaign_id: int, *, status: str | None, skip: int, limit: int
    ) -> Sequence[CampaignRecipient]:
        query = select(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign_id)
        if status is not None:
            query = query.where(CampaignRecipient.status == status)
        query = query.order_by(CampaignRecipient.position).offset(skip).limit(limit)
        return (await self._session.execute(query)).scalars().all()

    # -- the organization's do-not-call list ----------------------------------------

    async def do_not_call(self, *, skip: int, limit: int) -> Sequence[DoNotCallNumber]:
        query = (
            select(DoNotCallNumber)
            .where(DoNotCallNumber.organization_id == self._principal.organization_id)
            .order_by(DoNotCallNumber.number)
            .offset(skip)
            .limit(limit)
        )
        return (await self._session.execute(query)).scalars().all()

    async def do_not_call_entry(self, number: str) -> DoNotCallNumber | None:
        query = select(DoNotCallNumber).where(
            DoNotCallNumber.organization_id == self._principal.organization_id,
            DoNotCallNumber.number == number,
        )
        return (await self._session.execute(query)).scalar_one_or_none()

    def add_do_not_call(self, entry: DoNotCallNumber) -> None:
        self._session.add(entry)

    async def delete(self, row: object) -> None:
        await self._session.delete(row)
