"""The outbox rows as dispatchers share them: a lease taken by compare-and-set keeps
an event with one dispatcher (in any process) at a time, and expires if its holder
dies. ``OutboxLeases`` claims due events, records each attempt under the lease it was
made with, and hands a lease back early on shutdown; the dispatcher decides what to
deliver and what an attempt's outcome means."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, Integer, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from callwright.store.base import UtcDateTime, utcnow
from callwright.store.models import WebhookDelivery, WebhookEvent

from .outbox import PENDING

__all__ = ["Attempt", "Claim", "OutboxLeases"]


@dataclass(frozen=True, slots=True)
class Claim:
    """An event this dispatcher holds the lease on, until ``lease``."""

    id: int
    event_id: str
    organization_id: int
    call_id: int | None
    event_type: str
    url: str
    payload: dict[str, Any]
    attempts: int
    lease: datetime


@dataclass(frozen=True, slots=True)
class Attempt:
    """One delivery attempt as the delivery log keeps it; ``error`` None: delivered."""

    status_code: int | None
    error: str | None
    duration_ms: float


def _rowcount(result: Any) -> int:
    return result.rowcount if isinstance(result, CursorResult) else 0


# The claim's statements, built once: each claim only binds its values. (Built per
# claim, the aliased subquery made SQLAlchemy derive a new cache key every time.)
_NOW = bindparam("now", type_=UtcDateTime())
_LEASE_FREE = or_(WebhookEvent.locked_until.is_(None), WebhookEvent.locked_until < _NOW)
_earlier = aliased(WebhookEvent, name="earlier")
# Events of one call to one URL go in order: not before an older one is done.
_BLOCKED = (
    select(_earlier.id)
    .where(
        _earlier.call_id == WebhookEvent.call_id,
        _earlier.url == WebhookEvent.url,
        _earlier.status == PENDING,
        _earlier.id < WebhookEvent.id,
    )
    .exists()
)
# Up to :limit due events, oldest due first, free of a live lease and not blocked.
_DUE = (
    select(
        WebhookEvent.id,
        WebhookEvent.event_id,
        WebhookEvent.organization_id,
        WebhookEvent.call_id,
        WebhookEvent.event_type,
        WebhookEvent.url,
        WebhookEvent.payload,
        WebhookEvent.attempts,
    )
    .where(
        WebhookEvent.status == PENDING,
        WebhookEvent.next_attempt_at <= _NOW,
        _LEASE_FREE,
        ~_BLOCKED,
    )
    .order_by(WebhookEvent.next_attempt_at, WebhookEvent.id)
    .limit(bindparam("limit", type_=Integer()))
)
# Takes the lease on one row found by _DUE if it is still as it was seen.
_TAKE = (
    update(WebhookEvent)
    .where(
        WebhookEvent.id == bindparam("row_id"),
        WebhookEvent.status == PENDING,
        WebhookEvent.attempts == bindparam("seen_attempts"),
        WebhookEvent.next_attempt_at <= _NOW,
        _LEASE_FREE,
    )
    .values(locked_until=bindparam("lease", type_=UtcDateTime()))
    .execution_options(synchronize_session=False)
)


class OutboxLeases:
    """Every query a dispatcher makes on the outbox. Database errors are raised: the
    caller decides whether to retry now or let the lease expire."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], lease: timedelta) -> None:
        self._sessions = sessions
        self._lease = lease

    async def claim(self, limit: int) -> list[Claim]:
        """Lease up to ``limit`` due events (``_DUE``, then ``_TAKE`` per row): the
        events this dispatcher is now the only one to deliver, oldest due first."""
        now = utcnow()
        lease = now + self._lease
        claims: list[Claim] = []
        async with self._sessions() as session:
            due = await session.execute(_DUE, {"now": now, "limit": limit})
            for row in due.all():
                # Compare-and-set: only one process's UPDATE matches; a concurrent
                # claimer (or an attempt recorded meanwhile) makes this one miss.
                taken = await session.execute(
                    _TAKE,
                    {"row_id": row.id, "seen_attempts": row.attempts, "now": now, "lease": lease},
                )
                if _rowcount(taken) == 1:
                    claims.append(Claim(**row._asdict(), lease=lease))
            await session.commit()
        return claims

    async def record(
        self, claim: Claim, attempt: Attempt, values: dict[str, Any], *, at: datetime
    ) -> bool:
        """Log ``attempt`` and update the event with ``values`` (its new status, retry
        time...), freeing the lease: whether the lease was still held (if it had
        expired, another dispatcher may already be trying the event again)."""
        async with self._sessions() as session:
            session.add(
                WebhookDelivery(
                    webhook_event_id=claim.id,
                    attempt=claim.attempts + 1,
                    status_code=attempt.status_code,
                    error=attempt.error,
                    duration_ms=attempt.duration_ms,
                    created_at=at,
                )
            )
            result = await session.execute(
                update(WebhookEvent)
                .where(WebhookEvent.id == claim.id, WebhookEvent.locked_until == claim.lease)
                .values(attempts=claim.attempts + 1, locked_until=None, **values)
                .execution_options(synchronize_session=False)
            )
            await session.commit()
        return _rowcount(result) == 1

    async def release(self, claim: Claim) -> None:
        """Hand the event back before its lease ends (the attempt was not made)."""
        async with self._sessions() as session:
            await session.execute(
                update(WebhookEvent)
                .where(WebhookEvent.id == claim.id, WebhookEvent.locked_until == claim.lease)
                .values(locked_until=None)
                .execution_options(synchronize_session=False)
            )
            await session.commit()
