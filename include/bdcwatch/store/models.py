"""supervision_db: the engine's own tables (staging, quarantine, ledger, audit, outbox).

The Alembic migrations under ``migrations/versions`` create exactly these tables; a test
compares the two so they cannot drift. Runtime code uses these Table objects (SQLAlchemy
Core), never hand-written DDL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.types import TypeDecorator

# Local wall-clock timestamps (Asia/Shanghai, no zone, as in the sources). On SQLite they
# are stored to the second as 'YYYY-MM-DD HH:MM:SS', the format SQLite's own datetime()
# returns, so SQL can compare a column with datetime(other, '+24 hours') as text.
_SQLITE_SECONDS = sqlite.DATETIME(  # type: ignore[no-untyped-call]
    storage_format="%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d",
    regexp=r"(\d+)-(\d+)-(\d+) (\d+):(\d+):(\d+)",
)


class Timestamp(TypeDecorator[datetime]):
    """A zone-less local timestamp, to the second, portable across dialects."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect):  # type: ignore[no-untyped-def]
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_SQLITE_SECONDS)
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value, dialect):  # type: ignore[no-untyped-def]
        return value.replace(microsecond=0) if isinstance(value, datetime) else value


metadata = MetaData()


def _load_columns() -> list[Column[Any]]:
    # Which extraction run last wrote the row: a full scan deletes rows it did not see.
    return [Column("_load_id", String(64), nullable=False)]


