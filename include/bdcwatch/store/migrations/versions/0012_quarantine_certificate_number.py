"""the normalized certificate number of a quarantined certificate or e-certificate row

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 21:30:00

``quarantine.bdcqzh_norm``: for a held BDC_ZS or BDC_DZZZ_ZZXX row, its BDCQZH
normalized as staging normalizes it (CONTRACT §5). A row held back is still in the
source: the e-certificate rules must not report its counterpart as having no match
(ECERT_MISSING for a certificate whose e-certificate is held, ECERT_ORPHAN for an
e-certificate whose certificate is held), which would blame the unit for a data defect
already reported to operations. Entries held before this revision get the number the
next time their row is read (every load re-holds a row that still fails).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("quarantine") as batch:
        batch.add_column(sa.Column("bdcqzh_norm", sa.String(120), nullable=True))
    op.create_index("ix_quarantine_bdcqzh", "quarantine", ["bdcqzh_norm", "source_table", "resolved_at"])


def downgrade() -> None:
    op.drop_index("ix_quarantine_bdcqzh", table_name="quarantine")
    with op.batch_alter_table("quarantine") as batch:
        batch.drop_column("bdcqzh_norm")
