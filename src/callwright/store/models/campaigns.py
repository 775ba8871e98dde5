"""Campaigns: batches of outbound calls, their recipients, and the organization's
do-not-call list."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from callwright.store.base import Base, BigIntPK, JsonDocument, UtcDateTime, utcnow

__all__ = ["Campaign", "CampaignRecipient", "DoNotCallNumber"]


class Campaign(Base):
    """A batch of outbound calls: an assistant calls every recipient from a pool of the
    organization's numbers, inside calling windows, at most ``max_concurrency`` at a
    time, retrying per outcome. ``created_by_scope`` is the scope of the key that
    created it: calls are placed as that principal would place them."""

    __tablename__ = "campaigns"
    __table_args__ = (
        Index("ix_campaigns_org_created", "organization_id", "created_at"),
        Index("ix_campaigns_status", "status"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_by_scope: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    assistant_id: Mapped[int | None] = mapped_column(
        ForeignKey("assistants.id", ondelete="SET NULL")
    )
    # The numbers calls are placed from, rotated: [phone_number_id, ...]
    phone_number_ids: Mapped[list[int]] = mapped_column(JsonDocument)
    # {"days": ["mon", ...], "start": "09:00", "end": "17:00"} in each recipient's zone
    calling_window: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    default_timezone: Mapped[str | None] = mapped_column(String(64))
    max_concurrency: Mapped[int] = mapped_column(Integer)
    # {"busy": {"max_retries", "retry_after_seconds"}, "no-answer": ..., ...}
    retry_policy: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    # "draft" | "running" | "paused" | "completed" | "canceled"
    status: Mapped[str] = mapped_column(String(16))
    # How many calls have been placed: the next one uses phone_number_ids[dials % n].
    dials: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class CampaignRecipient(Base):
    """One number a campaign calls, with its template variables, its time zone, and
    where it stands. A row being dialled holds a lease (``lease_until``); once its call
    exists it waits for that call's end (``call_id``), whichever process placed it."""

    __tablename__ = "campaign_recipients"
    __table_args__ = (
        UniqueConstraint("campaign_id", "number"),
        Index("ix_campaign_recipients_due", "campaign_id", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    # The row's place in the uploads (1-based, over every upload).
    position: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(20))
    timezone: Mapped[str] = mapped_column(String(64))
    variables: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    # "pending" | "in-progress" | "retrying" | "completed" | "failed" | "do-not-call"
    # | "canceled"
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Retries made so far per outcome ({"busy": 1}): each outcome's own budget.
    retries: Mapped[dict[str, int]] = mapped_column(JsonDocument)
    # The last call's outcome: "completed" | "busy" | "no-answer" | "failed" | "voicemail"
    # | "canceled"
    outcome: Mapped[str | None] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)
    # Not called before this (a retry's delay, or its calling window's next opening).
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    call_ids: Mapped[list[int]] = mapped_column(JsonDocument)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class DoNotCallNumber(Base):
    """A number no campaign of the organization may call."""

    __tablename__ = "do_not_call_numbers"
    __table_args__ = (UniqueConstraint("organization_id", "number"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
