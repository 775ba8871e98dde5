"""knowledge bases: documents, chunks with their vectors, a generation per assistant

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 05:40:00.000000
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.id"],
        name=op.f(f"fk_{table}_{column}_{target}"),
        ondelete=ondelete,
    )


def upgrade() -> None:
    op.create_table(
        "knowledge_bases",
        sa.Column("assistant_id", _ID, nullable=False),
        sa.Column("organization_id", _ID, nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        _timestamp("reconciled_at", nullable=True),
        _timestamp("updated_at"),
        _fk("knowledge_bases", "assistant_id", "assistants", "CASCADE"),
        _fk("knowledge_bases", "organization_id", "organizations", "CASCADE"),
        sa.PrimaryKeyConstraint("assistant_id", name=op.f("pk_knowledge_bases")),
    )

    op.create_table(
        "knowledge_documents",
        sa.Column("id", _ID, nullable=False),
        sa.Column("organization_id", _ID, nullable=False),
        sa.Column("assistant_id", _ID, nullable=False),
        sa.Column("user_id", _ID, nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("format", sa.String(length=8), nullable=True),
        sa.Column("content_type", sa.String(length=200), nullable=True),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("char_count", sa.Integer(), nullable=False),
        sa.Column("processed_with", _json(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _timestamp("queued_at", nullable=True),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        _timestamp("lease_until", nullable=True),
        _timestamp("processed_at", nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _fk("knowledge_documents", "assistant_id", "assistants", "CASCADE"),
        _fk("knowledge_documents", "organization_id", "organizations", "CASCADE"),
        _fk("knowledge_documents", "user_id", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_documents")),
    )
    op.create_index(
        "ix_knowledge_documents_assistant_created",
        "knowledge_documents",
        ["assistant_id", "created_at"],
    )
    op.create_index("ix_knowledge_documents_due", "knowledge_documents", ["status", "queued_at"])
    op.create_index(op.f("ix_knowledge_documents_user_id"), "knowledge_documents", ["user_id"])

    op.create_table(
        "knowledge_chunks",
        sa.Column("id", _ID, nullable=False),
        sa.Column("document_id", _ID, nullable=False),
        sa.Column("assistant_id", _ID, nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("meta", _json(), nullable=False),
        sa.Column("token_count", sa.Integer(), nullable=False),
        sa.Column("embedding_model", sa.String(length=64), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        _fk("knowledge_chunks", "assistant_id", "assistants", "CASCADE"),
        _fk("knowledge_chunks", "document_id", "knowledge_documents", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_chunks")),
        # Ids are never reused, so an in-memory index keyed by id stays truthful.
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_knowledge_chunks_assistant_model",
        "knowledge_chunks",
        ["assistant_id", "embedding_model"],
    )
    op.create_index(op.f("ix_knowledge_chunks_document_id"), "knowledge_chunks", ["document_id"])


def downgrade() -> None:
    op.drop_table("knowledge_chunks")
    op.drop_table("knowledge_documents")
    op.drop_table("knowledge_bases")
