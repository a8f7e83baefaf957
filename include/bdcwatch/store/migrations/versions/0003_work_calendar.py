"""working-day calendar table for deadline joins; case time indexes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 00:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "work_calendar",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("is_workday", sa.SmallInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("next_seq", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_index("ix_work_calendar_seq", "work_calendar", ["seq", "is_workday"])
    op.create_index("ix_stg_djt_dj_sl_slsj", "stg_djt_dj_sl", ["slsj"])
    op.create_index("ix_stg_djt_dj_sl_jssj", "stg_djt_dj_sl", ["jssj"])
    op.create_index("ix_stg_djt_dj_sl_djjg_slsj", "stg_djt_dj_sl", ["djjg", "slsj"])


def downgrade() -> None:
    op.drop_index("ix_stg_djt_dj_sl_djjg_slsj", table_name="stg_djt_dj_sl")
    op.drop_index("ix_stg_djt_dj_sl_jssj", table_name="stg_djt_dj_sl")
    op.drop_index("ix_stg_djt_dj_sl_slsj", table_name="stg_djt_dj_sl")
    op.drop_index("ix_work_calendar_seq", table_name="work_calendar")
    op.drop_table("work_calendar")
