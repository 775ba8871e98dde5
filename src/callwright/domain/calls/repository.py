"""Every query on calls. ``CallRepository`` is filtered to what a principal may see
(its organization; a user-scoped key only its own user's calls); the module-level
functions are for the runtime, which acts on a call it already identified (by a
signed stream token or a carrier's verified request)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.principal import KeyScope, Principal
from callwright.store.base import utcnow
from callwright.store.models import Call

__all__ = [
    "CallFilters",
    "CallRepository",
    "close_orphaned_calls",
    "consume_stream_nonce",
    "new_call",
    "placing_principal",
    "previous_conversation",
]

DIRECTION_TYPES = {
    "inbound": ("inboundPhoneCall",),
    "outbound": ("outboundPhoneCall",),
    "web": ("webCall",),
}


class CallFilters:
    """The list endpoint's filters."""

    def __init__(
        self,
        *,
        assistant_id: int | None = None,
        status: str | None = None,
        direction: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> None:
        self.assistant_id = assistant_id
        self.status = status
        self.direction = direction
        self.created_after = created_after
        self.created_before = created_before


class CallRepository:
    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self._session = session
        self._principal = principal

    def _visible(self) -> Select[Call]:
        query = select(Call).where(Call.organization_id == self._principal.organization_id)
        if self._principal.scope == "user":
            query = query.where(Call.user_id == self._principal.user_id)
        return query

    async def get(self, call_id: int) -> Call | None:
        query = self._visible().where(Call.id == call_id)
        return (await self._session.execute(query)).scalar_one_or_none()

    async def list(self, filters: CallFilters, *, skip: int, limit: int) -> Sequence[Call]:
        query = self._visible()
        if filters.assistant_id is not None:
            query = query.where(Call.assistant_id == filters.assistant_id)
        if filters.status is not None:
            query = query.where(Call.status == filters.status)
        if filters.direction is not None:
            query = query.where(Call.type.in_(DIRECTION_TYPES[filters.direction]))
        if filters.created_after is not None:
            query = query.where(Call.created_at >= filters.created_after)
        if filters.created_before is not None:
            query = query.where(Call.created_at < filters.created_before)
        query = query.order_by(Call.created_at.desc(), Call.id.desc()).offset(skip).limit(limit)
        return (await self._session.execute(query)).scalars().all()


def new_call(
    *,
    organization_id: int,
    user_id: int | None,
    assistant_id: int,
    type: str,
    status: str,
    variables: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
    from_number: str | None = None,
    to_number: str | None = None,
    phone_number_id: int | None = None,
    provider_call_id: str | None = None,
    placed_by_scope: KeyScope | None = None,
) -> Call:
    """A call row with an empty record. ``placed_by_scope`` is the scope of the
    principal placing an API call (with ``user_id``, who it is); None when none did."""
    now = utcnow()
    return Call(
        organization_id=organization_id,
        user_id=user_id,
        placed_by_scope=placed_by_scope,
        assistant_id=assistant_id,
        phone_number_id=phone_number_id,
        type=type,
        status=status,
        from_number=from_number,
        to_number=to_number,
        provider_call_id=provider_call_id,
        variables=variables or {},
        overrides=overrides or {},
        messages=[],
        tool_calls=[],
        knowledge=[],
        tools_left_out=[],
        turns=[],
        usage={},
        providers=[],
        created_at=now,
        updated_at=now,
    )


def placing_principal(call: Call) -> Principal | None:
    """The principal that placed ``call`` through the API, as its repositories see it;
    None for a call no principal placed (inbound) or placed before this was recorded."""
    if call.placed_by_scope not in ("organization", "user"):
        return None
    scope: KeyScope = "user" if call.placed_by_scope == "user" else "organization"
    # A deleted user's row is gone (user_id NULL): user id 0 owns nothing, so a
    # user-scoped principal without its user reads nothing of anyone's. Repositories
    # filter by organization, user and scope only; the auth method does not matter.
    return Principal(call.organization_id, call.user_id or 0, scope, "api_key")


async def consume_stream_nonce(session: AsyncSession, call_id: int, nonce: str) -> bool:
    """Clear the call's stream nonce if it is ``nonce``: True exactly once per token,
    on whichever node the stream reaches, and never for a call that has ended."""
    result = await session.execute(
        update(Call)
        .where(Call.id == call_id, Call.stream_nonce == nonce, Call.status != "ended")
        .values(stream_nonce=None, updated_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def previous_conversation(
    session: AsyncSession, call: Call, customer_number: str | None
) -> list[dict[str, Any]]:
    """The transcript of the same caller's last finished call with the same assistant
    (for ``maintain_context``): matched by the customer's phone number."""
    if not customer_number or call.assistant_id is None:
        return []
    query = (
        select(Call.messages)
        .where(
            Call.organization_id == call.organization_id,
            Call.assistant_id == call.assistant_id,
            Call.id != call.id,
            Call.status == "ended",
            (Call.from_number == customer_number) | (Call.to_number == customer_number),
        )
        .order_by(Call.created_at.desc(), Call.id.desc())
        .limit(1)
    )
    messages = (await session.execute(query)).scalar_one_or_none()
    return list(messages or [])


async def close_orphaned_calls(session: AsyncSession) -> int:
    """Calls left unfinished by a crash: ended with reason ``server-restarted``."""
    now = utcnow()
    result = await session.execute(
        update(Call)
        .where(Call.status != "ended")
        .values(
            status="ended",
            end_reason="server-restarted",
            end_detail="the server stopped while the call was open",
            ended_at=now,
            stream_nonce=None,
            updated_at=now,
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
