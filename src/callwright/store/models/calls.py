"""Calls and, once they end, their records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Enum, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from callwright.store.base import Base, BigIntPK, JsonDocument, UtcDateTime, utcnow
from callwright.store.call_status import CallStatus

__all__ = ["Call"]


class Call(Base):
    """One call and, once it ends, its whole record. Written at start, on status
    changes and at the end, never per frame. ``stream_nonce`` makes the carrier's
    media-stream token single-use: connecting clears it. ``node_id`` names the
    process holding the call (``Node``)."""

    __tablename__ = "calls"
    __table_args__ = (
        Index("ix_calls_org_created", "organization_id", "created_at"),
        Index("ix_calls_org_assistant", "organization_id", "assistant_id"),
        Index("ix_calls_provider_call_id", "provider_call_id"),
        Index("ix_calls_status", "status"),
        Index("ix_calls_node_id", "node_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    # Who placed it (API calls) or who owns the assistant (inbound): user-scoped keys
    # see only their own calls.
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # With user_id, the principal that placed an API call: "organization" | "user" (the
    # key's scope). None for inbound calls, which no principal placed. At call time the
    # assistant's stored tools must be readable by that principal.
    placed_by_scope: Mapped[str | None] = mapped_column(String(20))
    assistant_id: Mapped[int | None] = mapped_column(
        ForeignKey("assistants.id", ondelete="SET NULL")
    )
    phone_number_id: Mapped[int | None] = mapped_column(
        ForeignKey("phone_numbers.id", ondelete="SET NULL"), index=True
    )
    # "inboundPhoneCall" | "outboundPhoneCall" | "webCall" (Vapi's call types)
    type: Mapped[str] = mapped_column(String(24))
    # VARCHAR(16) holding the enum's values, as before it was one: no CHECK, no type.
    status: Mapped[CallStatus] = mapped_column(
        Enum(
            CallStatus,
            native_enum=False,
            create_constraint=False,
            length=16,
            values_callable=lambda statuses: [status.value for status in statuses],
        )
    )
    from_number: Mapped[str | None] = mapped_column(String(32))
    to_number: Mapped[str | None] = mapped_column(String(32))
    provider_call_id: Mapped[str | None] = mapped_column(String(64))
    stream_nonce: Mapped[str | None] = mapped_column(String(64))
    # The node (server process) holding the call: the one that issued it until its
    # stream connects, then the one holding the stream. NULL only for calls older than
    # the column; they belong to no live node.
    node_id: Mapped[str | None] = mapped_column(String(64))
    variables: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    overrides: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    end_reason: Mapped[str | None] = mapped_column(String(64))
    end_detail: Mapped[str | None] = mapped_column(Text)
    # The record: [{role, text, at, interrupted, ...}], tool calls, per-turn timings,
    # provider usage and which provider served each kind.
    messages: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument)
    tool_calls: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument)
    # Knowledge-base retrieval per caller turn: the query and the passages used.
    knowledge: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument, default=list)
    # The assistant's stored tools (tool_ids) this call could not use, and why:
    # [{tool_id, reason}], written when the call starts.
    tools_left_out: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument, default=list)
    # The assistant as the call ran it (overrides merged): {name, metadata,
    # custom_settings}, for the record and every webhook; written when the call starts
    # (or ends unanswered).
    assistant_context: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)
    turns: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument)
    usage: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    providers: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument)
    recording_key: Mapped[str | None] = mapped_column(String(300))
    # The post-call analysis: {summary, structured_data, success_evaluation, status,
    # error}; None when the assistant has no analysis_plan.
    analysis: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
    # The assistant version the call ran (``AssistantVersion.number``), set as it starts.
    assistant_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
