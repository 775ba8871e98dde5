"""post-call analysis: the call's analysis and the jobs that make it

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 15:00:00.000000
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _big_pk() -> sa.types.TypeEngine[Any]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("analysis", _json(), nullable=True))
    op.create_table(
        "analysis_jobs",
        sa.Column("id", _big_pk(), nullable=False),
        sa.Column("organization_id", _big_pk(), nullable=False),
        sa.Column("call_id", _big_pk(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["calls.id"],
            name=op.f("fk_analysis_jobs_call_id_calls"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_analysis_jobs_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_jobs")),
        sa.UniqueConstraint("call_id", name=op.f("uq_analysis_jobs_call_id")),
    )
    op.create_index("ix_analysis_jobs_due", "analysis_jobs", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_analysis_jobs_due", table_name="analysis_jobs")
    op.drop_table("analysis_jobs")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("analysis")
