"""supervision_db's staging side: a copy of each source table as the rules read it
(``stg_*``, with the derived columns they compare on), the extraction watermark, the
load log and the quarantine of rows the quality gate held back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Column,
    Date,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from bdcwatch.store.base import Timestamp, metadata


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
    # Cases still 在办 (migration 0010). Partial where the database has partial indexes, so
    # a query on completed cases (AJZT 2, by JSSJ) is never tempted by it.
    Index("ix_stg_djt_dj_sl_open", "ajzt", "slsj", sqlite_where=text("ajzt = 1"), postgresql_where=text("ajzt = 1")),
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
    # Blank or zero dates read as NULL in nullable columns (CONTRACT §5; migration 0009).
    Column("values_nulled", Integer, nullable=False, server_default="0"),
    # Rows repeating an earlier row of the same load exactly: staged once (migration 0013).
    Column("rows_repeated", Integer, nullable=False, server_default="0"),
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
    # A held certificate's or e-certificate's normalized BDCQZH (migration 0012): the
    # e-certificate rules do not report its counterpart as unmatched.
    Column("bdcqzh_norm", String(120)),
    UniqueConstraint("source_table", "row_key", "column_name", "expectation", name="uq_quarantine_row"),
    # The open entries, all and of one table, without reading the resolved ones (migration 0010).
    Index("ix_quarantine_open", "resolved_at", "source_table", "row_key"),
    Index("ix_quarantine_table_open", "source_table", "resolved_at", "row_key"),
    Index("ix_quarantine_bdcqzh", "bdcqzh_norm", "source_table", "resolved_at"),
)

