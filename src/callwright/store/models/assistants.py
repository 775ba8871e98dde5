"""Assistants and the stored function tools they reference by id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from callwright.store.base import Base, BigIntPK, JsonDocument, UtcDateTime, utcnow

__all__ = ["Assistant", "Tool"]


class Assistant(Base):
    """An assistant. Identity and scope are columns; the settings are one JSON document
    validated by ``domain.assistants.schemas`` (secrets inside it are encrypted)."""

    __tablename__ = "assistants"
    __table_args__ = (
        Index("ix_assistants_org_created", "organization_id", "created_at"),
        Index(
            "uq_assistants_org_external_id",
            "organization_id",
            "external_id",
            unique=True,
            sqlite_where=text("deleted_at IS NULL AND external_id IS NOT NULL"),
            postgresql_where=text("deleted_at IS NULL AND external_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    external_id: Mapped[str | None] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    config: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    # The number of its newest version (``AssistantVersion``); 0 before the first.
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Tool(Base):
    """A stored custom function tool (Vapi's function-tool object) that assistants
    reference by id (``tool_ids``). ``name`` is the function name, unique among an
    organization's live tools; ``config`` is the whole tool, secrets encrypted."""

    __tablename__ = "tools"
    __table_args__ = (
        Index("ix_tools_org_created", "organization_id", "created_at"),
        Index(
            "uq_tools_org_name",
            "organization_id",
            "name",
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
    name: Mapped[str] = mapped_column(String(64))
    config: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