stg_djt_dj_sl = Table(
    "stg_djt_dj_sl", metadata,
    Column("ywh", String(32), primary_key=True),
    Column("djjg", String(16), nullable=False),
    Column("qxdm", String(6), nullable=False),
    Column("djdl", String(3), nullable=False),
    Column("djxl", String(7)),
    Column("qllx", String(4)),
    Column("bdcdyh", String(28)),
    Column("sqfs", SmallInteger, nullable=False),
    Column("slrybh", String(32)),
    Column("slsj", Timestamp, nullable=False),
    Column("ajzt", SmallInteger, nullable=False),
    Column("jssj", Timestamp),
    Column("gqts", Integer, nullable=False),
    Column("gxsj", Timestamp, nullable=False),
    *_load_columns(),
    Index("ix_stg_djt_dj_sl_slsj", "slsj"),
    # Queue jump walks a unit's acceptances backwards in (slsj, ywh) order; covering (migration 0004).
    Index("ix_stg_djt_dj_sl_queue", "djjg", "slsj", "ywh", "djdl", "qllx"),
    Index("ix_stg_djt_dj_sl_jssj", "jssj"),
    Index("ix_stg_djt_dj_sl_bdcdyh", "bdcdyh"),  # seizures → mortgages on the same unit number
)
stg_djf_dj_sh = Table(
    "stg_djf_dj_sh", metadata,
    Column("ywh", String(32), primary_key=True),
    Column("sxh", Integer, primary_key=True),
    Column("jdmc", String(32), nullable=False),
    Column("shrybh", String(32)),
    Column("shkssj", Timestamp),
    Column("shjssj", Timestamp),
    Column("czjg", SmallInteger),
    Column("shyj", String(500)),
    Column("gxsj", Timestamp, nullable=False),
    *_load_columns(),
    Index("ix_stg_djf_dj_sh_shjssj", "shjssj"),
)
stg_djf_dj_db = Table(
    "stg_djf_dj_db", metadata,
    Column("ywh", String(32), primary_key=True),
    Column("dbrybh", String(32)),
    Column("dbsj", Timestamp, nullable=False),
    Column("gxsj", Timestamp, nullable=False),
    *_load_columns(),
    Index("ix_stg_djf_dj_db_dbsj", "dbsj"),
)
# QLRZJH is deliberately not staged: no rule needs holder ID numbers (item 29, least data).
stg_bdc_zs = Table(
    "stg_bdc_zs", metadata,
    Column("zsid", String(40), primary_key=True),
    Column("ywh", String(32), nullable=False),
    Column("zslx", SmallInteger, nullable=False),
    Column("bdcqzh", String(64), nullable=False),
    Column("bdcqzh_norm", String(64), nullable=False),
    Column("ysxlh", String(20)),
    Column("bdcdyh", String(28), nullable=False),
    Column("qlrmc", String(200), nullable=False),
    Column("holders_norm", String(200), nullable=False),
    Column("djjg", String(16), nullable=False),
    Column("szsj", Timestamp, nullable=False),
    Column("zszt", SmallInteger, nullable=False),
    Column("zxsj", Timestamp),
    Column("zxywh", String(32)),
    Column("gxsj", Timestamp, nullable=False),
    *_load_columns(),
    # Period scans read (time, number) from the index alone and defer the row lookup to the
    # few rows that become findings: several times faster than a time-only index at 1M rows.
    Index("ix_stg_bdc_zs_norm_szsj", "bdcqzh_norm", "szsj"),
    Index("ix_stg_bdc_zs_szsj_norm", "szsj", "bdcqzh_norm"),
    Index("ix_stg_bdc_zs_zxsj_norm", "zxsj", "bdcqzh_norm"),
)
stg_bdc_bysl = Table(
    "stg_bdc_bysl", metadata,
    Column("id", String(40), primary_key=True),
    Column("ywh", String(32), nullable=False),
    Column("bdcdyh", String(28)),
    Column("thsj", Timestamp, nullable=False),
    Column("thyydm", String(8)),
    Column("thyy", String(500)),
    Column("czrybh", String(32)),
    Column("gxsj", Timestamp, nullable=False),
    *_load_columns(),
    Index("ix_stg_bdc_bysl_bdcdyh_thsj", "bdcdyh", "thsj"),
    Index("ix_stg_bdc_bysl_thsj", "thsj"),
)
stg_qlf_ql_cfdj = Table(
    "stg_qlf_ql_cfdj", metadata,
    Column("ywh", String(32), primary_key=True),
    Column("bdcdyh", String(28), nullable=False),
    Column("cfjg", String(100)),
    Column("cfkssj", Timestamp, nullable=False),
    Column("jfsj", Timestamp),
    Column("gxsj", Timestamp, nullable=False),
    *_load_columns(),
    Index("ix_stg_qlf_ql_cfdj_bdcdyh", "bdcdyh"),
)
# CZZTDM (holder ID numbers) is not staged either; ZZBS validity is computed on load.
stg_bdc_dzzz_zzxx = Table(
    "stg_bdc_dzzz_zzxx", metadata,
    Column("zzid", String(40), primary_key=True),
    Column("zzbs", String(80), nullable=False),
    Column("zzbs_problem", String(200)),
    Column("zzlxdm", String(24), nullable=False),
    Column("bdcqzh", String(64), nullable=False),
    Column("bdcqzh_norm", String(64), nullable=False),
    Column("bdcdyh", String(28)),
    Column("czzt", String(200)),
    Column("holders_norm", String(200), nullable=False),
    Column("zzbfjgdm", String(16)),
    Column("zzbfrq", Timestamp, nullable=False),
    Column("zzzt", SmallInteger, nullable=False),
    Column("zxsj", Timestamp),
    Column("zxyy", SmallInteger),
    Column("gxsj", Timestamp, nullable=False),
    *_load_columns(),
    # Covers "is there an e-certificate with this number that existed / was valid as of T".
    Index("ix_stg_dzzz_norm_asof", "bdcqzh_norm", "zzbfrq", "zzzt", "zxsj"),
    Index("ix_stg_dzzz_zzbfrq", "zzbfrq"),
)
# ZJH is kept only as what the rules need: present, valid, and a masked form for reports.
stg_ry_jbxx = Table(
    "stg_ry_jbxx", metadata,
    Column("rybh", String(32), primary_key=True),
    Column("xm", String(50), nullable=False),
    Column("zjh_masked", String(18)),
    Column("zjh_valid", SmallInteger, nullable=False),
    Column("dwdm", String(16)),
    Column("yglx", SmallInteger),
    Column("gw", String(16)),
    Column("sgsj", Date),
    Column("gwkssj", Date),
    Column("zt", SmallInteger, nullable=False),
    Column("lgsj", Date),
    Column("lzcnsj", Date),
    Column("gxsj", Timestamp, nullable=False),
    *_load_columns(),
)
stg_ry_pxjl = Table(
    "stg_ry_pxjl", metadata,
    Column("id", String(40), primary_key=True),
    Column("rybh", String(32), nullable=False),
    Column("pxmc", String(200)),
    Column("pxrq", Date, nullable=False),
    Column("xs", Numeric(6, 1), nullable=False),
    Column("khjg", SmallInteger, nullable=False),
    Column("gxsj", Timestamp, nullable=False),
    *_load_columns(),
    Index("ix_stg_ry_pxjl_rybh", "rybh", "pxrq"),
)

