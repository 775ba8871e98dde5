"""calls: the assistant's metadata and custom_settings as the call ran with them

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 15:00:00.000000
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        # Empty for the calls made before this column: nothing was remembered then.
        batch_op.add_column(
            sa.Column("assistant_context", _json(), nullable=False, server_default=sa.text("'{}'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("assistant_context")
