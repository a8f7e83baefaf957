"""closing the loops (CONTRACT §8): review verdicts on samples, audited records besides
findings, complaint files taken in, duty evidence, the monthly bulletin's scores, and the
data time a finding is about

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 09:00:00

finding_event.finding_id becomes nullable: an event with a ``subject`` instead records a
change of a review verdict or of a duty's evidence in the same hash chain.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("finding", schema=None) as batch_op:
        batch_op.add_column(sa.Column("judged_as_of", sa.DateTime(), nullable=True))
    with op.batch_alter_table("finding_event", schema=None) as batch_op:
        batch_op.alter_column("finding_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("subject", sa.String(length=120), nullable=True))
        batch_op.create_index("ix_finding_event_subject", ["subject"], unique=False)
    with op.batch_alter_table("inspection", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reviewed_count", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("defective_count", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("inspection_sample", schema=None) as batch_op:
        batch_op.add_column(sa.Column("verdict", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("description", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("reviewer", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("reviewed_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("recorded_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("recorded_at", sa.DateTime(), nullable=True))
    op.create_table(
        "intake_file",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("encoding", sa.String(length=20), nullable=True),
        sa.Column("processed_at", sa.DateTime(), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("findings_new", sa.Integer(), nullable=False),
        sa.Column("findings_updated", sa.Integer(), nullable=False),
        sa.Column("rows_unchanged", sa.Integer(), nullable=False),
        sa.Column("rows_quarantined", sa.Integer(), nullable=False),
        sa.Column("archived_to", sa.String(length=500), nullable=True),
        sa.Column("run_id", sa.String(length=250), nullable=True),
        sa.PrimaryKeyConstraint("sha256"),
    )
    op.create_table(
        "duty_evidence",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("duty_code", sa.String(length=40), nullable=False),
        sa.Column("unit_code", sa.String(length=16), nullable=False),
        sa.Column("done_on", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=True),
        sa.Column("file_sha256", sa.String(length=64), nullable=True),
        sa.Column("file_content", sa.LargeBinary(length=16 * 1024 * 1024), nullable=True),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_duty_evidence_duty_unit_day", "duty_evidence", ["duty_code", "unit_code", "done_on"])
    op.create_table(
        "bulletin_score",
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("unit_code", sa.String(length=16), nullable=False),
        sa.Column("indicator", sa.String(length=30), nullable=False),
        sa.Column("numerator", sa.Integer(), nullable=False),
        sa.Column("denominator", sa.Integer(), nullable=False),
        sa.Column("sufficient", sa.SmallInteger(), nullable=False),
        sa.Column("score", sa.Numeric(precision=7, scale=2), nullable=True),
        sa.PrimaryKeyConstraint("period", "unit_code", "indicator"),
    )
    op.create_table(
        "bulletin_rank",
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("unit_code", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Numeric(precision=7, scale=2), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("prev_score", sa.Numeric(precision=7, scale=2), nullable=True),
        sa.Column("prev_rank", sa.Integer(), nullable=True),
        sa.Column("weights", sa.Text(), nullable=False),
        sa.Column("computed_at", sa.DateTime(), nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=False),
        sa.PrimaryKeyConstraint("period", "unit_code"),
    )


def downgrade() -> None:
    # Events of verdicts and duty evidence have no finding, and the old schema has no place
    # for them. Deleting them would break the audit trail's hash chain (each event hashes
    # the one before), so the downgrade refuses while any exist: restore a backup taken
    # before the upgrade instead (docs/deploy.md, "Upgrades").
    kept = op.get_bind().execute(sa.text("SELECT COUNT(*) FROM finding_event WHERE finding_id IS NULL")).scalar()
    if kept:
        raise RuntimeError(
            f"cannot downgrade below 0008: the audit trail holds {kept} events without a finding (review "
            "verdicts, duty evidence) that the older schema cannot keep, and deleting them would break the hash "
            "chain; restore the backup of supervision_db taken before the upgrade instead")
    op.drop_table("bulletin_rank")
    op.drop_table("bulletin_score")
    op.drop_index("ix_duty_evidence_duty_unit_day", table_name="duty_evidence")
    op.drop_table("duty_evidence")
    op.drop_table("intake_file")
    with op.batch_alter_table("inspection_sample", schema=None) as batch_op:
        for column in ("recorded_at", "recorded_by", "reviewed_on", "reviewer", "description", "verdict"):
            batch_op.drop_column(column)
    with op.batch_alter_table("inspection", schema=None) as batch_op:
        batch_op.drop_column("defective_count")
        batch_op.drop_column("reviewed_count")
    with op.batch_alter_table("finding_event", schema=None) as batch_op:
        batch_op.drop_index("ix_finding_event_subject")
        batch_op.drop_column("subject")
        batch_op.alter_column("finding_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("finding", schema=None) as batch_op:
        batch_op.drop_column("judged_as_of")
