"""campaigns: batches of outbound calls, their recipients, the do-not-call list

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 14:40:00.000000
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", _ID, nullable=False),
        sa.Column("organization_id", _ID, nullable=False),
        sa.Column("user_id", _ID, nullable=True),
        sa.Column("created_by_scope", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("assistant_id", _ID, nullable=True),
        sa.Column("phone_number_ids", _json(), nullable=False),
        sa.Column("calling_window", _json(), nullable=False),
        sa.Column("default_timezone", sa.String(length=64), nullable=True),
        sa.Column("max_concurrency", sa.Integer(), nullable=False),
        sa.Column("retry_policy", _json(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("dials", sa.Integer(), nullable=False),
        _timestamp("started_at", nullable=True),
        _timestamp("finished_at", nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _timestamp("deleted_at", nullable=True),
        _fk("campaigns", "organization_id", "organizations", "CASCADE"),
        _fk("campaigns", "user_id", "users", "SET NULL"),
        _fk("campaigns", "assistant_id", "assistants", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_index("ix_campaigns_org_created", "campaigns", ["organization_id", "created_at"])
    op.create_index("ix_campaigns_status", "campaigns", ["status"])
    op.create_index(op.f("ix_campaigns_user_id"), "campaigns", ["user_id"])

    op.create_table(
        "campaign_recipients",
        sa.Column("id", _ID, nullable=False),
        sa.Column("campaign_id", _ID, nullable=False),
        sa.Column("organization_id", _ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("variables", _json(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("retries", _json(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        _timestamp("next_attempt_at", nullable=True),
        _timestamp("lease_until", nullable=True),
        sa.Column("call_id", _ID, nullable=True),
        sa.Column("call_ids", _json(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _fk("campaign_recipients", "campaign_id", "campaigns", "CASCADE"),
        _fk("campaign_recipients", "organization_id", "organizations", "CASCADE"),
        _fk("campaign_recipients", "call_id", "calls", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_recipients")),
        sa.UniqueConstraint(
            "campaign_id", "number", name=op.f("uq_campaign_recipients_campaign_id")
        ),
    )
    op.create_index(
        "ix_campaign_recipients_due",
        "campaign_recipients",
        ["campaign_id", "status", "next_attempt_at"],
    )

    op.create_table(
        "do_not_call_numbers",
        sa.Column("id", _ID, nullable=False),
        sa.Column("organization_id", _ID, nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        _timestamp("created_at"),
        _fk("do_not_call_numbers", "organization_id", "organizations", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_do_not_call_numbers")),
        sa.UniqueConstraint(
            "organization_id", "number", name=op.f("uq_do_not_call_numbers_organization_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("do_not_call_numbers")
    op.drop_index("ix_campaign_recipients_due", table_name="campaign_recipients")
    op.drop_table("campaign_recipients")
    op.drop_index(op.f("ix_campaigns_user_id"), table_name="campaigns")
    op.drop_index("ix_campaigns_status", table_name="campaigns")
    op.drop_index("ix_campaigns_org_created", table_name="campaigns")
    op.drop_table("campaigns")
