"""The reads of calls. ``CallRepository`` is filtered to what a principal may see (its
organization; a user-scoped key only its own user's calls); the functions below it are
for the runtime and the carrier's webhooks, which read a call they already identified
(by a signed stream token or a carrier's verified request). Every write is
``domain.calls.repository``'s."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import load_only

from callwright.domain.principal import KeyScope, Principal
from callwright.domain.webhooks.messages import CALL_OBJECT_FIELDS
from callwright.store.call_status import CallStatus
from callwright.store.models import Call, PhoneNumber

__all__ = [
    "CallFilters",
    "CallRepository",
    "call_by_carrier_sid",
    "load_call",
    "load_call_for_messages",
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
        status: CallStatus | None = None,
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
            Call.status == CallStatus.ENDED,
            (Call.from_number == customer_number) | (Call.to_number == customer_number),
        )
        .order_by(Call.created_at.desc(), Call.id.desc())
        .limit(1)
    )
    messages = (await session.execute(query)).scalar_one_or_none()
    return list(messages or [])


async def load_call(session: AsyncSession, call_id: int) -> Call | None:
    """A call by id, in any organization: for a caller that already identified it."""
    return await session.get(Call, call_id)


# Built once: each load only binds the id.
_FOR_MESSAGES = (
    select(Call)
    .where(Call.id == bindparam("call_id"))
    .options(load_only(*(getattr(Call, name) for name in CALL_OBJECT_FIELDS), raiseload=True))
)


async def load_call_for_messages(session: AsyncSession, call_id: int) -> Call | None:
    """A call by id with only what a live call's webhook messages read
    (``messages.CALL_OBJECT_FIELDS``): not its record so far, which the progress writer
    rewrites every turn and every event batch would otherwise load and decode again.
    Reading any other attribute raises instead of loading it."""
    result = await session.execute(_FOR_MESSAGES, {"call_id": call_id})
    return result.scalar_one_or_none()


async def call_by_carrier_sid(
    session: AsyncSession, call_sid: str, account_sid: str
) -> Call | None:
    """The call with this CallSid on a number of this Twilio account. A CallSid alone is
    not enough: any organization can sign a voice webhook for its own number naming any
    CallSid, and its call must not shadow another organization's for that account."""
    if not call_sid:
        return None
    query = (
        select(Call)
        .join(PhoneNumber, PhoneNumber.id == Call.phone_number_id)
        .where(
            Call.provider_call_id == call_sid,
            PhoneNumber.provider == "twilio",
            PhoneNumber.provider_account == account_sid,
        )
        .order_by(Call.id.desc())
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()
