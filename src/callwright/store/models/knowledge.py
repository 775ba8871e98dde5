"""Knowledge bases: documents, their searchable chunks and the index generation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from callwright.store.base import Base, BigIntPK, JsonDocument, UtcDateTime, utcnow

__all__ = ["KnowledgeBase", "KnowledgeChunk", "KnowledgeDocument"]


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
