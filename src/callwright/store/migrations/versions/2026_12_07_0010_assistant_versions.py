"""assistant versions: every change to an assistant stored, and the version a call ran

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 17:30:00.000000
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_COLUMN_FIELDS = ("name", "description", "is_active", "external_id")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _big_pk() -> sa.types.TypeEngine[Any]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("assistants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assistant_version", sa.Integer(), nullable=True))
    versions = op.create_table(
        "assistant_versions",
        sa.Column("id", _big_pk(), nullable=False),
        sa.Column("organization_id", _big_pk(), nullable=False),
        sa.Column("assistant_id", _big_pk(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("restored_from", sa.Integer(), nullable=True),
        sa.Column("user_id", _big_pk(), nullable=True),
        sa.Column("api_key_id", _big_pk(), nullable=True),
        sa.Column("auth_method", sa.String(length=16), nullable=True),
        sa.Column("settings", _json(), nullable=False),
        sa.Column("changes", _json(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_assistant_versions_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["assistant_id"],
            ["assistants.id"],
            name=op.f("fk_assistant_versions_assistant_id_assistants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_assistant_versions_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_assistant_versions_api_key_id_api_keys"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistant_versions")),
        sa.UniqueConstraint(
            "assistant_id", "number", name="uq_assistant_versions_assistant_number"
        ),
    )
    # Assistants made before versions existed start at version 1, as they are now.
    assistants = sa.table(
        "assistants",
        sa.column("id", sa.BigInteger()),
        sa.column("organization_id", sa.BigInteger()),
        sa.column("user_id", sa.BigInteger()),
        sa.column("name", sa.String()),
        sa.column("description", sa.Text()),
        sa.column("is_active", sa.Boolean()),
        sa.column("external_id", sa.String()),
        sa.column("config", _json()),
        sa.column("updated_at", sa.DateTime(timezone=True)),
        sa.column("version", sa.Integer()),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(assistants)).mappings().all()
    for row in rows:
        document = {**dict(row["config"] or {}), **{f: row[f] for f in _COLUMN_FIELDS}}
        bind.execute(
            versions.insert().values(
                organization_id=row["organization_id"],
                assistant_id=row["id"],
                number=1,
                action="create",
                user_id=row["user_id"],
                settings=document,
                changes=[],
                created_at=row["updated_at"],
            )
        )
    if rows:
        bind.execute(sa.update(assistants).values(version=1))


def downgrade() -> None:
    op.drop_table("assistant_versions")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("assistant_version")
    with op.batch_alter_table("assistants", schema=None) as batch_op:
        batch_op.drop_column("version")
