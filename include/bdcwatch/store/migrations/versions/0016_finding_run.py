"""finding_run: which findings each run detected

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 05:10:00

A run's reports read the findings it detected (the watch list, the 六不准 report's case
counts, the city report). They were the findings whose ``last_run_id`` is the run's, which
a later run detecting the same findings overwrites: a compose task retried after the next
day's run (an Airflow clear) found its own findings gone and sent an empty list. One row per
run and finding, written with the upsert in the same transaction, kept 60 days
(``ledger.findings.RUN_RECORD_DAYS``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "finding_run",
        sa.Column("run_id", sa.String(250), primary_key=True),
        sa.Column("finding_id", sa.Integer(), sa.ForeignKey("finding.id"), primary_key=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_finding_run_recorded_at", "finding_run", ["recorded_at"])
    op.create_index("ix_finding_run_finding", "finding_run", ["finding_id"])


def downgrade() -> None:
    op.drop_index("ix_finding_run_finding", table_name="finding_run")
    op.drop_index("ix_finding_run_recorded_at", table_name="finding_run")
    op.drop_table("finding_run")
