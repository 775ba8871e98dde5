"""The organization's concurrent-call limit, held across every process and node.

An organization may set ``max_concurrent_calls`` (None: unlimited). A call counts
against it from the moment it is issued: calls in progress, and calls issued whose
stream has not connected yet while their stream token can still be used (the same
places ``runtime.capacity`` holds per process), of nodes that are alive — a dead
node's calls are swept, and must not hold places meanwhile. A draining node's calls
count like any other's: the node takes no new call, but those it holds are up.

``hold_call_place`` runs in the transaction that inserts the call. It first takes the
organization's row for writing (an ``UPDATE`` that changes nothing: on PostgreSQL a
``FOR NO KEY UPDATE`` row lock, which inserts referencing the organization do not
wait on; on SQLite the database's single write lock), then counts. Every issuer of
one organization's calls, in any process, is thereby serialised from its count to
its commit, so two issuers can never both see the last free place (decision 024).
An organization without a limit is not locked: its calls are issued as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.errors import NotFound, ServiceBusy
from callwright.settings import Settings
from callwright.store.call_status import CallStatus
from callwright.store.models import Call, Node, Organization

__all__ = ["LiveCallCount", "OrganizationCallLimit", "hold_call_place", "organization_room"]


class OrganizationCallLimit(ServiceBusy):
    """The organization holds as many calls as its limit allows (429: the caller's
    own limit, not the server's capacity)."""

    status_code = 429
    code = "organization_call_limit"


@dataclass(frozen=True, slots=True)
class LiveCallCount:
    """How to tell a live call: nodes silent for ``node_expiry_s`` are gone, and an
    issued call's token lives ``token_ttl_s``."""

    node_expiry_s: float
    token_ttl_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> LiveCallCount:
        return cls(settings.node_expiry_s, settings.stream_token_ttl_s)

    async def count(self, session: AsyncSession, organization_id: int, now: datetime) -> int:
        live_nodes = select(Node.id).where(
            Node.stopped_at.is_(None),
            Node.heartbeat_at >= now - timedelta(seconds=self.node_expiry_s),
        )
        awaiting = (CallStatus.QUEUED, CallStatus.RINGING)
        query = select(func.count()).where(
            Call.organization_id == organization_id,
            Call.status != CallStatus.ENDED,
            Call.node_id.in_(live_nodes),
            or_(
                Call.status.not_in(awaiting),
                and_(
                    Call.status.in_(awaiting),
                    Call.created_at >= now - timedelta(seconds=self.token_ttl_s),
                ),
            ),
        )
        return int((await session.execute(query)).scalar_one())


async def _limit_of(session: AsyncSession, organization_id: int) -> int | None:
    query = select(Organization.max_concurrent_calls).where(Organization.id == organization_id)
    limit: int | None = (await session.execute(query)).scalar_one_or_none()
    return limit


async def hold_call_place(
    session: AsyncSession, organization_id: int, live: LiveCallCount, now: datetime
) -> None:
    """Lock the organization for the rest of the caller's transaction and refuse a
    new call past its limit (``OrganizationCallLimit``). The caller inserts the call
    and commits: the lock is what makes count-then-insert atomic across processes.
    An unlimited organization (the default) is neither locked nor counted."""
    if await _limit_of(session, organization_id) is None:
        return
    locked = await session.execute(
        update(Organization)
        .where(Organization.id == organization_id)
        .values(updated_at=Organization.updated_at)
        .execution_options(synchronize_session=False)
    )
    if not locked.rowcount:  # type: ignore[attr-defined]
        raise NotFound(f"organization {organization_id} not found")
    limit = await _limit_of(session, organization_id)  # as of the lock: it may have changed
    if limit is None:
        return
    if await live.count(session, organization_id, now) >= limit:
        raise OrganizationCallLimit(
            f"the organization is at its limit of {limit} concurrent calls (calls in "
            "progress and calls issued but not yet connected); try again when one ends, "
            "or raise max_concurrent_calls with PATCH /api/v1/organization"
        )


async def organization_room(
    session: AsyncSession, organization_id: int, live: LiveCallCount, now: datetime
) -> int | None:
    """Calls the organization may still start (None: unlimited). A hint, read without
    the lock: ``hold_call_place`` decides each call."""
    limit = await _limit_of(session, organization_id)
    if limit is None:
        return None
    return max(0, limit - await live.count(session, organization_id, now))
