"""Rules of the delivery log: reading events with their attempts, and redelivery."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.principal import Principal
from callwright.errors import Conflict, MalformedId, NotFound
from callwright.store.base import utcnow
from callwright.store.models import WebhookEvent

from .outbox import EVENT_ID_PATTERN, PENDING, notify_after_commit
from .repository import WebhookEventRepository
from .schemas import WebhookDeliveryOut, WebhookEventDetail, WebhookEventOut

__all__ = ["WebhookEventService"]

_EVENT_ID = re.compile(EVENT_ID_PATTERN)


def _view(event: WebhookEvent) -> WebhookEventOut:
    view = WebhookEventOut.model_validate(event)
    if event.status != PENDING:
        view.next_attempt_at = None
    return view


class WebhookEventService:
    """The organization's webhook events (a user-scoped key: those of its own calls)."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self._session = session
        self._events = WebhookEventRepository(session, principal)

    async def _find(self, event_id: str, *, for_update: bool = False) -> WebhookEvent:
        if not _EVENT_ID.match(event_id):
            raise MalformedId(
                f"webhook event id {event_id!r} is malformed: expected evt_ and 32 hex digits"
            )
        event = await self._events.get(event_id, for_update=for_update)
        if event is None:
            raise NotFound(f"webhook event {event_id} not found")
        return event

    async def list(
        self,
        *,
        call_id: int | None = None,
        status: str | None = None,
        event_type: str | None = None,
        skip: int = 0,
        limit: int = 100,
    ) -> Sequence[WebhookEventOut]:
        events = await self._events.list(
            call_id=call_id, status=status, event_type=event_type, skip=skip, limit=limit
        )
        return [_view(event) for event in events]

    async def get(self, event_id: str) -> WebhookEventDetail:
        event = await self._find(event_id)
        deliveries = [
            WebhookDeliveryOut.model_validate(row) for row in await self._events.deliveries(event)
        ]
        return WebhookEventDetail.model_validate(
            _view(event).model_dump() | {"payload": event.payload, "deliveries": deliveries}
        )

    async def redeliver(self, event_id: str) -> WebhookEventDetail:
        """Queue a delivered or failed event again, now, with the same event id and a
        fresh retry schedule (its attempt numbers start over in the log)."""
        event = await self._find(event_id, for_update=True)
        if event.status == PENDING:
            raise Conflict(f"webhook event {event_id} is already waiting to be delivered")
        event.status = PENDING
        event.attempts = 0
        event.next_attempt_at = utcnow()
        event.locked_until = None
        event.delivered_at = None
        await self._events.flush()
        notify_after_commit(self._session)
        return await self.get(event_id)
