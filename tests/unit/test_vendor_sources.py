"""Vendor source databases a fresh adversary brought (CONTRACT §5: bad input is held,
named and counted, never silently dropped, never a crash; §6: no ID number kept in full).
On every supported source engine where the quirk exists there; the servers' runs are the
``dialect`` tier (skipped with the reason when a server is not running)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, Float, create_engine, select, text
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.engine import make_url

from bdcwatch.errors import SourceSchemaError
from bdcwatch.sources.connections import source_engine
from bdcwatch.sources.extract import load_table
from bdcwatch.sources.schema import build_metadata
from bdcwatch.standards.identifiers import is_valid_id_number
from bdcwatch.store.migrate import make_engine
from bdcwatch.store.models import quarantine, stg_bdc_zs, stg_ry_pxjl

SHANGHAI = ZoneInfo("Asia/Shanghai")
LOADED_AT = datetime(2026, 6, 1, 9, 0)
T = datetime(2026, 3, 10, 10, 0)
UNIT = "140302001001GB00001F00010001"


def sl_row(ywh: str, **overrides: Any) -> dict[str, Any]:
    row = {"YWH": ywh, "DJJG": "YQ00", "QXDM": "140302", "DJDL": "200", "QLLX": None, "BDCDYH": UNIT, "SQFS": 1,
           "SLRYBH": "R1", "SLSJ": T, "AJZT": 1, "JSSJ": None, "GQTS": 0, "GXSJ": T}
    row.update(overrides)
    return row


def zs_row(n: int, **overrides: Any) -> dict[str, Any]:
    row = {"ZSID": f"ZS{n:02d}", "YWH": f"Y{n:02d}", "ZSLX": 1, "BDCQZH": f"晋(2026)阳泉市不动产权第{n:07d}号",
           "BDCDYH": UNIT, "QLRMC": "张三", "QLRZJH": None, "DJJG": "YQ00", "SZSJ": T, "ZSZT": 1, "GXSJ": T}
    row.update(overrides)
    return row


def load(source_url: str, target: Engine, table: str, **options: Any) -> Any:
    return load_table(source_engine(make_url(source_url), SHANGHAI), target, table, run_id="t", now=LOADED_AT,
                      **options)


def held(target: Engine) -> set[tuple[str, str]]:
    with target.connect() as conn:
        return {(q.row_key, q.column_name) for q in conn.execute(select(quarantine).where(
            quarantine.c.resolved_at.is_(None)))}


def test_an_incremental_load_reads_new_rows_without_a_change_time(database_url):
    """A vendor application that does not stamp GXSJ on insert: NULL, MySQL's zero date,
    a blank text. ``GXSJ >= watermark`` is never true for them, so the daily (incremental)
    load never saw them: now each is read, held on GXSJ and counted, every day until fixed."""
    url = database_url("source")
    metadata = build_metadata()
    cases = metadata.tables["DJT_DJ_SL"]
    cases.c["GXSJ"].nullable = True
    writer = create_engine(url)
    metadata.create_all(writer, tables=[cases])
    with writer.begin() as conn:
        conn.execute(cases.insert(), [sl_row(f"Y{i:02d}") for i in range(60)])
    target = make_engine(database_url.migrated())
    first = load(url, target, "DJT_DJ_SL", full_scan=True)
    assert first.watermark == "2026-03-10 10:00:00"
    with writer.begin() as conn:
        conn.execute(cases.insert(), [sl_row("NEW_NULL", GXSJ=None)])
        if writer.dialect.name == "mysql":
            conn.execute(text("SET SESSION sql_mode = ''"))
            conn.execute(text("INSERT INTO DJT_DJ_SL (YWH, DJJG, QXDM, DJDL, BDCDYH, SQFS, SLSJ, AJZT, GQTS, GXSJ) "
                              "VALUES ('NEW_UNDATED', 'YQ00', '140302', '200', :u, 1, :t, 1, 0, '0000-00-00 00:00:00')"),
                         {"u": UNIT, "t": T})
        elif writer.dialect.name == "sqlite":
            conn.execute(text("UPDATE DJT_DJ_SL SET GXSJ = '' WHERE YWH = 'Y00'"))  # a blank written over it
            conn.execute(cases.insert(), [sl_row("NEW_UNDATED", GXSJ=None)])
            conn.execute(text("UPDATE DJT_DJ_SL SET GXSJ = ' ' WHERE YWH = 'NEW_UNDATED'"))
        else:
            conn.execute(cases.insert(), [sl_row("NEW_UNDATED", GXSJ=datetime(1, 1, 1))])  # a mistyped century
    writer.dispose()
    daily = load(url, target, "DJT_DJ_SL")  # incremental, as the scheduled runs load
    expected = {("YWH=NEW_NULL", "GXSJ"), ("YWH=NEW_UNDATED", "GXSJ")}
    if database_url.kind == "sqlite":
        expected.add(("YWH=Y00", "GXSJ"))
    assert {key for key in held(target)} >= expected
    assert {key for key, _ in held(target)} == {key for key, _ in expected}
    assert daily.rows_quarantined == len(expected) and daily.watermark == "2026-03-10 10:00:00"


def test_a_view_is_a_source_and_two_tables_differing_in_case_are_refused(database_url):
    """Vendors often grant the supervision account views only; a view was "not found".
    Two tables whose names differ only in letter case (a stale copy): one was read at
    random and a full scan then dropped the other's rows from staging; now refused."""
    url = database_url("source")
    metadata = build_metadata()
    register = metadata.tables["BDC_ZS"]
    register.name = "ZS_REGISTER"
    writer = create_engine(url)
    metadata.create_all(writer, tables=[register])
    with writer.begin() as conn:
        conn.execute(register.insert(), [zs_row(n) for n in range(1, 4)])
        conn.execute(text(f"CREATE VIEW BDC_ZS AS SELECT * FROM {writer.dialect.identifier_preparer.quote('ZS_REGISTER')}"))
    target = make_engine(database_url.migrated())
    assert load(url, target, "BDC_ZS", full_scan=True).rows_loaded == 3
    if database_url.kind == "sqlite":
        return  # SQLite's names are case-insensitive: it cannot hold two
    quote = '"' if database_url.kind == "postgresql" else "`"
    twin = "bdc_zs" if database_url.kind == "mysql" else "BDC_ZS"  # PostgreSQL folds the view's name to bdc_zs
    with writer.begin() as conn:
        conn.execute(text(f"CREATE TABLE {quote}{twin}{quote} AS SELECT * FROM "
                          f"{writer.dialect.identifier_preparer.quote('ZS_REGISTER')} WHERE 1 = 0"))
    writer.dispose()
    with pytest.raises(SourceSchemaError, match="different letter case") as refused:
        load(url, target, "BDC_ZS", full_scan=True)
    assert "bdc_zs" in str(refused.value) and "BDC_ZS" in str(refused.value) and refused.value.zh
    with target.connect() as conn:
        assert len(conn.execute(select(stg_bdc_zs.c.zsid)).all()) == 3  # staging untouched


