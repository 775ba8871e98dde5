"""Settling recipient rows after their dials, in any number of processes: each row
whose call ended gets the call's outcome and its next step under the retry policy;
rows whose lease expired are settled by what their lease says (``claims`` explains
the lease and the ``dialling`` mark); running campaigns with nothing left complete.
Every write is a compare-and-set on what the writer saw, so two schedulers never both
record one row's outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, and_, case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.store.models import Call, Campaign, CampaignRecipient

from .events import campaign_status_changed
from .outcomes import INTERRUPTED, UNREPORTED, NextStep, next_step, outcome_of

__all__ = [
    "DIALLING",
    "IN_PROGRESS",
    "OPEN_STATUSES",
    "CampaignSettling",
    "Finished",
    "rowcount",
    "settle_update",
]

IN_PROGRESS = "in-progress"
# A claimed row's ``detail`` from just before its carrier request until its call is
# written: the request may have reached the carrier.
DIALLING = "dialling"
OPEN_STATUSES = ("pending", "retrying", IN_PROGRESS)
_BATCH = 500


@dataclass(frozen=True, slots=True)
class Finished:
    """A campaign whose state changed in a scheduler pass (``completed``)."""

    campaign_id: int
    status: str


def rowcount(result: Any) -> int:
    return result.rowcount if isinstance(result, CursorResult) else 0


def settle_update(step: NextStep, outcome: str, detail: str | None, now: datetime) -> Any:
    """The UPDATE that gives a row ``outcome`` and its next step (the caller adds
    the compare-and-set conditions)."""
    return (
        update(CampaignRecipient)
        .values(
            status=step.status,
            outcome=outcome,
            detail=detail,
            retries=step.retries,
            next_attempt_at=step.next_attempt_at,
            lease_until=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )


class CampaignSettling:
    """The settling queries of a scheduler pass. Database errors are raised: the
    scheduler logs them and tries again on its next pass."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def record_outcomes(self, now: datetime) -> int:
        """Rows whose call has ended get its outcome and their next step; rows whose
        dialling lease expired with no call, or whose call's end went unreported for
        ``CALL_LEASE``, are ``failed`` (never dialled again); rows whose lease expired
        before their dial began are handed back."""
        settled = 0
        async with self._sessions() as session:
            ended = (
                await session.execute(
                    select(
                        CampaignRecipient.id,
                        CampaignRecipient.call_id,
                        CampaignRecipient.retries,
                        Call.end_reason,
                        Call.end_detail,
                        Campaign.retry_policy,
                        Campaign.status,
                    )
                    .join(Call, Call.id == CampaignRecipient.call_id)
                    .join(Campaign, Campaign.id == CampaignRecipient.campaign_id)
                    .where(CampaignRecipient.status == IN_PROGRESS, Call.status == "ended")
                    .limit(_BATCH)
                )
            ).all()
            for row in ended:
                outcome = outcome_of(row.end_reason)
                step = next_step(
                    outcome,
                    row.retries,
                    row.retry_policy,
                    now,
                    campaign_open=row.status != "canceled",
                )
                detail = row.end_reason if outcome != "completed" else None
                result = await session.execute(
                    settle_update(step, outcome, detail, now).where(
                        CampaignRecipient.id == row.id,
                        CampaignRecipient.status == IN_PROGRESS,
                        CampaignRecipient.call_id == row.call_id,
                    )
                )
                settled += rowcount(result)
            expired_lease = and_(
                CampaignRecipient.status == IN_PROGRESS, CampaignRecipient.lease_until < now
            )
            never_dialled = await session.execute(
                update(CampaignRecipient)
                .where(
                    expired_lease,
                    CampaignRecipient.call_id.is_(None),
                    or_(CampaignRecipient.detail.is_(None), CampaignRecipient.detail != DIALLING),
                )
                .values(
                    status=case((CampaignRecipient.attempts > 1, "retrying"), else_="pending"),
                    attempts=CampaignRecipient.attempts - 1,
                    lease_until=None,
                    next_attempt_at=now,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            settled += rowcount(never_dialled)
            for has_call, detail in ((False, INTERRUPTED), (True, UNREPORTED)):
                expired = await session.execute(
                    update(CampaignRecipient)
                    .where(
                        expired_lease,
                        CampaignRecipient.call_id.is_not(None)
                        if has_call
                        else CampaignRecipient.call_id.is_(None),
                    )
                    .values(
                        status="failed",
                        outcome="failed",
                        detail=detail,
                        lease_until=None,
                        updated_at=now,
                    )
                    .execution_options(synchronize_session=False)
                )
                settled += rowcount(expired)
            await session.commit()
        return settled

    async def finish(self, now: datetime) -> list[Finished]:
        """Running campaigns with nothing left to call or wait for are ``completed``."""
        open_rows = (
            select(CampaignRecipient.id)
            .where(
                CampaignRecipient.campaign_id == Campaign.id,
                CampaignRecipient.status.in_(OPEN_STATUSES),
            )
            .exists()
        )
        async with self._sessions() as session:
            done = (
                (
                    await session.execute(
                        select(Campaign.id).where(
                            Campaign.status == "running",
                            Campaign.deleted_at.is_(None),
                            ~open_rows,
                        )
                    )
                )
                .scalars()
                .all()
            )
            finished: list[Finished] = []
            for campaign_id in done:
                result = await session.execute(
                    update(Campaign)
                    .where(
                        and_(Campaign.id == campaign_id, Campaign.status == "running"), ~open_rows
                    )
                    .values(status="completed", finished_at=now, updated_at=now)
                    .execution_options(synchronize_session=False)
                )
                if rowcount(result) == 1:
                    finished.append(Finished(campaign_id, "completed"))
                    campaign = await session.get(Campaign, campaign_id, populate_existing=True)
                    if campaign is not None:
                        await campaign_status_changed(session, campaign, now)
            await session.commit()
        return finished
