"""outbox claims: a message is claimed (sending) before the relay is asked, so a sender
killed mid-send leaves it in doubt (unconfirmed) instead of sending it twice; operator
resends are recorded

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 04:00:00

New statuses 'sending' and 'unconfirmed' fit the existing String(12) column.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim_token", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("resend_log", sa.Text(), nullable=True))


def downgrade() -> None:
    # The old sender knows pending, sent and failed only; an in-doubt message must not be
    # picked up again by it, so it is kept out of 'pending'.
    op.execute("UPDATE outbox SET status = 'failed' WHERE status IN ('sending', 'unconfirmed')")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("resend_log")
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("claim_token")