def test_an_exact_repeat_of_a_held_row_in_a_later_chunk_is_held_again(sqlite_url):
    """A keyless table holding a bad row twice, the copies in different chunks: the second
    copy was skipped as a repeat while the gate reported its key, and the load died on a
    bare KeyError."""
    url = sqlite_url("source")
    metadata = build_metadata()
    zs = metadata.tables["BDC_ZS"]
    writer = create_engine(url)
    metadata.create_all(writer, tables=[zs])
    with writer.begin() as conn:
        conn.execute(text("CREATE TABLE ZS_COPY AS SELECT * FROM BDC_ZS WHERE 1 = 0"))
        conn.execute(text("DROP TABLE BDC_ZS"))
        conn.execute(text("ALTER TABLE ZS_COPY RENAME TO BDC_ZS"))
        rows = [zs_row(n) for n in range(1, 41)]
        rows[4] = zs_row(5, ZSZT=9)
        for row in [*rows, zs_row(5, ZSZT=9)]:
            conn.execute(zs.insert(), [row])
    target = make_engine(sqlite_url.migrated())
    result = load(url, target, "BDC_ZS", full_scan=True, chunk_size=20)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined, result.rows_repeated) == (41, 39, 2, 0)
    assert held(target) == {("ZSID=ZS05", "ZSZT")}


