"""The webhook delivery log: the events sent to assistants' ``webhook_url``, each with
its delivery attempts, and redelivery."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from callwright.api.deps import CurrentPrincipal, DbSession
from callwright.api.openapi import errors
from callwright.api.routing import CallwrightRoute
from callwright.domain.webhooks.schemas import (
    WebhookEventDetail,
    WebhookEventOut,
    WebhookEventStatus,
)
from callwright.domain.webhooks.service import WebhookEventService

__all__ = ["WebhookEventsDep", "router"]

router = APIRouter(prefix="/api/v1/webhook-events", tags=["webhooks"], route_class=CallwrightRoute)


async def get_webhook_events(
    session: DbSession, principal: CurrentPrincipal
) -> WebhookEventService:
    return WebhookEventService(session, principal)


WebhookEventsDep = Annotated[WebhookEventService, Depends(get_webhook_events)]
EventIdPath = Annotated[
    str,
    Path(
        description="The event id (X-Callwright-Event-Id): evt_ and 32 hex digits.",
        max_length=64,
        examples=["evt_3f0c5b1e9a8d4c2b8f7e6d5c4b3a2910"],
    ),
]


@router.get("", operation_id="list_webhook_events", responses=errors(401, 422))
async def list_webhook_events(
    events: WebhookEventsDep,
    call_id: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="Only this call's.")
    ] = None,
    status: Annotated[WebhookEventStatus | None, Query(description="Only in this state.")] = None,
    event_type: Annotated[
        str | None,
        Query(pattern=r"^[A-Za-z0-9._-]{1,40}$", description="e.g. end-of-call-report."),
    ] = None,
    skip: Annotated[int, Query(ge=0, le=2**31, description="Events to skip.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 100,
) -> list[WebhookEventOut]:
    """The organization's webhook events, newest first (a user-scoped key sees those of
    its own calls)."""
    return list(
        await events.list(
            call_id=call_id, status=status, event_type=event_type, skip=skip, limit=limit
        )
    )


@router.get("/{event_id}", operation_id="get_webhook_event", responses=errors(401, 404, 422))
async def get_webhook_event(event_id: EventIdPath, events: WebhookEventsDep) -> WebhookEventDetail:
    """One event: the body it sends and every delivery attempt, oldest first."""
    return await events.get(event_id)


@router.post(
    "/{event_id}/redeliver",
    operation_id="redeliver_webhook_event",
    responses=errors(401, 403, 404, 409, 422),
)
async def redeliver_webhook_event(
    event_id: EventIdPath, events: WebhookEventsDep
) -> WebhookEventDetail:
    """Send a delivered or failed event again, now, with the same event id (receivers
    that de-duplicate on it will skip it) and a fresh retry schedule. 409 while the
    event is still pending."""
    return await events.redeliver(event_id)
