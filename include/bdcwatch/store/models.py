"""supervision_db: the engine's own tables (staging, quarantine, ledger, audit, outbox).

The Alembic migrations under ``migrations/versions`` create exactly these tables; a test
compares the two so they cannot drift. Runtime code uses these Table objects (SQLAlchemy
Core), never hand-written DDL.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from bdcwatch.store.base import Timestamp, metadata
from bdcwatch.store.staging import (
    STAGING,
    load_log,
    quarantine,
    stg_bdc_bysl,
    stg_bdc_dzzz_zzxx,
    stg_bdc_zs,
    stg_djf_dj_db,
    stg_djf_dj_sh,
    stg_djt_dj_sl,
    stg_qlf_ql_cfdj,
    stg_ry_jbxx,
    stg_ry_pxjl,
    watermark,
)

__all__ = [
    "STAGING", "Timestamp", "audit_head", "bulletin_rank", "bulletin_score", "duty_evidence", "finding",
    "finding_escalation", "finding_event", "finding_run", "inspection", "inspection_sample", "intake_file", "load_log",
    "metadata",
    "outbox", "outbox_attachment", "quarantine", "stg_bdc_bysl",
    "stg_bdc_dzzz_zzxx", "stg_bdc_zs", "stg_djf_dj_db", "stg_djf_dj_sh", "stg_djt_dj_sl", "stg_qlf_ql_cfdj",
    "stg_ry_jbxx", "stg_ry_pxjl", "watermark", "work_calendar",
]

finding = Table(
    "finding", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("fingerprint", String(400), nullable=False, unique=True),
    Column("rule_code", String(40), nullable=False),
    Column("severity", String(10), nullable=False),
    Column("unit_code", String(16)),
    Column("subject_type", String(20), nullable=False),
    Column("subject_id", String(100), nullable=False),
    # The subject as every output shows it (ID numbers masked), where that differs; NULL:
    # shown as written. The subject search reads it (migration 0017).
    Column("subject_shown", String(100)),
    Column("period", String(40)),
    Column("detail", Text, nullable=False),
    Column("status", String(12), nullable=False),
    Column("first_detected_at", Timestamp, nullable=False),
    Column("last_detected_at", Timestamp, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("closed_at", Timestamp),
    Column("dag_id", String(100), nullable=False),
    Column("first_run_id", String(250), nullable=False),
    Column("last_run_id", String(250), nullable=False),
    Column("notified_outbox_id", Integer),
    # What the finding is about in data time (migration 0008): the as-of of the run that
    # first detected it, or for a reported finding the time of its evidence (a complaint's
    # 受理时间, a sample's period end, a missed duty's check). The bulletin counts findings
    # per month by it, so a month's figures do not depend on when the runs happened.
    Column("judged_as_of", Timestamp),
    # The day the problem happened (migration 0011, ``ledger.findings.occurred_day``): the
    # rule's ``occurred`` detail value, else the last day judged by the first run, else the
    # day first detected. The ledger's 所属期间 filter reads it for findings without a period.
    Column("occurred_on", Date),
    Index("ix_finding_first_run", "first_run_id"),
    Index("ix_finding_rule_last_run", "rule_code", "last_run_id"),
    # The operations UI's filters, counts and pages read one index each (migration 0007,
    # ledger.query): filter column, status, due date (for "overdue"), and the id.
    Index("ix_finding_unit_status", "unit_code", "status", "due_date", postgresql_include=["id"]),
    Index("ix_finding_status_due", "status", "due_date", postgresql_include=["id"]),
    Index("ix_finding_rule_status", "rule_code", "status", "due_date", postgresql_include=["id"]),
    Index("ix_finding_severity_status", "severity", "status", "due_date", postgresql_include=["id"]),
    Index("ix_finding_period_status", "period", "status", "due_date", postgresql_include=["id"]),
    Index("ix_finding_occurred_status", "occurred_on", "status", "due_date", postgresql_include=["id"]),
    # Subject search (a substring): trigrams on PostgreSQL, a narrow scan elsewhere.
    Index("ix_finding_subject", "subject_id", postgresql_using="gin", postgresql_ops={"subject_id": "gin_trgm_ops"}),
    # Digests read the findings of a time range and the unannounced ones (migration 0010).
    Index("ix_finding_first_detected", "first_detected_at"),
    Index("ix_finding_closed", "closed_at"),
    # "Was this month checked at all?" (reports.kpis.month_checked): a range probe (0015).
    Index("ix_finding_judged_as_of", "judged_as_of"),
    Index("ix_finding_unannounced", "notified_outbox_id", "dag_id"),
)

# Append-only, hash-chained: each row's hash covers the previous row's hash, so an edited,
# deleted or reordered row breaks the chain (`bdcwatch audit verify`).
finding_event = Table(
    "finding_event", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # A finding's status change; or (finding_id null, migration 0008) a change of another
    # audited record named by ``subject``: a review verdict, a duty's evidence (CONTRACT §8).
    Column("finding_id", Integer, ForeignKey("finding.id")),
    Column("at", Timestamp, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("from_status", String(12)),
    Column("to_status", String(12), nullable=False),
    Column("note", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
    Column("subject", String(120)),
    Index("ix_finding_event_finding", "finding_id"),
    Index("ix_finding_event_subject", "subject"),
)

# One row that every audit writer updates in its transaction: it serialises writers so
# the chain never forks, and holds the newest hash.
audit_head = Table(
    "audit_head", metadata,
    Column("id", Integer, primary_key=True),
    Column("last_event_id", Integer),
    Column("last_hash", String(64), nullable=False),
)

outbox = Table(
    "outbox", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dedup_key", String(300), nullable=False, unique=True),
    Column("kind", String(20), nullable=False),
    Column("dag_id", String(100), nullable=False),
    Column("run_id", String(250)),
    Column("period", String(40)),
    Column("unit_code", String(16)),
    Column("recipients", Text, nullable=False),
    Column("subject", String(300), nullable=False),
    Column("html", Text, nullable=False),
    Column("message_id", String(200), nullable=False),
    Column("status", String(12), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text),
    Column("created_at", Timestamp, nullable=False),
    Column("sent_at", Timestamp),
    # pending → sending (claimed) → sent | pending | failed | unconfirmed (see outbox.py)
    Column("claim_token", String(32)),
    Column("claimed_at", Timestamp),
    Column("resend_log", Text),  # one line per operator resend: when, who, from which status, why
    Index("ix_outbox_status", "status"),
)

outbox_attachment = Table(
    "outbox_attachment", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("outbox_id", Integer, ForeignKey("outbox.id"), nullable=False),
    Column("filename", String(200), nullable=False),
    # 16 MiB: on MySQL a plain BLOB stops at 64 KiB, less than a big unit's workbook.
    Column("content", LargeBinary(length=16 * 1024 * 1024), nullable=False),
)

# Which findings each run detected (migration 0016): the run's reports read them here, since
# a later run detecting the same findings overwrites ``finding.last_run_id``. Kept 60 days.
finding_run = Table(
    "finding_run", metadata,
    Column("run_id", String(250), primary_key=True),
    Column("finding_id", Integer, ForeignKey("finding.id"), primary_key=True),
    Column("recorded_at", Timestamp, nullable=False),
    Index("ix_finding_run_recorded_at", "recorded_at"),
    # The foreign key's child side: SQLite checks it on every upsert of a finding (a scan of
    # this table without it), and a finding's runs are found by it.
    Index("ix_finding_run_finding", "finding_id"),
)

# Which overdue findings went up to which supervisor in which month (plan items 31, 36):
# one row per finding and month, written with the escalation mail in one transaction.
finding_escalation = Table(
    "finding_escalation", metadata,
    Column("finding_id", Integer, ForeignKey("finding.id"), primary_key=True),
    Column("period", String(7), primary_key=True),  # YYYY-MM
    Column("supervisor", String(40), nullable=False),
    Column("outbox_id", Integer, ForeignKey("outbox.id"), nullable=False),
    Column("escalated_at", Timestamp, nullable=False),
)

# The working-day calendar as a table, so deadlines are a join, not a Python loop. seq
# counts working days from the table's first day; next_seq is the seq of the day itself if
# it is a working day, else of the next one. Rebuilt by the run that needs it.
work_calendar = Table(
    "work_calendar", metadata,
    Column("day", Date, primary_key=True),
    Column("is_workday", SmallInteger, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("next_seq", Integer, nullable=False),
    Column("source", String(20), nullable=False),  # chinese-calendar | override | weekend-fallback
    Index("ix_work_calendar_seq", "seq", "is_workday"),
)

inspection = Table(
    "inspection", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cycle", String(100), nullable=False),
    Column("unit_code", String(16), nullable=False),
    Column("period", String(40), nullable=False),
    Column("population_size", Integer, nullable=False),
    Column("sample_size", Integer, nullable=False),
    Column("findings_count", Integer, nullable=False),
    Column("seed", String(64), nullable=False),
    Column("started_at", Timestamp, nullable=False),
    Column("finished_at", Timestamp),
    # Hand review of the sample (CONTRACT §8, migration 0008): verdicts recorded, 不合格 among them.
    Column("reviewed_count", Integer, nullable=False, server_default="0"),
    Column("defective_count", Integer, nullable=False, server_default="0"),
    UniqueConstraint("cycle", "unit_code", "period", name="uq_inspection_cycle_unit_period"),
)

inspection_sample = Table(
    "inspection_sample", metadata,
    Column("inspection_id", Integer, ForeignKey("inspection.id"), primary_key=True),
    Column("ywh", String(32), primary_key=True),
    Column("djdl", String(3)),
    # The reviewer's verdict (CONTRACT §8, migration 0008); null = not reviewed yet.
    Column("verdict", String(8)),  # 合格 | 不合格
    Column("description", Text),
    Column("reviewer", String(100)),  # who reviewed the case file (评查人)
    Column("reviewed_on", Date),
    Column("recorded_by", String(100)),  # who entered it (UI user, CLI --actor, uploader)
    Column("recorded_at", Timestamp),
)

# Complaint exports taken in (plan item 31): one row per file content (sha256), so a file
# dropped again is recognised and changes nothing.
intake_file = Table(
    "intake_file", metadata,
    Column("sha256", String(64), primary_key=True),
    Column("kind", String(20), nullable=False),  # complaints
    Column("file_name", String(255), nullable=False),
    Column("encoding", String(20)),
    Column("processed_at", Timestamp, nullable=False),
    Column("rows_read", Integer, nullable=False),
    Column("findings_new", Integer, nullable=False),
    Column("findings_updated", Integer, nullable=False),
    Column("rows_unchanged", Integer, nullable=False),
    Column("rows_quarantined", Integer, nullable=False),
    Column("archived_to", String(500)),
    Column("run_id", String(250)),
)

# Evidence of duties no system records (plan items 3, 4, 11, 19, 30), entered by operators.
duty_evidence = Table(
    "duty_evidence", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("duty_code", String(40), nullable=False),
    Column("unit_code", String(16), nullable=False),
    Column("done_on", Date, nullable=False),
    Column("note", Text, nullable=False),
    Column("file_name", String(255)),
    Column("file_sha256", String(64)),
    Column("file_content", LargeBinary(length=16 * 1024 * 1024)),
    Column("recorded_by", String(100), nullable=False),
    Column("recorded_at", Timestamp, nullable=False),
    Index("ix_duty_evidence_duty_unit_day", "duty_code", "unit_code", "done_on"),
)

# The monthly scorecard as published (plan items 32, 35): stored so a rerun of a month
# gives the same scores and ranking (reports/scorecard.py defines each indicator).
bulletin_score = Table(
    "bulletin_score", metadata,
    Column("period", String(7), primary_key=True),  # YYYY-MM
    Column("unit_code", String(16), primary_key=True),
    Column("indicator", String(30), primary_key=True),
    Column("numerator", Integer, nullable=False),
    Column("denominator", Integer, nullable=False),
    Column("sufficient", SmallInteger, nullable=False),  # 0 = 样本不足, not ranked on it
    Column("score", Numeric(7, 2)),  # 0..100; null when not sufficient
)
bulletin_rank = Table(
    "bulletin_rank", metadata,
    Column("period", String(7), primary_key=True),
    Column("unit_code", String(16), primary_key=True),
    Column("score", Numeric(7, 2)),  # the weighted score; null = not ranked (no indicator sufficient)
    Column("rank", Integer),
    Column("prev_score", Numeric(7, 2)),
    Column("prev_rank", Integer),
    Column("weights", Text, nullable=False),  # JSON: the weights in force when it was computed
    Column("computed_at", Timestamp, nullable=False),
    Column("run_id", String(250), nullable=False),
)
