"""test suites per assistant: tests, runs and each test's result

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 18:00:00.000000
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _big_pk() -> sa.types.TypeEngine[Any]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.id"],
        name=op.f(f"fk_{table}_{column}_{target}"),
        ondelete=ondelete,
    )


def upgrade() -> None:
    op.create_table(
        "assistant_tests",
        sa.Column("id", _big_pk(), nullable=False),
        sa.Column("organization_id", _big_pk(), nullable=False),
        sa.Column("assistant_id", _big_pk(), nullable=False),
        sa.Column("user_id", _big_pk(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("definition", _json(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _fk("assistant_tests", "organization_id", "organizations", "CASCADE"),
        _fk("assistant_tests", "assistant_id", "assistants", "CASCADE"),
        _fk("assistant_tests", "user_id", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistant_tests")),
    )
    op.create_index("ix_assistant_tests_assistant", "assistant_tests", ["assistant_id", "id"])
    op.create_table(
        "test_runs",
        sa.Column("id", _big_pk(), nullable=False),
        sa.Column("organization_id", _big_pk(), nullable=False),
        sa.Column("assistant_id", _big_pk(), nullable=False),
        sa.Column("assistant_version", sa.Integer(), nullable=False),
        sa.Column("user_id", _big_pk(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("overrides", _json(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _fk("test_runs", "organization_id", "organizations", "CASCADE"),
        _fk("test_runs", "assistant_id", "assistants", "CASCADE"),
        _fk("test_runs", "user_id", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_runs")),
    )
    op.create_index("ix_test_runs_assistant", "test_runs", ["assistant_id", "id"])
    op.create_index("ix_test_runs_due", "test_runs", ["status", "locked_until"])
    op.create_table(
        "test_results",
        sa.Column("id", _big_pk(), nullable=False),
        sa.Column("run_id", _big_pk(), nullable=False),
        sa.Column("test_id", _big_pk(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("definition", _json(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("transcript", _json(), nullable=False),
        sa.Column("tool_calls", _json(), nullable=False),
        sa.Column("turns", _json(), nullable=False),
        sa.Column("providers", _json(), nullable=False),
        sa.Column("verdicts", _json(), nullable=False),
        sa.Column("end_reason", sa.String(length=64), nullable=True),
        sa.Column("recording_key", sa.String(length=200), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        _fk("test_results", "run_id", "test_runs", "CASCADE"),
        _fk("test_results", "test_id", "assistant_tests", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_results")),
    )
    op.create_index("ix_test_results_run", "test_results", ["run_id", "position"])


def downgrade() -> None:
    op.drop_index("ix_test_results_run", table_name="test_results")
    op.drop_table("test_results")
    op.drop_index("ix_test_runs_due", table_name="test_runs")
    op.drop_index("ix_test_runs_assistant", table_name="test_runs")
    op.drop_table("test_runs")
    op.drop_index("ix_assistant_tests_assistant", table_name="assistant_tests")
    op.drop_table("assistant_tests")
