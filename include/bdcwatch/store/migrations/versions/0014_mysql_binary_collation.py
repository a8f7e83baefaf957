"""MySQL/MariaDB supervision_db compares text exactly (CONTRACT §5)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 01:30:00

The servers' default collations (``utf8mb4_general_ci``, ``utf8mb4_unicode_ci``) fold
letter case and some accents: source keys ``zs9f3a`` and ``ZS9F3A`` were one staging row
there (the second overwrote the first), and a staff id or certificate number compared
equal to its other-case twin, where PostgreSQL and SQLite keep them apart. The database's
default and every table are converted to ``utf8mb4_bin`` (``store.migrate.MYSQL_COLLATION``).
Other engines: nothing to do.

Converting rebuilds each table (MariaDB copies it): on a large supervision_db, run the
upgrade in a maintenance window (docs/deploy.md). A staging table holding keys that differ
only in case had one row for both; the next full scan loads both.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

BINARY = "utf8mb4_bin"  # store.migrate.MYSQL_COLLATION, frozen as this revision wrote it
FOLDING = "utf8mb4_unicode_ci"  # what 0001-0013 created on a database switched by bdcwatch


def _convert(collation: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "mysql":
        return
    name = bind.execute(sa.text("SELECT DATABASE()")).scalar_one()
    bind.execute(sa.text(f"ALTER DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE {collation}"))
    tables = bind.execute(sa.text(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
        "AND TABLE_TYPE = 'BASE TABLE' AND (TABLE_COLLATION IS NULL OR TABLE_COLLATION <> :c)"), {"c": collation}
    ).scalars().all()
    for table in tables:
        bind.execute(sa.text(f"ALTER TABLE `{table}` CONVERT TO CHARACTER SET utf8mb4 COLLATE {collation}"))


def upgrade() -> None:
    _convert(BINARY)


def downgrade() -> None:
    _convert(FOLDING)
