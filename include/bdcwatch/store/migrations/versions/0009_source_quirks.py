"""source quirks (issue 10, CONTRACT §5): load_log counts the blank and zero dates read
as NULL in nullable source columns

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 23:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("load_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("values_nulled", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("load_log", schema=None) as batch_op:
        batch_op.drop_column("values_nulled")
