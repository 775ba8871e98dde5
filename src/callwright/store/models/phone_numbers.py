"""Carrier numbers and the assistants they ring."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from callwright.store.base import Base, BigIntPK, JsonDocument, UtcDateTime, utcnow

__all__ = ["PhoneNumber"]


class PhoneNumber(Base):
    """A carrier number that rings an assistant. ``provider_account`` (Twilio's
    AccountSid) scopes uniqueness: one live row per number per carrier account."""

    __tablename__ = "phone_numbers"
    __table_args__ = (
        Index("ix_phone_numbers_org_created", "organization_id", "created_at"),
        Index(
            "uq_phone_numbers_provider_account_number",
            "provider",
            "provider_account",
            "number",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    assistant_id: Mapped[int | None] = mapped_column(
        ForeignKey("assistants.id", ondelete="SET NULL"), index=True
    )
    provider: Mapped[str] = mapped_column(String(20))
    provider_account: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(20))
    name: Mapped[str | None] = mapped_column(String(200))
    config: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
