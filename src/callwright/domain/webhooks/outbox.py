"""Writing to the webhook outbox, and waking the dispatcher.

``enqueue`` adds an event row in the caller's transaction, so an event exists exactly
when the change it reports was committed. When that transaction commits, every
dispatcher running in this process is woken (``notify``); dispatchers in other
processes find the row on their next poll.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.store.base import utcnow
from callwright.store.models import WebhookEvent
from callwright.store.wakeups import CommitWakeups

__all__ = [
    "DELIVERED",
    "EVENT_ID_PATTERN",
    "FAILED",
    "PENDING",
    "enqueue",
    "new_event_id",
    "notify",
    "notify_after_commit",
    "subscribe",
]

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
EVENT_ID_PATTERN = r"^evt_[0-9a-f]{32}$"

_EVENT_TYPE_MAX = 40  # the column's width
_WAKEUPS = CommitWakeups("webhooks")


def new_event_id() -> str:
    """A fresh event id: what receivers de-duplicate on (``X-Callwright-Event-Id``)."""
    return "evt_" + uuid.uuid4().hex


notify = _WAKEUPS.wake
"""Wake every dispatcher of this process (safe from any thread or loop). Call it after
committing events written without ``enqueue``; ``enqueue`` does it itself."""

subscribe = _WAKEUPS.subscribe
"""An event that ``notify()`` sets, for the duration of the block (dispatchers)."""

notify_after_commit = _WAKEUPS.after_commit
"""Wake the dispatchers once ``session``'s transaction commits (never before: a
dispatcher must not look for a row it cannot see yet)."""


def _check_url(url: str) -> None:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"webhook url {url!r} is not a valid URL: {exc}") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"webhook url {url!r} must be an http:// or https:// URL")


async def enqueue(
    session: AsyncSession,
    *,
    organization_id: int,
    url: str,
    event_type: str,
    payload: dict[str, Any],
    call_id: int | None = None,
) -> str:
    """Add one event to the outbox in the caller's transaction (no commit) and return
    its id. ``payload`` is the JSON body sent as is (a Vapi server message, see
    ``messages``). Raises ``ValueError`` for a payload JSON cannot carry or a URL that
    is not http(s), so a bad event fails where it is made, not at delivery."""
    _check_url(url)
    if not event_type or len(event_type) > _EVENT_TYPE_MAX:
        raise ValueError(f"event_type must be 1..{_EVENT_TYPE_MAX} characters")
    try:
        # Round-tripped: what is stored is exactly what will be sent.
        document = json.loads(json.dumps(payload, allow_nan=False))
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValueError(f"the webhook payload is not JSON: {exc}") from exc
    now = utcnow()
    event_id = new_event_id()
    session.add(
        WebhookEvent(
            organization_id=organization_id,
            event_id=event_id,
            call_id=call_id,
            event_type=event_type,
            url=url,
            payload=document,
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    notify_after_commit(session)
    return event_id
