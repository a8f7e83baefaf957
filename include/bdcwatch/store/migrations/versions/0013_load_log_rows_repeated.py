"""load_log counts the rows a load read twice exactly (CONTRACT §5, a source table
without a primary key)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 01:00:00

``load_log.rows_repeated``: rows that repeat, value for value, a row the same load read
earlier under the same key (a vendor's table or view without a primary key, a replication
that applied a change twice). They are staged once and counted here, so the load's counts
add up (read = loaded + quarantined + repeated). Rows sharing a key with different values
are quarantined instead (``sources.reasons.KEY_UNIQUE``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("load_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rows_repeated", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("load_log", schema=None) as batch_op:
        batch_op.drop_column("rows_repeated")
