"""the day a finding's problem happened, so the ledger can be filtered by 所属期间

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 14:00:00

``finding.occurred_on`` (DATE): the rule's ``occurred`` detail value (a certificate's
SZSJ, a case's JSSJ, a complaint's 受理时间 ...); for a rule without one, the last day of
the period judged by the run that first found it (the day before ``judged_as_of``); else
the day it was first detected. The ledger's 所属期间 filter reads it for findings
without a period label (``ledger.query.FindingFilter.within``).

Existing rows are filled here from their detail. The rule → detail key map is frozen as
of this revision on purpose: a migration must give the same result whatever the code
around it becomes (``bdcwatch.rules`` declares the same keys today; the unit test holds
the two equal).
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# rule_code -> the detail key of the date its problem happened (rules' ``occurred``).
OCCURRED_KEYS = {
    "CASE_OVERDUE": "jssj", "CASE_OVERDUE_OPEN": "deadline", "CASE_QUEUE_JUMP": "dbsj",
    "COMPLAINT": "accepted_at", "DUTY_MISSED": "deadline", "ECERT_LATE": "dbsj", "ECERT_MISSING": "szsj",
    "ECERT_NOT_REVOKED": "zxsj", "ECERT_ORPHAN": "zzbfrq", "MORTGAGE_WHILE_SEALED": "dbsj",
    "RETURN_REPEATED": "thsj", "RETURN_UNJUSTIFIED": "thsj", "REVIEW_DEFECT": "reviewed_on",
    "STAFF_INACTIVE_HANDLER": "first_step_at", "STAFF_UNKNOWN_HANDLER": "first_step_at",
    "STAFF_UNTRAINED_ON_POST": "first_step_at",
}
BATCH = 1000


def _day(rule_code: str, detail: str | None, judged_as_of: datetime | None, first_detected_at: datetime) -> date:
    key = OCCURRED_KEYS.get(rule_code)
    if key is not None:
        try:
            value = json.loads(detail or "{}").get(key)
        except (ValueError, AttributeError):
            value = None
        match = re.match(r"\d{4}-\d{2}-\d{2}", str(value or ""))
        if match:
            return date.fromisoformat(match[0])
    if judged_as_of is not None:
        return (judged_as_of - timedelta(seconds=1)).date()
    return first_detected_at.date()


def upgrade() -> None:
    with op.batch_alter_table("finding", schema=None) as batch_op:
        batch_op.add_column(sa.Column("occurred_on", sa.Date(), nullable=True))
    op.create_index("ix_finding_occurred_status", "finding", ["occurred_on", "status", "due_date"],
                    postgresql_include=["id"])
    bind = op.get_bind()
    finding = sa.table("finding", sa.column("id", sa.Integer), sa.column("rule_code", sa.String),
                       sa.column("detail", sa.Text), sa.column("judged_as_of", sa.DateTime),
                       sa.column("first_detected_at", sa.DateTime), sa.column("occurred_on", sa.Date))
    last = 0
    while True:
        rows = bind.execute(sa.select(finding.c.id, finding.c.rule_code, finding.c.detail, finding.c.judged_as_of,
                                      finding.c.first_detected_at)
                            .where(finding.c.id > last).order_by(finding.c.id).limit(BATCH)).all()
        if not rows:
            break
        bind.execute(finding.update().where(finding.c.id == sa.bindparam("row_id"))
                     .values(occurred_on=sa.bindparam("day")),
                     [{"row_id": r.id, "day": _day(r.rule_code, r.detail, r.judged_as_of, r.first_detected_at)}
                      for r in rows])
        last = rows[-1].id


def downgrade() -> None:
    op.drop_index("ix_finding_occurred_status", table_name="finding")
    with op.batch_alter_table("finding", schema=None) as batch_op:
        batch_op.drop_column("occurred_on")
