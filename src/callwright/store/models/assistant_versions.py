"""Assistant versions: every create, update and restore of an assistant stores one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from callwright.store.base import Base, BigIntPK, JsonDocument, UtcDateTime, utcnow

__all__ = ["AssistantVersion"]


class AssistantVersion(Base):
    """One version of an assistant: the whole settings document as it was stored
    (secrets still encrypted, identity columns included), who wrote it and the JSON
    paths that changed from the version before. ``number`` counts from 1 per
    assistant; the assistant row's ``version`` is its newest."""

    __tablename__ = "assistant_versions"
    __table_args__ = (
        UniqueConstraint("assistant_id", "number", name="uq_assistant_versions_assistant_number"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    assistant_id: Mapped[int] = mapped_column(ForeignKey("assistants.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    # "create" | "update" | "restore"
    action: Mapped[str] = mapped_column(String(16))
    restored_from: Mapped[int | None] = mapped_column(Integer)
    # Who: the principal's user, its API key (None for a dashboard session), its method.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))
    auth_method: Mapped[str | None] = mapped_column(String(16))
    settings: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    # [{"path": "llm_settings.temperature", "change": "changed"|"added"|"removed"}]
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
