"""ledger indexes for the operations UI: filtered pages and counts of the problem ledger

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 21:00:00

The ledger page and ``GET /bdcwatch/api/findings`` (CONTRACT §7) filter by unit, rule,
severity, status, overdue (an open status and due_date before today) and period, newest
(highest id) first, and count the matches; at 200,000 findings each must stay well under
200 ms (benchmarks/ledger_api.py). Each filter column leads an index followed by status
and due_date, so a filter, with or without "overdue", and its count are a range of one
index read without touching the table; the page's ids come from the same index (SQLite and
InnoDB keep the primary key in every index; PostgreSQL gets it as an INCLUDE column). The
unit index of 0001 (unit_code, status) is widened the same way.

``q`` (a substring of the subject id) cannot use a B-tree: on PostgreSQL a trigram index
(``pg_trgm``, a trusted extension the database owner may create) answers it; where the
extension cannot be created, and on SQLite and MySQL, a narrow index on subject_id lets the
scan read the index instead of the table.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_finding_unit_status": ["unit_code", "status", "due_date"],
    "ix_finding_status_due": ["status", "due_date"],
    "ix_finding_rule_status": ["rule_code", "status", "due_date"],
    "ix_finding_severity_status": ["severity", "status", "due_date"],
    "ix_finding_period_status": ["period", "status", "due_date"],
}


def _trigram_available(bind: sa.Connection) -> bool:
    try:
        with bind.begin_nested():  # a refused CREATE EXTENSION must not abort the migration
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        return True
    except sa.exc.DBAPIError:
        return False


def upgrade() -> None:
    bind = op.get_bind()
    op.drop_index("ix_finding_unit_status", table_name="finding")
    for name, columns in INDEXES.items():
        op.create_index(name, "finding", columns, postgresql_include=["id"])
    if bind.dialect.name == "postgresql" and _trigram_available(bind):
        op.create_index("ix_finding_subject", "finding", ["subject_id"], postgresql_using="gin",
                        postgresql_ops={"subject_id": "gin_trgm_ops"})
    else:
        op.create_index("ix_finding_subject", "finding", ["subject_id"])


def downgrade() -> None:
    op.drop_index("ix_finding_subject", table_name="finding")
    for name in INDEXES:
        op.drop_index(name, table_name="finding")
    op.create_index("ix_finding_unit_status", "finding", ["unit_code", "status"])
