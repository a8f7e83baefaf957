"""ledger indexes for the operations UI: filtered pages and counts of the problem ledger

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 21:00:00

The ledger page and ``GET /bdcwatch/api/findings`` (CONTRACT §7) filter by unit, rule,
severity, status, overdue (an open status and due_date before today) and period, newest
(highest id) first, and count the matches. Each index leads with one filter column and
then status, so a filter and its count are an index range; the page itself is an
index-only walk of ids (``ledger.query``). The unit index (unit_code, status) exists
since 0001.
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_finding_status_due": ["status", "due_date"],
    "ix_finding_rule_status": ["rule_code", "status"],
    "ix_finding_severity_status": ["severity", "status"],
    "ix_finding_period_status": ["period", "status"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "finding", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="finding")
