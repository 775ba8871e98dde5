"""The recipient rows as schedulers share them, in any number of processes.

A scheduler claims a campaign's due rows inside one transaction that holds the
campaign: ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL (a second scheduler skips
the campaign for this pass instead of waiting), the database's single write lock on
SQLite (taken first, so that the counts read are the ones written against). Holding
the campaign, it counts the rows in progress, so ``max_concurrency`` holds across
processes, and leases at most that many more: ``in-progress`` with ``lease_until``.
It also leases no more than the organization has room for under its concurrent-call
limit (``accounts.call_limit``; read as a hint: the limit itself is held where each
call is issued, and a dial refused by it hands its row back).

A claimed row is dialled under its lease: first marked ``dialling`` (committed before
the carrier is asked), then the call's id is written in the same transaction as the
call itself. From then on the row waits for its call to end, whichever process runs
that call, and the call's end reason decides its outcome (``outcomes``); a call whose
end is never reported frees its slot after ``CALL_LEASE``. A lease that expires on a
row marked ``dialling`` with no call written means the scheduler died while dialling:
whether the carrier had accepted the call is unknown, so the row is not dialled again
(``failed``, said in ``detail``) — a recipient is never called twice by one attempt.
One that expires unmarked was never dialled (the scheduler died with it still queued
behind its other dials): it is handed back, not an attempt. Every write after the
claim is a compare-and-set on what the writer saw, so two schedulers never both record
one row's outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.domain.accounts.call_limit import LiveCallCount, organization_room
from callwright.store.base import utcnow
from callwright.store.models import Campaign, CampaignRecipient, DoNotCallNumber

from .outcomes import CALL_LEASE, next_step
from .settling import DIALLING, IN_PROGRESS, rowcount, settle_update
from .windows import CallingWindow

__all__ = ["CampaignClaims", "Claim"]

_DUE_STATUSES = ("pending", "retrying")
# Rows looked at per claim beyond the free slots: those outside their window or on
# the do-not-call list are moved along without taking a slot.
_SCAN_EXTRA = 50


@dataclass(frozen=True, slots=True)
class Claim:
    """A row this scheduler holds the lease on, with what dialling it needs."""

    recipient_id: int
    campaign_id: int
    organization_id: int
    user_id: int | None
    scope: str
    assistant_id: int | None
    phone_number_id: int
    number: str
    variables: dict[str, Any]
    call_ids: list[int]
    retries: dict[str, int]
    previous_status: str
    lease: datetime


class CampaignClaims:
    """Every query a scheduler makes. Database errors are raised: the scheduler logs
    them and tries again on its next pass; leases bound what a failure holds."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        lease: timedelta,
        live_calls: LiveCallCount | None = None,
    ) -> None:
        self._sessions = sessions
        self._lease = lease
        # How the organization's live calls are told (None: its limit is left to the
        # dial, which holds it all the same, at the cost of rows handed back).
        self._live_calls = live_calls

    async def running(self) -> list[int]:
        async with self._sessions() as session:
            query = select(Campaign.id).where(
                Campaign.status == "running", Campaign.deleted_at.is_(None)
            )
            return list((await session.execute(query.order_by(Campaign.id))).scalars().all())

    async def claim(self, campaign_id: int, now: datetime) -> list[Claim]:
        """Lease the campaign's due rows that are inside their calling window, up to
        its free slots; move rows outside their window to its next opening and rows on
        the do-not-call list to ``do-not-call``."""
        async with self._sessions() as session:
            if session.get_bind().dialect.name == "sqlite":
                # SQLite's one write lock, taken before anything is read: a claimant
                # that read first could count rows another one is about to change.
                await session.execute(
                    update(Campaign)
                    .where(Campaign.id == campaign_id)
                    .values(dials=Campaign.dials)
                    .execution_options(synchronize_session=False)
                )
            campaign = (
                await session.execute(
                    select(Campaign)
                    .where(Campaign.id == campaign_id, Campaign.status == "running")
                    .with_for_update(skip_locked=True)
                )
            ).scalar_one_or_none()
            if campaign is None:  # not running, or being claimed by another scheduler
                await session.rollback()
                return []
            in_flight = (
                await session.execute(
                    select(func.count()).where(
                        CampaignRecipient.campaign_id == campaign_id,
                        CampaignRecipient.status == IN_PROGRESS,
                    )
                )
            ).scalar_one()
            room = campaign.max_concurrency - in_flight
            if self._live_calls is not None and room > 0:
                # Calls are dated by the real clock (``now`` may be a test's).
                organization = await organization_room(
                    session, campaign.organization_id, self._live_calls, utcnow()
                )
                if organization is not None:
                    room = min(room, organization)
            if room <= 0:
                await session.rollback()
                return []
            due = (
                (
                    await session.execute(
                        select(CampaignRecipient)
                        .where(
                            CampaignRecipient.campaign_id == campaign_id,
                            CampaignRecipient.status.in_(_DUE_STATUSES),
                            or_(
                                CampaignRecipient.next_attempt_at.is_(None),
                                CampaignRecipient.next_attempt_at <= now,
                            ),
                        )
                        # Due retries first (a row begun is finished before new
                        # ones start), then the longest due, then upload order.
                        .order_by(
                            CampaignRecipient.status == "pending",
                            CampaignRecipient.next_attempt_at,
                            CampaignRecipient.position,
                        )
                        .limit(room + _SCAN_EXTRA)
                        .with_for_update(skip_locked=True)
                    )
                )
                .scalars()
                .all()
            )
            blocked = set(
                (
                    await session.execute(
                        select(DoNotCallNumber.number).where(
                            DoNotCallNumber.organization_id == campaign.organization_id,
                            DoNotCallNumber.number.in_([row.number for row in due]),
                        )
                    )
                )
                .scalars()
                .all()
            )
            window = CallingWindow.from_stored(campaign.calling_window)
            numbers = campaign.phone_number_ids
            lease = now + self._lease
            claims: list[Claim] = []
            for row in due:
                if row.number in blocked:
                    row.status, row.detail, row.updated_at = (
                        "do-not-call",
                        "on the organization's do-not-call list",
                        now,
                    )
                    continue
                opening = window.next_opening(now, row.timezone)
                if opening is None or opening > now:
                    row.next_attempt_at = opening
                    row.updated_at = now
                    continue
                if len(claims) == room:
                    continue
                claims.append(
                    Claim(
                        recipient_id=row.id,
                        campaign_id=campaign.id,
                        organization_id=campaign.organization_id,
                        user_id=campaign.user_id,
                        scope=campaign.created_by_scope,
                        assistant_id=campaign.assistant_id,
                        phone_number_id=numbers[campaign.dials % len(numbers)],
                        number=row.number,
                        variables=dict(row.variables),
                        call_ids=list(row.call_ids),
                        retries=dict(row.retries),
                        previous_status=row.status,
                        lease=lease,
                    )
                )
                campaign.dials += 1
                row.status = IN_PROGRESS
                row.attempts += 1
                row.lease_until = lease
                row.call_id = None
                row.updated_at = now
            await session.commit()
        return claims

    async def start_dial(self, claim: Claim, now: datetime) -> bool:
        """Mark the row ``dialling``, committed, before the carrier is asked: from
        here a scheduler that dies leaves it failed as interrupted, never dialled
        again. False when the lease was lost meanwhile (the row must not be dialled)."""
        async with self._sessions() as session:
            result = await session.execute(
                update(CampaignRecipient)
                .where(
                    CampaignRecipient.id == claim.recipient_id,
                    CampaignRecipient.status == IN_PROGRESS,
                    CampaignRecipient.lease_until == claim.lease,
                )
                .values(detail=DIALLING, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            await session.commit()
        return rowcount(result) == 1

    async def record_call(
        self, session: AsyncSession, claim: Claim, call_id: int, now: datetime
    ) -> bool:
        """In the dialling transaction: the row now waits for ``call_id`` to end.
        False when the lease was lost meanwhile (the row is then left as it is)."""
        result = await session.execute(
            update(CampaignRecipient)
            .where(
                CampaignRecipient.id == claim.recipient_id,
                CampaignRecipient.status == IN_PROGRESS,
                CampaignRecipient.lease_until == claim.lease,
            )
            .values(
                call_id=call_id,
                call_ids=[*claim.call_ids, call_id],
                lease_until=now + CALL_LEASE,
                detail=None,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        return rowcount(result) == 1

    async def release(self, claim: Claim, retry_at: datetime, now: datetime) -> None:
        """Hand a row back undialled (this process had no room for a call): not an
        attempt, tried again from ``retry_at``."""
        async with self._sessions() as session:
            await session.execute(
                update(CampaignRecipient)
                .where(
                    CampaignRecipient.id == claim.recipient_id,
                    CampaignRecipient.lease_until == claim.lease,
                )
                .values(
                    status=claim.previous_status,
                    attempts=CampaignRecipient.attempts - 1,
                    lease_until=None,
                    next_attempt_at=retry_at,
                    detail=None,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            await session.commit()

    async def dial_failed(self, claim: Claim, detail: str, now: datetime) -> None:
        """The call could not be placed: a ``failed`` outcome, retried by the policy."""
        async with self._sessions() as session:
            campaign = await session.get(Campaign, claim.campaign_id)
            policy = campaign.retry_policy if campaign is not None else {}
            open_ = campaign is not None and campaign.status != "canceled"
            step = next_step("failed", claim.retries, policy, now, campaign_open=open_)
            await session.execute(
                settle_update(step, "failed", detail, now).where(
                    CampaignRecipient.id == claim.recipient_id,
                    CampaignRecipient.status == IN_PROGRESS,
                    CampaignRecipient.lease_until == claim.lease,
                )
            )
            await session.commit()