def test_postgresql_values_python_hands_over_as_lists_or_floats_are_masked(pg_database, sqlite_url):
    """A jsonb holder column with ID numbers and a staff id in a double column: the kept
    copy of a held row masks them (the JSON text, the integer of the float), and staging
    holds JSON text, not Python's repr. A NUL in a held row's certificate number is stored
    without it (PostgreSQL refuses NUL in text: the load died)."""
    url = pg_database("source")
    metadata = build_metadata()
    zs = metadata.tables["BDC_ZS"]
    zs.c["QLRMC"].type = postgresql.JSONB()
    writer = create_engine(url)
    metadata.create_all(writer, tables=[zs])
    holders = [{"xm": "张三", "zjh": "110101199003074517"}]
    with writer.begin() as conn:
        conn.execute(zs.insert(), [zs_row(n, QLRMC=holders) for n in range(1, 3)])
        conn.execute(zs.insert(), [zs_row(3, QLRMC=holders, ZSZT=9)])
    writer.dispose()
    target = make_engine(pg_database.migrated("supervision"))
    load(url, target, "BDC_ZS", full_scan=True)
    with target.connect() as conn:
        kept = conn.execute(select(quarantine.c.row_json)).scalar_one()
        staged = conn.execute(select(stg_bdc_zs.c.qlrmc).where(stg_bdc_zs.c.zsid == "ZS01")).scalar_one()
    assert "110101199003074517" not in kept and "110*************17" in kept
    assert json.loads(staged) == holders

    nul = sqlite_url("nul")
    writer = create_engine(nul)
    metadata = build_metadata()
    metadata.create_all(writer, tables=[metadata.tables["BDC_ZS"]])
    with writer.begin() as conn:
        conn.execute(metadata.tables["BDC_ZS"].insert(), [zs_row(n) for n in range(1, 61)])
        conn.execute(metadata.tables["BDC_ZS"].insert(), [zs_row(70, BDCQZH="晋(2026)阳泉市不动产权第\x000000070号",
                                                                ZSZT=9)])
    writer.dispose()
    target = make_engine(pg_database.migrated("supervision2"))
    result = load(nul, target, "BDC_ZS", full_scan=True)
    assert (result.rows_loaded, result.rows_quarantined) == (60, 1)
    with target.connect() as conn:
        assert conn.execute(select(quarantine.c.bdcqzh_norm)).scalar_one() == "晋(2026)阳泉市不动产权第0000070号"


def test_a_float_staff_id_is_masked_in_the_kept_row(sqlite_url):
    url = sqlite_url("source")
    metadata = build_metadata()
    staff = metadata.tables["RY_JBXX"]
    staff.c["ZJH"].type = Float()  # a vendor keeping the ID number as a double: 1.1010119900307451e+17
    writer = create_engine(url)
    metadata.create_all(writer, tables=[staff])
    with writer.begin() as conn:
        conn.execute(text("INSERT INTO RY_JBXX (RYBH, XM, ZJH, DWDM, YGLX, GW, SGSJ, GWKSSJ, ZT, GXSJ) VALUES "
                          "('R1', '王五', 1.1010119900307451e+17, 'YQ00', 1, '受理', '2020-01-01', '2020-01-01', 9, "
                          "'2026-03-10 10:00:00')"))
    target = make_engine(sqlite_url.migrated())
    load(url, target, "RY_JBXX", full_scan=True)
    with target.connect() as conn:
        kept = [json.loads(row) for row in conn.execute(select(quarantine.c.row_json)).scalars()]
    assert kept and all(row["ZJH"] == "110*************12" for row in kept), kept


def test_mariadb_bit_flags_read_as_their_number(mysql_database, sqlite_url):
    """BIT(1), how Hibernate stores a Boolean such as 考核结果: pymysql gives b'\\x01'. Every
    row was held as "did not parse" and the gate stopped the table."""
    url = mysql_database("source")
    metadata = build_metadata()
    training = metadata.tables["RY_PXJL"]
    training.c["KHJG"].type = mysql.BIT(1)
    writer = create_engine(url)
    metadata.create_all(writer, tables=[training])
    with writer.begin() as conn:
        conn.execute(training.insert(), [{"ID": f"P{i:02d}", "RYBH": "R1", "PXMC": "业务培训", "PXRQ": T.date(), "XS": 8,
                                          "KHJG": i % 2, "GXSJ": T} for i in range(60)])
    writer.dispose()
    target = make_engine(sqlite_url.migrated())
    result = load(url, target, "RY_PXJL", full_scan=True)
    assert (result.rows_loaded, result.rows_quarantined) == (60, 0)
    with target.connect() as conn:
        assert sorted(set(conn.execute(select(stg_ry_pxjl.c.khjg)).scalars())) == [0, 1]


@pytest.mark.parametrize("written", ["1101011990030745²7", "110101199003074①17", "１１０１０１１９９００３０７４５１７"])
def test_digits_of_other_scripts_are_no_id_number_and_no_crash(written):
    assert is_valid_id_number(written) is False
