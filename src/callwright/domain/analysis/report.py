"""The end-of-call report held for the analysis, never longer than ``analysis_wait_s``.

The report is queued in the outbox as usual, then ``hold`` moves its first attempt to
the deadline. An analysis settled before the deadline ``release``s it: the analysis
joins the report (Vapi's ``analysis``: ``summary``, ``structuredData``,
``successEvaluation``) and it goes at once. If the deadline passes first, the outbox
sends it as it is, without the analysis. Both changes are conditional on the report
being untouched and not yet due, so a report already on its way is never rewritten
(the outbox's dispatchers only take due events).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.webhooks.messages import END_OF_CALL_REPORT
from callwright.domain.webhooks.outbox import PENDING, notify_after_commit
from callwright.store.base import utcnow
from callwright.store.models import WebhookEvent

__all__ = ["hold", "release", "vapi_analysis"]


def _untouched(call_id: int, now: datetime) -> list[Any]:
    return [
        WebhookEvent.call_id == call_id,
        WebhookEvent.event_type == END_OF_CALL_REPORT,
        WebhookEvent.status == PENDING,
        WebhookEvent.attempts == 0,
        WebhookEvent.locked_until.is_(None),
        WebhookEvent.next_attempt_at > now,
    ]


def vapi_analysis(analysis: Mapping[str, Any]) -> dict[str, Any]:
    """Our analysis in Vapi's shape: the parts that have a value (the verdict as
    text, as Vapi sends it: ``"true"``, ``"8"``, ``"Good"``)."""
    body: dict[str, Any] = {}
    if analysis.get("summary") is not None:
        body["summary"] = analysis["summary"]
    if analysis.get("structured_data") is not None:
        body["structuredData"] = analysis["structured_data"]
    verdict = analysis.get("success_evaluation")
    if verdict is not None:
        text = str(verdict)
        body["successEvaluation"] = text.lower() if isinstance(verdict, bool) else text
    return body


async def hold(session: AsyncSession, call_id: int, until: datetime) -> None:
    """Hold the call's queued end-of-call report until ``until`` (same transaction as
    the report, before it commits)."""
    await session.flush()
    await session.execute(
        update(WebhookEvent)
        .where(
            WebhookEvent.call_id == call_id,
            WebhookEvent.event_type == END_OF_CALL_REPORT,
            WebhookEvent.status == PENDING,
            WebhookEvent.attempts == 0,
        )
        .values(next_attempt_at=until)
        .execution_options(synchronize_session=False)
    )


async def release(session: AsyncSession, call_id: int, analysis: Mapping[str, Any] | None) -> bool:
    """Send the held report now, with ``analysis`` when given; whether it was still
    held (False: it went without the analysis, or there is none)."""
    now = utcnow()
    row = (
        await session.execute(
            select(WebhookEvent.id, WebhookEvent.payload, WebhookEvent.next_attempt_at).where(
                *_untouched(call_id, now)
            )
        )
    ).first()
    if row is None:
        return False
    payload = dict(row.payload)
    if analysis is not None:
        message = dict(payload.get("message") or {})
        message["analysis"] = vapi_analysis(analysis)
        if analysis.get("summary") is not None:
            message["summary"] = analysis["summary"]  # Vapi's flat field, still read
        payload["message"] = message
    result = await session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.id == row.id, *_untouched(call_id, now))
        .values(payload=payload, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    released = isinstance(result, CursorResult) and result.rowcount == 1
    if released:
        notify_after_commit(session)
    return released
