"""finding_escalation: overdue findings escalated to supervisors, once per month

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "finding_escalation",
        sa.Column("finding_id", sa.Integer(), sa.ForeignKey("finding.id"), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("supervisor", sa.String(length=40), nullable=False),
        sa.Column("outbox_id", sa.Integer(), sa.ForeignKey("outbox.id"), nullable=False),
        sa.Column("escalated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("finding_id", "period"),
    )


def downgrade() -> None:
    op.drop_table("finding_escalation")
