"""Webhooks for a campaign's state changes (started, paused, resumed, canceled,
completed), through the durable outbox, in the transaction that makes the change. They
go to the campaign's assistant's ``webhook_url``, as its calls' events do::

    {"message": {"type": "campaign-status-update", "timestamp": <ms>,
                 "campaign": {"id", "name", "status", "assistantId",
                              "progress": {"total", "pending", ...}}}}
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.webhooks.outbox import enqueue
from callwright.store.models import Assistant, Campaign, CampaignRecipient

__all__ = ["CAMPAIGN_STATUS_UPDATE", "campaign_status_changed"]

CAMPAIGN_STATUS_UPDATE = "campaign-status-update"


async def campaign_status_changed(session: AsyncSession, campaign: Campaign, now: datetime) -> None:
    """Queue the campaign's ``campaign-status-update`` (no commit); nothing when its
    assistant has no ``webhook_url``."""
    if campaign.assistant_id is None:
        return
    config = (
        await session.execute(select(Assistant.config).where(Assistant.id == campaign.assistant_id))
    ).scalar_one_or_none()
    url = (config or {}).get("webhook_url")
    if not url:
        return
    rows = await session.execute(
        select(CampaignRecipient.status, func.count())
        .where(CampaignRecipient.campaign_id == campaign.id)
        .group_by(CampaignRecipient.status)
    )
    counts: dict[str, int] = dict(rows.all())
    progress = {"total": sum(counts.values())} | {
        status.replace("-", "_"): count for status, count in counts.items()
    }
    await enqueue(
        session,
        organization_id=campaign.organization_id,
        url=str(url),
        event_type=CAMPAIGN_STATUS_UPDATE,
        payload={
            "message": {
                "type": CAMPAIGN_STATUS_UPDATE,
                "timestamp": int(now.timestamp() * 1000),
                "campaign": {
                    "id": campaign.id,
                    "name": campaign.name,
                    "status": campaign.status,
                    "assistantId": campaign.assistant_id,
                    "progress": progress,
                },
            }
        },
    )
