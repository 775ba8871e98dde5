"""calls: the scope of the principal that placed the call, and the stored tools it
could not use

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 09:00:00.000000
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        # NULL for the calls placed before this column: they are treated as inbound
        # calls (the assistant's organization decides), as no principal is known.
        batch_op.add_column(sa.Column("placed_by_scope", sa.String(length=20), nullable=True))
        batch_op.add_column(
            sa.Column("tools_left_out", _json(), nullable=False, server_default=sa.text("'[]'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("tools_left_out")
        batch_op.drop_column("placed_by_scope")