STAGING: dict[str, Table] = {
    "DJT_DJ_SL": stg_djt_dj_sl,
    "DJF_DJ_SH": stg_djf_dj_sh,
    "DJF_DJ_DB": stg_djf_dj_db,
    "BDC_ZS": stg_bdc_zs,
    "BDC_BYSL": stg_bdc_bysl,
    "QLF_QL_CFDJ": stg_qlf_ql_cfdj,
    "BDC_DZZZ_ZZXX": stg_bdc_dzzz_zzxx,
    "RY_JBXX": stg_ry_jbxx,
    "RY_PXJL": stg_ry_pxjl,
}

watermark = Table(
    "watermark", metadata,
    Column("source_table", String(40), primary_key=True),
    Column("gxsj", Timestamp),
    Column("updated_at", Timestamp, nullable=False),
)

load_log = Table(
    "load_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("load_id", String(64), nullable=False),
    Column("run_id", String(250)),
    Column("source_table", String(40), nullable=False),
    Column("full_scan", SmallInteger, nullable=False),
    Column("rows_read", Integer, nullable=False),
    Column("rows_loaded", Integer, nullable=False),
    Column("rows_quarantined", Integer, nullable=False),
    Column("rows_deleted", Integer, nullable=False),
    Column("started_at", Timestamp, nullable=False),
    Column("finished_at", Timestamp, nullable=False),
)

quarantine = Table(
    "quarantine", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source_table", String(40), nullable=False),
    Column("row_key", String(200), nullable=False),
    Column("column_name", String(40), nullable=False),
    Column("expectation", String(100), nullable=False),
    Column("reason", Text, nullable=False),
    Column("row_json", Text, nullable=False),
    Column("first_seen_at", Timestamp, nullable=False),
    Column("last_seen_at", Timestamp, nullable=False),
    Column("last_load_id", String(64), nullable=False),
    Column("resolved_at", Timestamp),
    UniqueConstraint("source_table", "row_key", "column_name", "expectation", name="uq_quarantine_row"),
)

finding = Table(
    "finding", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("fingerprint", String(400), nullable=False, unique=True),
    Column("rule_code", String(40), nullable=False),
    Column("severity", String(10), nullable=False),
    Column("unit_code", String(16)),
    Column("subject_type", String(20), nullable=False),
    Column("subject_id", String(100), nullable=False),
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
    Index("ix_finding_unit_status", "unit_code", "status"),
    Index("ix_finding_first_run", "first_run_id"),
    Index("ix_finding_rule_last_run", "rule_code", "last_run_id"),
)

# Append-only, hash-chained: each row's hash covers the previous row's hash, so an edited,
# deleted or reordered row breaks the chain (`bdcwatch audit verify`).
finding_event = Table(
    "finding_event", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("finding_id", Integer, ForeignKey("finding.id"), nullable=False),
    Column("at", Timestamp, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("from_status", String(12)),
    Column("to_status", String(12), nullable=False),
    Column("note", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
    Index("ix_finding_event_finding", "finding_id"),
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
    UniqueConstraint("cycle", "unit_code", "period", name="uq_inspection_cycle_unit_period"),
)

inspection_sample = Table(
    "inspection_sample", metadata,
    Column("inspection_id", Integer, ForeignKey("inspection.id"), primary_key=True),
    Column("ywh", String(32), primary_key=True),
    Column("djdl", String(3)),
)
