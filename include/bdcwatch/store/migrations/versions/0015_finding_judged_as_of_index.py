"""an index on finding.judged_as_of

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 01:45:00

The KPI page and the monthly ranking ask, per month, whether bdcwatch checked it at all
(``reports.kpis.month_checked``: a finding judged on data of that month). For a month never
checked the question scanned the whole ledger (tens of ms at 200,000 findings, asked for
seven months a page); with the index it is one range probe.
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_finding_judged_as_of", "finding", ["judged_as_of"])


def downgrade() -> None:
    op.drop_index("ix_finding_judged_as_of", table_name="finding")
