"""Tables. Relationships are not mapped: repositories join explicitly, so no query
is ever issued implicitly by touching an attribute."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from callwright.store.base import Base, BigIntPK, JsonDocument, UtcDateTime, utcnow
from callwright.store.call_status import CallStatus

__all__ = [
    "ApiKey",
    "Assistant",
    "AuthSession",
    "Call",
    "KnowledgeBase",
    "KnowledgeChunk",
    "KnowledgeDocument",
    "Organization",
    "PhoneNumber",
    "ProviderCredential",
    "Tool",
    "User",
    "WebhookDelivery",
    "WebhookEvent",
]


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # The secret that signs this organization's webhooks and tool calls, encrypted;
    # None until first rotated (then it is derived from the server's secret key).
    signing_secret: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ApiKey(Base):
    """An API key: only its SHA-256 is stored; ``prefix`` is shown to tell keys apart."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # "organization": sees the whole organization; "user": only its user's resources.
    scope: Mapped[str] = mapped_column(String(20), default="organization")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AuthSession(Base):
    """A dashboard login (the ``auth-token`` cookie); tokens are stored hashed."""

    __tablename__ = "auth_sessions"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


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


class Call(Base):
    """One call and, once it ends, its whole record. Written at start, on status
    changes and at the end, never per frame. ``stream_nonce`` makes the carrier's
    media-stream token single-use: connecting clears it."""

    __tablename__ = "calls"
    __table_args__ = (
        Index("ix_calls_org_created", "organization_id", "created_at"),
        Index("ix_calls_org_assistant", "organization_id", "assistant_id"),
        Index("ix_calls_provider_call_id", "provider_call_id"),
        Index("ix_calls_status", "status"),
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
    turns: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument)
    usage: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    providers: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument)
    recording_key: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class WebhookEvent(Base):
    """The durable outbox: one row per event to deliver, written in the same
    transaction as the change it reports; a worker delivers it with back-off.
    ``event_id`` is the id receivers de-duplicate on."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        Index("ix_webhook_events_due", "status", "next_attempt_at"),
        Index("ix_webhook_events_org_created", "organization_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    call_id: Mapped[int | None] = mapped_column(
        ForeignKey("calls.id", ondelete="SET NULL"), index=True
    )
    event_type: Mapped[str] = mapped_column(String(40))
    url: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    # "pending" | "delivered" | "failed" (gave up after the last retry)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class WebhookDelivery(Base):
    """One delivery attempt of a webhook event: the delivery log."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    webhook_event_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_events.id", ondelete="CASCADE"), index=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class KnowledgeBase(Base):
    """One per assistant with documents: ``generation`` is bumped in the same
    transaction as every change to the assistant's searchable chunks, so each process
    knows when its in-memory vector index is stale (one primary-key read per search)."""

    __tablename__ = "knowledge_bases"

    assistant_id: Mapped[int] = mapped_column(
        ForeignKey("assistants.id", ondelete="CASCADE"), primary_key=True
    )
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    generation: Mapped[int] = mapped_column(BigInteger, default=0)
    # When the documents were last compared with the assistant's rag_settings.
    reconciled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class KnowledgeDocument(Base):
    """A document of an assistant's knowledge base: the original bytes (so it can be
    re-processed when the chunking or embedding settings change), its processing
    status, and the settings its current chunks were made with. ``claim_token`` and
    ``lease_until`` let one worker, in any process, own its processing at a time."""

    __tablename__ = "knowledge_documents"
    __table_args__ = (
        Index("ix_knowledge_documents_assistant_created", "assistant_id", "created_at"),
        Index("ix_knowledge_documents_due", "status", "queued_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    assistant_id: Mapped[int] = mapped_column(ForeignKey("assistants.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    # "upload" | "url" | "text"
    source: Mapped[str] = mapped_column(String(8))
    url: Mapped[str | None] = mapped_column(Text)
    # "txt" | "md" | "html" | "pdf" | "docx" | "csv" | "json"
    format: Mapped[str | None] = mapped_column(String(8))
    content_type: Mapped[str | None] = mapped_column(String(200))
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    sha256: Mapped[str | None] = mapped_column(String(64))
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    # "pending" | "processing" | "ready" | "failed"
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    char_count: Mapped[int] = mapped_column(Integer, default=0)
    # What the current chunks were made with: {"embedding_model", "chunking_strategy",
    # "chunk_size", "chunk_overlap"}; empty until first processed.
    processed_with: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Set when processing is wanted (on upload with auto_process, or on demand); a
    # pending document without it waits for ``POST .../process``.
    queued_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class KnowledgeChunk(Base):
    """A searchable piece of a document: its text, where it came from (``meta``:
    offsets, page, heading), its size in tokens, and its vector (little-endian float32)
    with the model that made it. Ids are never reused (AUTOINCREMENT on SQLite), so an
    index keyed by id cannot confuse a new chunk with a deleted one."""

    __tablename__ = "knowledge_chunks"
    __table_args__ = (
        Index("ix_knowledge_chunks_assistant_model", "assistant_id", "embedding_model"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("knowledge_documents.id", ondelete="CASCADE"), index=True
    )
    assistant_id: Mapped[int] = mapped_column(ForeignKey("assistants.id", ondelete="CASCADE"))
    ordinal: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    token_count: Mapped[int] = mapped_column(Integer)
    embedding_model: Mapped[str] = mapped_column(String(64))
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
