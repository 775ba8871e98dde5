"""An organization's stored provider credentials."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from callwright.store.base import Base, BigIntPK, JsonDocument, UtcDateTime, utcnow

__all__ = ["ProviderCredential"]


class ProviderCredential(Base):
    """An organization's credentials for one vendor (``openai``, ``deepgram``,
    ``twilio``, ...): ``config`` holds the key and options, secrets encrypted. Calls use
    an assistant's own key first, then this, then the server's environment."""

    __tablename__ = "provider_credentials"
    __table_args__ = (
        Index(
            "uq_provider_credentials_org_provider",
            "organization_id",
            "provider",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(40))
    config: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
