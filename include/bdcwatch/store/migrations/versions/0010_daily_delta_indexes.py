"""indexes for daily runs whose cost follows the day's changes, not the archive (issue 13)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 00:00:00

What a daily run reads, each through an index so it reads the day's rows and not every
row of the archive (benchmarks/daily_delta.py):

* cases still 在办 (CASE_OVERDUE_OPEN, the CASE_DUE_SOON watch list): AJZT 1 by
  acceptance time (the other branch, finished only after as-of, reads the JSSJ index);
* the digests' ledger figures and six-month trend: findings first detected and closed in
  a time range;
* the digests' new findings: those not announced yet (``notified_outbox_id`` null), by DAG;
* the quarantine: the open entries (the operations notice) and a table's open entries
  (the load closes those whose row passes now).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_finding_first_detected": ("finding", ["first_detected_at"]),
    "ix_finding_closed": ("finding", ["closed_at"]),
    "ix_finding_unannounced": ("finding", ["notified_outbox_id", "dag_id"]),
    "ix_quarantine_open": ("quarantine", ["resolved_at", "source_table", "row_key"]),
    "ix_quarantine_table_open": ("quarantine", ["source_table", "resolved_at", "row_key"]),
}


OPEN_CASES = sa.text("ajzt = 1")


def upgrade() -> None:
    # Partial on SQLite and PostgreSQL: a query on completed cases (AJZT 2) must not be
    # tempted by it (SQLite plans without statistics); a plain index on MySQL/MariaDB.
    op.create_index("ix_stg_djt_dj_sl_open", "stg_djt_dj_sl", ["ajzt", "slsj"], sqlite_where=OPEN_CASES,
                    postgresql_where=OPEN_CASES)
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _columns) in INDEXES.items():
        op.drop_index(name, table_name=table)
    op.drop_index("ix_stg_djt_dj_sl_open", table_name="stg_djt_dj_sl")
