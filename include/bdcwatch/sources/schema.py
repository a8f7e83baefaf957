"""The three source systems' tables (contract/source_schema.sql) as SQLAlchemy metadata.

Used by the demo-data generator to create source databases on any dialect (SQLAlchemy
picks DATETIME on MySQL where the reference text says TIMESTAMP, as the contract asks) and
by extraction to know each table's key, update stamp and column kinds. Names are written
upper case as in the contract but marked never to be quoted, so PostgreSQL folds them to
lower case (bdc_zs.zsid) exactly as the unquoted reference DDL would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
from sqlalchemy.sql.elements import quoted_name

REGISTRATION = "registration_db"
ECERT = "ecert_db"
STAFF = "staff_registry_db"


def _table(name: str, metadata: MetaData, *columns: Column[Any]) -> Table:
    """A table whose name is never quoted (see the module docstring)."""
    return Table(quoted_name(name, False), metadata, *columns)


def _column(name: str, *args: Any, **kwargs: Any) -> Column[Any]:
    """A column whose name is never quoted; its key stays the reference name."""
    return Column(quoted_name(name, False), *args, key=name, **kwargs)


def _ts(name: str, nullable: bool = True) -> Column[Any]:
    return _column(name, DateTime, nullable=nullable)


def build_metadata() -> MetaData:
    """Return a fresh MetaData holding the reference schema's ten tables."""
    md = MetaData()
    _table(
        "DJT_DJ_SL", md,
        _column("YWH", String(32), primary_key=True),
        _column("DJJG", String(16), nullable=False),
        _column("QXDM", CHAR(6), nullable=False),
        _column("DJDL", CHAR(3), nullable=False),
        _column("DJXL", CHAR(7)),
        _column("QLLX", String(4)),
        _column("BDCDYH", CHAR(28)),
        _column("SQFS", SmallInteger, nullable=False),
        _column("SLRYBH", String(32)),
        _ts("SLSJ", nullable=False),
        _column("AJZT", SmallInteger, nullable=False),
        _ts("JSSJ"),
        _column("GQTS", Integer, nullable=False, server_default="0"),
        _ts("GXSJ", nullable=False),
    )
    _table(
        "DJF_DJ_SH", md,
        _column("YWH", String(32), primary_key=True),
        _column("SXH", Integer, primary_key=True),
        _column("JDMC", String(32), nullable=False),
        _column("SHRYBH", String(32)),
        _ts("SHKSSJ"),
        _ts("SHJSSJ"),
        _column("CZJG", SmallInteger),
        _column("SHYJ", String(500)),
        _ts("GXSJ", nullable=False),
    )
    _table(
        "DJF_DJ_DB", md,
        _column("YWH", String(32), primary_key=True),
        _column("DBRYBH", String(32)),
        _ts("DBSJ", nullable=False),
        _ts("GXSJ", nullable=False),
    )
    _table(
        "BDC_ZS", md,
        _column("ZSID", String(40), primary_key=True),
        _column("YWH", String(32), nullable=False),
        _column("ZSLX", SmallInteger, nullable=False),
        _column("BDCQZH", String(64), nullable=False),
        _column("YSXLH", String(20)),
        _column("BDCDYH", CHAR(28), nullable=False),
        _column("QLRMC", String(200), nullable=False),
        _column("QLRZJH", String(200)),
        _column("DJJG", String(16), nullable=False),
        _ts("SZSJ", nullable=False),
        _column("ZSZT", SmallInteger, nullable=False),
        _ts("ZXSJ"),
        _column("ZXYWH", String(32)),
        _ts("GXSJ", nullable=False),
    )
    _table(
        "BDC_BYSL", md,
        _column("ID", String(40), primary_key=True),
        _column("YWH", String(32), nullable=False),
        _column("BDCDYH", CHAR(28)),
        _ts("THSJ", nullable=False),
        _column("THYYDM", String(8)),
        _column("THYY", String(500)),
        _column("CZRYBH", String(32)),
        _ts("GXSJ", nullable=False),
    )
    _table(
        "QLF_QL_CFDJ", md,
        _column("YWH", String(32), primary_key=True),
        _column("BDCDYH", CHAR(28), nullable=False),
        _column("CFJG", String(100)),
        _ts("CFKSSJ", nullable=False),
        _ts("JFSJ"),
        _ts("GXSJ", nullable=False),
    )
    _table(
        "BDC_DZZZ_ZZXX", md,
        _column("ZZID", String(40), primary_key=True),
        _column("ZZBS", String(80), nullable=False),
        _column("ZZLXDM", String(24), nullable=False),
        _column("BDCQZH", String(64), nullable=False),
        _column("BDCDYH", CHAR(28)),
        _column("CZZT", String(200)),
        _column("CZZTDM", String(200)),
        _column("ZZBFJGDM", String(16)),
        _ts("ZZBFRQ", nullable=False),
        _column("ZZZT", SmallInteger, nullable=False),
        _ts("ZXSJ"),
        _column("ZXYY", SmallInteger),
        _ts("GXSJ", nullable=False),
    )
    _table(
        "RY_JBXX", md,
        _column("RYBH", String(32), primary_key=True),
        _column("XM", String(50), nullable=False),
        _column("ZJH", String(18)),
        _column("DWDM", String(16)),
        _column("YGLX", SmallInteger),
        _column("GW", String(16)),
        _column("SGSJ", Date),
        _column("GWKSSJ", Date),
        _column("ZT", SmallInteger, nullable=False),
        _column("LGSJ", Date),
        _column("LZCNSJ", Date),
        _ts("GXSJ", nullable=False),
    )
    _table(
        "RY_PXJL", md,
        _column("ID", String(40), primary_key=True),
        _column("RYBH", String(32), nullable=False),
        _column("PXMC", String(200)),
        _column("PXRQ", Date, nullable=False),
        _column("XS", Numeric(6, 1), nullable=False),
        _column("KHJG", SmallInteger, nullable=False),
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
