"""finding.subject_shown: the subject as every output shows it, for the subject search;
DUTY_MISSED keyed per unit

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 09:00:00

The ledger's subject search (``q``) matched the raw ``subject_id``, which the pages show
masked when it holds an ID number (a 工单编号 typed as someone's 身份证号, a staff member
keyed by it): a substring search over the hidden middle spelled the number out digit by
digit (CONTRACT §6). ``subject_shown`` holds the masked form where it differs from the
subject (NULL: shown as written) and the search reads ``COALESCE(subject_shown,
subject_id)``. Existing rows are filled here with the masker of the engine that runs the
migration (a derived display form: a later, stricter masker only hides more); the engine
keeps it current on every detection.

DUTY_MISSED findings are keyed per unit (``<duty>@<unit>``): one row stood for every
unit's miss of a duty (``_duty_subjects``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

BATCH = 5000


def upgrade() -> None:
    from bdcwatch.standards.masking import mask_id_numbers

    op.add_column("finding", sa.Column("subject_shown", sa.String(100), nullable=True))
    conn = op.get_bind()
    _duty_subjects(conn)
    finding = sa.table("finding", sa.column("id", sa.Integer), sa.column("subject_id", sa.String),
                       sa.column("subject_shown", sa.String))
    last = 0
    while True:
        rows = conn.execute(sa.select(finding.c.id, finding.c.subject_id).where(finding.c.id > last)
                            .order_by(finding.c.id).limit(BATCH)).all()
        if not rows:
            break
        last = rows[-1].id
        masked = [{"row_id": r.id, "shown": shown} for r in rows
                  if (shown := mask_id_numbers(r.subject_id or "")) != (r.subject_id or "")]
        if masked:
            conn.execute(sa.update(finding).where(finding.c.id == sa.bindparam("row_id"))
                         .values(subject_shown=sa.bindparam("shown")), masked)


def _duty_subjects(conn: sa.Connection) -> None:
    """DUTY_MISSED was keyed by the duty's code alone: every unit's miss of a duty was one
    row, left with the unit of the last one recorded. That row becomes the finding of that
    unit (``<duty>@<unit>``, as ``ledger.duties.duty_subject`` writes it); the other units'
    are recorded afresh by the next daily check."""
    finding = sa.table("finding", sa.column("id", sa.Integer), sa.column("rule_code", sa.String),
                       sa.column("subject_id", sa.String), sa.column("unit_code", sa.String),
                       sa.column("period", sa.String), sa.column("fingerprint", sa.String))
    rows = conn.execute(sa.select(finding.c.id, finding.c.subject_id, finding.c.unit_code, finding.c.period)
                        .where(finding.c.rule_code == "DUTY_MISSED", finding.c.unit_code.is_not(None))).all()
    keyed = [{"row_id": r.id, "subject": f"{r.subject_id}@{r.unit_code}",
              "fp": f"DUTY_MISSED|{r.subject_id}@{r.unit_code}|{r.period or ''}"}
             for r in rows if "@" not in r.subject_id]
    if keyed:
        conn.execute(sa.update(finding).where(finding.c.id == sa.bindparam("row_id"))
                     .values(subject_id=sa.bindparam("subject"), fingerprint=sa.bindparam("fp")), keyed)


def downgrade() -> None:
    op.drop_column("finding", "subject_shown")
