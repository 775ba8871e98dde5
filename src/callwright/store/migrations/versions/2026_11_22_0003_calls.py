"""calls, phone numbers, provider credentials, webhook outbox, organization signing secret

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 05:20:00.000000
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_LIVE = sa.text("deleted_at IS NULL")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signing_secret", sa.Text(), nullable=True))

    op.create_table(
        "provider_credentials",
        sa.Column("id", _ID, nullable=False),
        sa.Column("organization_id", _ID, nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("config", _json(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _timestamp("deleted_at", nullable=True),
        _fk("provider_credentials", "organization_id", "organizations", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_credentials")),
    )
    op.create_index(
        "uq_provider_credentials_org_provider",
        "provider_credentials",
        ["organization_id", "provider"],
        unique=True,
        sqlite_where=_LIVE,
        postgresql_where=_LIVE,
    )

    op.create_table(
        "phone_numbers",
        sa.Column("id", _ID, nullable=False),
        sa.Column("organization_id", _ID, nullable=False),
        sa.Column("user_id", _ID, nullable=True),
        sa.Column("assistant_id", _ID, nullable=True),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("provider_account", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("config", _json(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _timestamp("deleted_at", nullable=True),
        _fk("phone_numbers", "organization_id", "organizations", "CASCADE"),
        _fk("phone_numbers", "user_id", "users", "SET NULL"),
        _fk("phone_numbers", "assistant_id", "assistants", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_numbers")),
    )
    op.create_index(
        "ix_phone_numbers_org_created", "phone_numbers", ["organization_id", "created_at"]
    )
    op.create_index(op.f("ix_phone_numbers_user_id"), "phone_numbers", ["user_id"])
    op.create_index(op.f("ix_phone_numbers_assistant_id"), "phone_numbers", ["assistant_id"])
    op.create_index(
        "uq_phone_numbers_provider_account_number",
        "phone_numbers",
        ["provider", "provider_account", "number"],
        unique=True,
        sqlite_where=_LIVE,
        postgresql_where=_LIVE,
    )

    op.create_table(
        "calls",
        sa.Column("id", _ID, nullable=False),
        sa.Column("organization_id", _ID, nullable=False),
        sa.Column("user_id", _ID, nullable=True),
        sa.Column("assistant_id", _ID, nullable=True),
        sa.Column("phone_number_id", _ID, nullable=True),
        sa.Column("type", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("from_number", sa.String(length=32), nullable=True),
        sa.Column("to_number", sa.String(length=32), nullable=True),
        sa.Column("provider_call_id", sa.String(length=64), nullable=True),
        sa.Column("stream_nonce", sa.String(length=64), nullable=True),
        sa.Column("variables", _json(), nullable=False),
        sa.Column("overrides", _json(), nullable=False),
        _timestamp("started_at", nullable=True),
        _timestamp("ended_at", nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("end_reason", sa.String(length=64), nullable=True),
        sa.Column("end_detail", sa.Text(), nullable=True),
        sa.Column("messages", _json(), nullable=False),
        sa.Column("tool_calls", _json(), nullable=False),
        sa.Column("knowledge", _json(), nullable=False),
        sa.Column("turns", _json(), nullable=False),
        sa.Column("usage", _json(), nullable=False),
        sa.Column("providers", _json(), nullable=False),
        sa.Column("recording_key", sa.String(length=300), nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _fk("calls", "organization_id", "organizations", "CASCADE"),
        _fk("calls", "user_id", "users", "SET NULL"),
        _fk("calls", "assistant_id", "assistants", "SET NULL"),
        _fk("calls", "phone_number_id", "phone_numbers", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
    )
    op.create_index("ix_calls_org_created", "calls", ["organization_id", "created_at"])
    op.create_index("ix_calls_org_assistant", "calls", ["organization_id", "assistant_id"])
    op.create_index("ix_calls_provider_call_id", "calls", ["provider_call_id"])
    op.create_index("ix_calls_status", "calls", ["status"])
    op.create_index(op.f("ix_calls_user_id"), "calls", ["user_id"])
    op.create_index(op.f("ix_calls_phone_number_id"), "calls", ["phone_number_id"])

    op.create_table(
        "webhook_events",
        sa.Column("id", _ID, nullable=False),
        sa.Column("organization_id", _ID, nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("call_id", _ID, nullable=True),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("payload", _json(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _timestamp("next_attempt_at"),
        _timestamp("locked_until", nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        _timestamp("created_at"),
        _timestamp("delivered_at", nullable=True),
        _fk("webhook_events", "organization_id", "organizations", "CASCADE"),
        _fk("webhook_events", "call_id", "calls", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_webhook_events_event_id")),
    )
    op.create_index("ix_webhook_events_due", "webhook_events", ["status", "next_attempt_at"])
    op.create_index(
        "ix_webhook_events_org_created", "webhook_events", ["organization_id", "created_at"]
    )
    op.create_index(op.f("ix_webhook_events_call_id"), "webhook_events", ["call_id"])

    op.create_table(
        "webhook_deliveries",
        sa.Column("id", _ID, nullable=False),
        sa.Column("webhook_event_id", _ID, nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        _timestamp("created_at"),
        _fk("webhook_deliveries", "webhook_event_id", "webhook_events", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index(
        op.f("ix_webhook_deliveries_webhook_event_id"), "webhook_deliveries", ["webhook_event_id"]
    )


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_events")
    op.drop_table("calls")
    op.drop_table("phone_numbers")
    op.drop_table("provider_credentials")
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("signing_secret")
