"""Every query on webhook events, already filtered to what the principal may see: its
organization's events, and for a user-scoped key only those of its own calls."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.principal import Principal
from callwright.store.models import Call, WebhookDelivery, WebhookEvent

__all__ = ["WebhookEventRepository"]


class WebhookEventRepository:
    """The delivery log as one principal sees it."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self._session = session
        self._principal = principal

    def _visible(self) -> Select[WebhookEvent]:
        organization_id = self._principal.organization_id
        query = select(WebhookEvent).where(WebhookEvent.organization_id == organization_id)
        if self._principal.scope == "user":
            own_calls = select(Call.id).where(
                Call.organization_id == organization_id, Call.user_id == self._principal.user_id
            )
            query = query.where(WebhookEvent.call_id.in_(own_calls))
        return query

    async def get(self, event_id: str, *, for_update: bool = False) -> WebhookEvent | None:
        query = self._visible().where(WebhookEvent.event_id == event_id)
        if for_update:
            query = query.with_for_update()
        return (await self._session.execute(query)).scalar_one_or_none()

    async def list(
        self,
        *,
        call_id: int | None,
        status: str | None,
        event_type: str | None,
        skip: int,
        limit: int,
    ) -> Sequence[WebhookEvent]:
        query = self._visible()
        if call_id is not None:
            query = query.where(WebhookEvent.call_id == call_id)
        if status is not None:
            query = query.where(WebhookEvent.status == status)
        if event_type is not None:
            query = query.where(WebhookEvent.event_type == event_type)
        query = query.order_by(WebhookEvent.created_at.desc(), WebhookEvent.id.desc())
        return (await self._session.execute(query.offset(skip).limit(limit))).scalars().all()

    async def deliveries(self, event: WebhookEvent) -> Sequence[WebhookDelivery]:
        """The attempts of an event this principal can see (got through ``get``)."""
        query = (
            select(WebhookDelivery)
            .where(WebhookDelivery.webhook_event_id == event.id)
            .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
        )
        return (await self._session.execute(query)).scalars().all()

    async def flush(self) -> None:
        await self._session.flush()
