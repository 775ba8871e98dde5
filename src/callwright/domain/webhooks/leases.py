"""The outbox rows as dispatchers share them: a lease taken by compare-and-set keeps
an event with one dispatcher (in any process) at a time, and expires if its holder
dies. ``OutboxLeases`` claims due events, records each attempt under the lease it was
made with, and hands a lease back early on shutdown; the dispatcher decides what to
deliver and what an attempt's outcome means."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, Integer, bindparam, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from callwright.store.base import UtcDateTime, utcnow
from callwright.store.models import WebhookDelivery, WebhookEvent

from .outbox import DELIVERED, PENDING

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
# Takes the lease on the rows found by _DUE that are still free and due, in one
# statement: their ids and current attempt counts come back.
_TAKE = (
    update(WebhookEvent)
    .where(
        WebhookEvent.id.in_(bindparam("row_ids", expanding=True)),
        WebhookEvent.status == PENDING,
        WebhookEvent.next_attempt_at <= _NOW,
        _LEASE_FREE,
    )
    .values(locked_until=bindparam("lease", type_=UtcDateTime()))
    .returning(WebhookEvent.id, WebhookEvent.attempts)
    .execution_options(synchronize_session=False)
)


# Recording an attempt: its row in the delivery log, and the event's outcome under the
# lease it was made with. Unchanged when not given: the retry time (None when delivered
# or given up), the delivery time (None unless delivered).
_LOG_ATTEMPT = insert(WebhookDelivery)
_SETTLE = (
    update(WebhookEvent)
    .where(
        WebhookEvent.id == bindparam("row_id"),
        WebhookEvent.locked_until == bindparam("held", type_=UtcDateTime()),
    )
    .values(
        attempts=bindparam("tries", type_=Integer()),
        locked_until=None,
        status=bindparam("outcome"),
        last_error=bindparam("error"),
        next_attempt_at=func.coalesce(
            bindparam("retry_at", type_=UtcDateTime()), WebhookEvent.next_attempt_at
        ),
        delivered_at=func.coalesce(
            bindparam("delivered", type_=UtcDateTime()), WebhookEvent.delivered_at
        ),
    )
    .execution_options(synchronize_session=False)
)


class OutboxLeases:
    """Every query a dispatcher makes on the outbox. Database errors are raised: the
    caller decides whether to retry now or let the lease expire."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], lease: timedelta) -> None:
        self._sessions = sessions
        self._lease = lease

    async def claim(self, limit: int) -> list[Claim]:
        """Lease up to ``limit`` due events (``_DUE``, then one ``_TAKE`` for all of
        them): the events this dispatcher is now the only one to deliver, oldest due
        first."""
        now = utcnow()
        lease = now + self._lease
        claims: list[Claim] = []
        async with self._sessions() as session:
            due = (await session.execute(_DUE, {"now": now, "limit": limit})).all()
            if due:
                # Compare-and-set: a row another dispatcher leased (or whose attempt was
                # recorded as not due yet, or done) meanwhile no longer matches, and
                # PostgreSQL re-checks a row another transaction changed before it
                # takes it. The attempt count is the row's as taken.
                taken = await session.execute(
                    _TAKE, {"row_ids": [row.id for row in due], "now": now, "lease": lease}
                )
                attempts = {row.id: row.attempts for row in taken}
                for row in due:
                    if row.id in attempts:
                        fields = row._asdict() | {"attempts": attempts[row.id]}
                        claims.append(Claim(**fields, lease=lease))
            await session.commit()
        return claims

    async def record(
        self,
        claim: Claim,
        attempt: Attempt,
        *,
        status: str,
        retry_at: datetime | None,
        at: datetime,
    ) -> bool:
        """Log ``attempt`` and settle the event: its new ``status`` (delivered, failed
        or still pending, then due again at ``retry_at``), freeing the lease. Whether
        the lease was still held (if it had expired, another dispatcher may already be
        trying the event again)."""
        tries = claim.attempts + 1
        async with self._sessions() as session:
            await session.execute(
                _LOG_ATTEMPT,
                {
                    "webhook_event_id": claim.id,
                    "attempt": tries,
                    "status_code": attempt.status_code,
                    "error": attempt.error,
                    "duration_ms": attempt.duration_ms,
                    "created_at": at,
                },
            )
            result = await session.execute(
                _SETTLE,
                {
                    "row_id": claim.id,
                    "held": claim.lease,
                    "tries": tries,
                    "outcome": status,
                    "error": attempt.error,
                    "retry_at": retry_at,
                    "delivered": at if status == DELIVERED else None,
                },
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
