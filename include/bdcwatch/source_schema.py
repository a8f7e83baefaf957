"""The three source systems' tables (contract/source_schema.sql) as SQLAlchemy metadata.

Used by the demo-data generator to create source databases on any dialect (SQLAlchemy
picks DATETIME on MySQL where the reference text says TIMESTAMP, as the contract asks) and
by extraction to know each table's key, update stamp and column kinds. Names are written
upper case as in the contract; SQLAlchemy quotes nothing for these, so PostgreSQL folds
them to lower case exactly as the reference DDL would.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    CHAR,
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
)

REGISTRATION = "registration_db"
ECERT = "ecert_db"
STAFF = "staff_registry_db"


def _ts(name: str, nullable: bool = True) -> Column:
    return Column(name, DateTime, nullable=nullable)


def build_metadata() -> MetaData:
    """Return a fresh MetaData holding the reference schema's ten tables."""
    md = MetaData()
    Table(
        "DJT_DJ_SL", md,
        Column("YWH", String(32), primary_key=True),
        Column("DJJG", String(16), nullable=False),
        Column("QXDM", CHAR(6), nullable=False),
        Column("DJDL", CHAR(3), nullable=False),
        Column("DJXL", CHAR(7)),
        Column("QLLX", String(4)),
        Column("BDCDYH", CHAR(28)),
        Column("SQFS", SmallInteger, nullable=False),
        Column("SLRYBH", String(32)),
        _ts("SLSJ", nullable=False),
        Column("AJZT", SmallInteger, nullable=False),
        _ts("JSSJ"),
        Column("GQTS", Integer, nullable=False, server_default="0"),
        _ts("GXSJ", nullable=False),
    )
    Table(
        "DJF_DJ_SH", md,
        Column("YWH", String(32), primary_key=True),
        Column("SXH", Integer, primary_key=True),
        Column("JDMC", String(32), nullable=False),
        Column("SHRYBH", String(32)),
        _ts("SHKSSJ"),
        _ts("SHJSSJ"),
        Column("CZJG", SmallInteger),
        Column("SHYJ", String(500)),
        _ts("GXSJ", nullable=False),
    )
    Table(
        "DJF_DJ_DB", md,
        Column("YWH", String(32), primary_key=True),
        Column("DBRYBH", String(32)),
        _ts("DBSJ", nullable=False),
        _ts("GXSJ", nullable=False),
    )
    Table(
        "BDC_ZS", md,
        Column("ZSID", String(40), primary_key=True),
        Column("YWH", String(32), nullable=False),
        Column("ZSLX", SmallInteger, nullable=False),
        Column("BDCQZH", String(64), nullable=False),
        Column("YSXLH", String(20)),
        Column("BDCDYH", CHAR(28), nullable=False),
        Column("QLRMC", String(200), nullable=False),
        Column("QLRZJH", String(200)),
        Column("DJJG", String(16), nullable=False),
        _ts("SZSJ", nullable=False),
        Column("ZSZT", SmallInteger, nullable=False),
        _ts("ZXSJ"),
        Column("ZXYWH", String(32)),
        _ts("GXSJ", nullable=False),
    )
    Table(
        "BDC_BYSL", md,
        Column("ID", String(40), primary_key=True),
        Column("YWH", String(32), nullable=False),
        Column("BDCDYH", CHAR(28)),
        _ts("THSJ", nullable=False),
        Column("THYYDM", String(8)),
        Column("THYY", String(500)),
        Column("CZRYBH", String(32)),
        _ts("GXSJ", nullable=False),
    )
    Table(
        "QLF_QL_CFDJ", md,
        Column("YWH", String(32), primary_key=True),
        Column("BDCDYH", CHAR(28), nullable=False),
        Column("CFJG", String(100)),
        _ts("CFKSSJ", nullable=False),
        _ts("JFSJ"),
        _ts("GXSJ", nullable=False),
    )
    Table(
        "BDC_DZZZ_ZZXX", md,
        Column("ZZID", String(40), primary_key=True),
        Column("ZZBS", String(80), nullable=False),
        Column("ZZLXDM", String(24), nullable=False),
        Column("BDCQZH", String(64), nullable=False),
        Column("BDCDYH", CHAR(28)),
        Column("CZZT", String(200)),
        Column("CZZTDM", String(200)),
        Column("ZZBFJGDM", String(16)),
        _ts("ZZBFRQ", nullable=False),
        Column("ZZZT", SmallInteger, nullable=False),
        _ts("ZXSJ"),
        Column("ZXYY", SmallInteger),
        _ts("GXSJ", nullable=False),
    )
    Table(
        "RY_JBXX", md,
        Column("RYBH", String(32), primary_key=True),
        Column("XM", String(50), nullable=False),
        Column("ZJH", String(18)),
        Column("DWDM", String(16)),
        Column("YGLX", SmallInteger),
        Column("GW", String(16)),
        Column("SGSJ", Date),
        Column("GWKSSJ", Date),
        Column("ZT", SmallInteger, nullable=False),
        Column("LGSJ", Date),
        Column("LZCNSJ", Date),
        _ts("GXSJ", nullable=False),
    )
    Table(
        "RY_PXJL", md,
        Column("ID", String(40), primary_key=True),
        Column("RYBH", String(32), nullable=False),
        Column("PXMC", String(200)),
        Column("PXRQ", Date, nullable=False),
        Column("XS", Numeric(6, 1), nullable=False),
        Column("KHJG", SmallInteger, nullable=False),
        _ts("GXSJ", nullable=False),
    )
    return md


@dataclass(frozen=True)
class SourceTable:
    """What the engine needs to know about one source table."""

    name: str  # reference (upper-case) name
    system: str  # the Airflow connection id that holds it
    key: tuple[str, ...]


SOURCE_TABLES: dict[str, SourceTable] = {
    t.name: t
    for t in (
        SourceTable("DJT_DJ_SL", REGISTRATION, ("YWH",)),
        SourceTable("DJF_DJ_SH", REGISTRATION, ("YWH", "SXH")),
        SourceTable("DJF_DJ_DB", REGISTRATION, ("YWH",)),
        SourceTable("BDC_ZS", REGISTRATION, ("ZSID",)),
        SourceTable("BDC_BYSL", REGISTRATION, ("ID",)),
        SourceTable("QLF_QL_CFDJ", REGISTRATION, ("YWH",)),
        SourceTable("BDC_DZZZ_ZZXX", ECERT, ("ZZID",)),
        SourceTable("RY_JBXX", STAFF, ("RYBH",)),
        SourceTable("RY_PXJL", STAFF, ("ID",)),
    )
}
