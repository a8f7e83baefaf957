"""Real source systems' quirks on PostgreSQL and MariaDB (issue 10 items 2-4, CONTRACT §5):
zero dates under ``sql_mode=''``, ``TIMESTAMP`` written from a +08:00 session,
``timestamptz`` on a UTC server, and a latin1 table holding GBK bytes. The ``dialect``
tier (skipped with the reason when the server is not running)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import DateTime, Engine, String, create_engine, select, text
from sqlalchemy.dialects.mysql import MEDIUMTEXT, TIMESTAMP
from sqlalchemy.engine import URL, make_url
from sqlalchemy.types import TypeEngine

from bdcwatch.errors import QualityGateError
from bdcwatch.sources.connections import source_engine
from bdcwatch.sources.extract import load_table
from bdcwatch.sources.schema import build_metadata
from bdcwatch.store.migrate import make_engine
from bdcwatch.store.models import load_log, quarantine, stg_bdc_zs, stg_djt_dj_sl
from tests.ecert_world import number

LOADED_AT = datetime(2026, 6, 1, 9, 0)
SHANGHAI = ZoneInfo("Asia/Shanghai")
T = datetime(2026, 3, 10, 10, 0)
UNIT = "140302001001GB00001F00010001"


def sl_row(ywh: str) -> dict[str, object]:
    return {"YWH": ywh, "DJJG": "YQ00", "QXDM": "140302", "DJDL": "200", "QLLX": None, "BDCDYH": UNIT, "SQFS": 1,
            "SLRYBH": "R1", "SLSJ": T, "AJZT": 1, "JSSJ": None, "GQTS": 0, "GXSJ": T}


def test_mariadb_zero_dates_of_cases_in_progress_are_null_and_do_not_stop_the_run(mysql_database, sqlite_url):
    url = make_url(mysql_database("source"))
    writer = create_engine(url)
    metadata = build_metadata()
    metadata.create_all(writer)
    with writer.begin() as conn:
        conn.execute(text("SET SESSION sql_mode = ''"))
        conn.execute(metadata.tables["DJT_DJ_SL"].insert(), [sl_row(f"Y{i:02d}") for i in range(60)])
        conn.execute(text("UPDATE DJT_DJ_SL SET JSSJ = '0000-00-00 00:00:00' WHERE YWH < 'Y10'"))
        conn.execute(text("UPDATE DJT_DJ_SL SET SLSJ = '0000-00-00 00:00:00' WHERE YWH = 'Y59'"))
    writer.dispose()
    supervision = make_engine(sqlite_url.migrated())
    result = load_table(source_engine(url, SHANGHAI), supervision, "DJT_DJ_SL", run_id="t", full_scan=True,
                        now=LOADED_AT)
    assert (result.rows_loaded, result.rows_quarantined, result.values_nulled) == (59, 1, 10)
    with supervision.connect() as conn:
        assert conn.execute(select(load_log.c.values_nulled)).scalar_one() == 10
        assert {(q.row_key, q.column_name) for q in conn.execute(select(quarantine))} == {("YWH=Y59", "SLSJ")}


def _zoned_source(url: URL, table: str, column: str, column_type: TypeEngine[Any], row: dict[str, object],
                  setup: str, written: str) -> Engine:
    """A one-row source whose ``table.column`` is declared ``column_type`` and set by the
    statement ``written`` after ``setup`` (the writer's session or database zone); the
    engine reads it as bdcwatch does, in the Shanghai policy zone."""
    metadata = build_metadata()
    metadata.tables[table].c[column].type = column_type
    writer = create_engine(url)
    metadata.create_all(writer)
    with writer.begin() as conn:
        conn.execute(text(setup))
        conn.execute(metadata.tables[table].insert(), [row])
        conn.execute(text(written))
    writer.dispose()
    return source_engine(url, SHANGHAI)


def _staged(source: Engine, supervision_url: str, table: str, column: Any) -> Any:
    """Load ``table`` from ``source`` into a fresh supervision DB; the one staged value of ``column``."""
    supervision = make_engine(supervision_url)
    load_table(source, supervision, table, run_id="t", full_scan=True, now=LOADED_AT)
    with supervision.connect() as conn:
        return conn.execute(select(column)).scalar_one()


def test_mariadb_timestamp_written_from_a_plus_eight_session_reads_as_written(mysql_database, sqlite_url):
    source = _zoned_source(make_url(mysql_database("source")), "DJT_DJ_SL", "SLSJ", TIMESTAMP(), sl_row("Y1"),
                           "SET time_zone = '+08:00'", "UPDATE DJT_DJ_SL SET SLSJ = '2026-03-01 07:00:00'")
    with source.connect() as conn:
        assert conn.execute(text("SELECT @@session.time_zone")).scalar_one() == "+08:00"
    assert _staged(source, sqlite_url.migrated(), "DJT_DJ_SL", stg_djt_dj_sl.c.slsj) == datetime(2026, 3, 1, 7, 0)


def test_postgresql_timestamptz_on_a_utc_server_stays_in_its_month(pg_database, sqlite_url):
    url = make_url(pg_database("source"))
    row = {"ZSID": "ZS1", "YWH": "Y1", "ZSLX": 1, "BDCQZH": number(1), "BDCDYH": UNIT, "QLRMC": "张三",
           "DJJG": "YQ00", "SZSJ": T, "ZSZT": 1, "GXSJ": T}
    source = _zoned_source(url, "BDC_ZS", "SZSJ", DateTime(timezone=True), row,
                           f'ALTER DATABASE "{url.database}" SET timezone TO \'UTC\'',
                           "UPDATE bdc_zs SET szsj = '2026-03-01 07:00+08'")
    plain = create_engine(url)  # the server's own session zone: UTC
    with plain.connect() as conn:
        assert conn.execute(text("SHOW timezone")).scalar_one() == "UTC"
    plain.dispose()
    with source.connect() as conn:  # bdcwatch reads in the policy zone (incremental bounds, §5)
        assert conn.execute(text("SHOW timezone")).scalar_one() == "Asia/Shanghai"
    assert _staged(source, sqlite_url.migrated(), "BDC_ZS", stg_bdc_zs.c.szsj) == datetime(2026, 3, 1, 7, 0)


@pytest.fixture
def latin1_gbk_source(mysql_database):
    """A legacy MariaDB table declared latin1 holding GBK bytes, written as such systems do."""
    url = make_url(mysql_database("source"))
    metadata = build_metadata()
    writer = create_engine(url)
    metadata.tables["BDC_ZS"].kwargs["mysql_charset"] = "latin1"
    metadata.tables["BDC_ZS"].create(writer)
    with writer.begin() as conn:
        for i in range(12):
            conn.execute(text(
                f"INSERT INTO BDC_ZS (ZSID, YWH, ZSLX, BDCQZH, BDCDYH, QLRMC, DJJG, SZSJ, ZSZT, GXSJ) VALUES "
                f"(:z, :y, 1, _latin1 X'{number(i).encode('gbk').hex()}', :u, _latin1 X'{'阿卜来提·如则托合提'.encode('gbk').hex()}', "
                f"'YQ00', :t, 1, :t)"), {"z": f"ZS{i:02d}", "y": f"Y{i}", "u": UNIT, "t": T + timedelta(minutes=i)})
    writer.dispose()
    return url


def test_mariadb_latin1_table_with_gbk_bytes_stops_the_load_naming_the_cause(latin1_gbk_source, sqlite_url):
    supervision = make_engine(sqlite_url.migrated())
    with pytest.raises(QualityGateError) as raised:
        load_table(source_engine(latin1_gbk_source, SHANGHAI), supervision, "BDC_ZS", run_id="t", full_scan=True,
                   now=LOADED_AT)
    assert "BDC_ZS column BDCQZH: 12 of 12" in str(raised.value)
    assert "GBK read as latin1" in str(raised.value)


def test_mariadb_latin1_table_with_gbk_bytes_reads_right_with_the_charset_extra(latin1_gbk_source, sqlite_url):
    supervision = make_engine(sqlite_url.migrated())
    result = load_table(source_engine(latin1_gbk_source, SHANGHAI, "gbk"), supervision, "BDC_ZS", run_id="t",
                        full_scan=True, now=LOADED_AT)
    assert (result.rows_loaded, result.rows_quarantined) == (12, 0)
    with supervision.connect() as conn:
        staged = {r.bdcqzh: r.qlrmc for r in conn.execute(select(stg_bdc_zs))}
    assert staged == {number(i): "阿卜来提·如则托合提" for i in range(12)}


def test_a_held_back_row_of_the_latin1_gbk_table_is_kept_as_its_text(latin1_gbk_source, sqlite_url):
    """Columns read raw (bytes) are shown in the quarantine's reason and kept copy in the
    source's character set (the charset extra), not as UTF-8 replacement characters."""
    writer = create_engine(latin1_gbk_source)
    with writer.begin() as conn:
        conn.execute(text(f"UPDATE BDC_ZS SET BDCDYH = _latin1 X'{'单元号缺'.encode('gbk').hex()}' WHERE ZSID = 'ZS03'"))
    writer.dispose()
    supervision = make_engine(sqlite_url.migrated())
    result = load_table(source_engine(latin1_gbk_source, SHANGHAI, "gbk"), supervision, "BDC_ZS", run_id="t",
                        full_scan=True, now=LOADED_AT)
    assert (result.rows_loaded, result.rows_quarantined) == (11, 1)
    with supervision.connect() as conn:
        held = conn.execute(select(quarantine).where(quarantine.c.source_table == "BDC_ZS")).one()
    assert (held.row_key, held.column_name) == ("ZSID=ZS03", "BDCDYH")
    kept = json.loads(held.row_json)
    assert (kept["QLRMC"], kept["BDCDYH"], kept["BDCQZH"]) == ("阿卜来提·如则托合提", "单元号缺", number(3))
    assert "'单元号缺'" in held.reason and "\ufffd" not in held.row_json + held.reason


def test_one_gbk_value_cut_in_half_stops_the_load_naming_its_row_not_the_charset(latin1_gbk_source, sqlite_url):
    """§5: text that cannot be decoded stops the load naming table, column and the likely
    cause. With the charset set and every other name decoding, one name cut in the middle
    of a character is a damaged value at a named row, not a wrong character set."""
    cut = "阿卜来提".encode("gbk")[:-1].hex()
    writer = create_engine(latin1_gbk_source)
    with writer.begin() as conn:
        conn.execute(text(f"UPDATE BDC_ZS SET QLRMC = _latin1 X'{cut}' WHERE ZSID = 'ZS07'"))
    writer.dispose()
    supervision = make_engine(sqlite_url.migrated())
    with pytest.raises(QualityGateError) as stopped:
        load_table(source_engine(latin1_gbk_source, SHANGHAI, "gbk"), supervision, "BDC_ZS", run_id="t",
                   full_scan=True, now=LOADED_AT)
    message = str(stopped.value)
    assert "column QLRMC" in message and "ZSID=ZS07" in message and "1 of 12 values" in message
    assert "damaged in the source" in message and "charset" not in message.split("(")[0]
    assert "ZSID=ZS07" in stopped.value.zh and "已损坏" in stopped.value.zh


def _zs_row(zsid: str, at: datetime, **overrides: object) -> dict[str, object]:
    row: dict[str, object] = {"ZSID": zsid, "YWH": f"Y{zsid}", "ZSLX": 1, "BDCQZH": number(int(zsid[2:])),
                              "BDCDYH": UNIT, "QLRMC": "张三", "DJJG": "YQ00", "SZSJ": at, "ZSZT": 1, "GXSJ": at}
    row.update(overrides)
    return row


def test_postgresql_incremental_read_of_a_timestamptz_gxsj_on_a_utc_server_misses_nothing(pg_database, sqlite_url):
    """The watermark is a naive local time; compared with a timestamptz GXSJ it is read in
    the session zone, which bdcwatch sets to the policy zone. On a UTC session the bound
    would be read 8 hours late and a row changed 3 hours after the watermark never loaded."""
    url = make_url(pg_database("source"))
    metadata = build_metadata()
    zs = metadata.tables["BDC_ZS"]
    zs.c["GXSJ"].type = DateTime(timezone=True)
    writer = create_engine(url)
    zs.create(writer)
    with writer.begin() as conn:
        conn.execute(text(f'ALTER DATABASE "{url.database}" SET timezone TO \'UTC\''))
    writer.dispose()
    writer = create_engine(url)
    with writer.begin() as conn:
        conn.execute(zs.insert(), [_zs_row("ZS1", T, GXSJ=T.replace(tzinfo=SHANGHAI))])
    supervision = make_engine(sqlite_url.migrated())
    first = load_table(source_engine(url, SHANGHAI), supervision, "BDC_ZS", run_id="t", full_scan=True, now=LOADED_AT)
    assert first.watermark == "2026-03-10 10:00:00"
    later = T + timedelta(hours=3)
    with writer.begin() as conn:
        conn.execute(zs.insert(), [_zs_row("ZS2", later, GXSJ=later.replace(tzinfo=SHANGHAI))])
    writer.dispose()
    second = load_table(source_engine(url, SHANGHAI), supervision, "BDC_ZS", run_id="t", now=LOADED_AT)
    assert second.rows_loaded == 2 and second.watermark == "2026-03-10 13:00:00"
    with supervision.connect() as conn:
        assert sorted(conn.execute(select(stg_bdc_zs.c.zsid)).scalars()) == ["ZS1", "ZS2"]


@pytest.mark.parametrize("server", ["pg_database", "mysql_database"])
def test_an_incremental_read_of_a_varchar_gxsj_with_offsets_misses_nothing(server, request, sqlite_url):
    """A vendor's GXSJ declared VARCHAR, written in UTC with an offset: PostgreSQL has no
    ``varchar >= timestamp`` (the daily load failed), and MariaDB compared the text
    ``2026-03-10 03:30:00+00:00`` (11:30 in Beijing) with ``2026-03-10 09:00:00`` and skipped
    the row. Text is compared from a day before the watermark (``WATERMARK_OVERLAP``)."""
    url = make_url(request.getfixturevalue(server)("source"))
    metadata = build_metadata()
    zs = metadata.tables["BDC_ZS"]
    zs.c["GXSJ"].type = String(40)
    writer = create_engine(url)
    zs.create(writer)
    with writer.begin() as conn:
        conn.execute(zs.insert(), [_zs_row("ZS1", T, GXSJ="2026-03-10 10:00:00")])
    supervision = make_engine(sqlite_url.migrated())
    first = load_table(source_engine(url, SHANGHAI), supervision, "BDC_ZS", run_id="t", full_scan=True, now=LOADED_AT)
    assert first.watermark == "2026-03-10 10:00:00"
    with writer.begin() as conn:  # changed at 11:30 and 11:40 Beijing time
        conn.execute(zs.insert(), [_zs_row("ZS2", T, GXSJ="2026-03-10 03:30:00+00:00"),
                                   _zs_row("ZS3", T, GXSJ="2026-03-10T11:40:00+08:00")])
    writer.dispose()
    second = load_table(source_engine(url, SHANGHAI), supervision, "BDC_ZS", run_id="t", now=LOADED_AT)
    assert second.watermark == "2026-03-10 11:40:00"
    with supervision.connect() as conn:
        assert sorted(conn.execute(select(stg_bdc_zs.c.zsid)).scalars()) == ["ZS1", "ZS2", "ZS3"]


def test_postgresql_dates_python_cannot_hold_are_quarantined_not_a_crash(pg_database, sqlite_url):
    """A year typed with five digits, a BC date and ``infinity`` in a timestamptz: psycopg2
    raises on them mid-read unless they reach the gate as text. The first two are
    quarantined naming key and column; ``infinity`` in a cancellation time is PostgreSQL's
    open end, read as NULL like ``9999-12-31`` (not cancelled) and counted; the good rows load."""
    url = make_url(pg_database("source"))
    metadata = build_metadata()
    zs = metadata.tables["BDC_ZS"]
    zs.c["ZXSJ"].type = DateTime(timezone=True)
    writer = create_engine(url)
    zs.create(writer)
    with writer.begin() as conn:
        conn.execute(zs.insert(), [_zs_row(f"ZS{i}", T) for i in range(1, 5)])
        conn.execute(text("UPDATE bdc_zs SET szsj = '20260-03-10 10:00' WHERE zsid = 'ZS2'"))
        conn.execute(text("UPDATE bdc_zs SET szsj = '0044-03-15 10:00 BC' WHERE zsid = 'ZS3'"))
        conn.execute(text("UPDATE bdc_zs SET zxsj = 'infinity' WHERE zsid = 'ZS4'"))
    writer.dispose()
    supervision = make_engine(sqlite_url.migrated())
    result = load_table(source_engine(url, SHANGHAI), supervision, "BDC_ZS", run_id="t", full_scan=True,
                        now=LOADED_AT)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined, result.values_nulled) == (4, 2, 2, 1)
    with supervision.connect() as conn:
        held = {(q.row_key, q.column_name) for q in conn.execute(select(quarantine))}
        open_ended = conn.execute(select(stg_bdc_zs.c.zxsj).where(stg_bdc_zs.c.zsid == "ZS4")).scalar_one()
    assert held == {("ZSID=ZS2", "SZSJ"), ("ZSID=ZS3", "SZSJ")} and open_ended is None


@pytest.mark.parametrize("server", ["postgresql", "mysql"])
def test_numeric_ids_and_codes_with_decimal_places_keep_their_text(server, request, sqlite_url):
    """§5: "an INTEGER column holding 10023 is '10023', never '10023.0'" — a vendor's
    NUMERIC(20,2) SLRYBH and QLLX (Decimal 10023.00, 37.00) too: they became '10023.00'
    (an unknown handler) and '37.00' (QLLX too long for its column: the case held)."""
    from sqlalchemy import Numeric

    url = make_url(request.getfixturevalue("pg_database" if server == "postgresql" else "mysql_database")("source"))
    metadata = build_metadata()
    sl = metadata.tables["DJT_DJ_SL"]
    sl.c["SLRYBH"].type = Numeric(20, 2)
    sl.c["QLLX"].type = Numeric(20, 2)
    writer = create_engine(url)
    sl.create(writer)
    with writer.begin() as conn:
        conn.execute(sl.insert(), [{**sl_row("Y1"), "SLRYBH": 10023, "QLLX": 37}, sl_row("Y2") | {"SLRYBH": None}])
    writer.dispose()
    supervision = make_engine(sqlite_url.migrated())
    result = load_table(source_engine(url, SHANGHAI), supervision, "DJT_DJ_SL", run_id="t", full_scan=True,
                        now=LOADED_AT)
    assert (result.rows_loaded, result.rows_quarantined) == (2, 0)
    with supervision.connect() as conn:
        staged = {r.ywh: (r.slrybh, r.qllx) for r in conn.execute(select(stg_djt_dj_sl))}
    assert staged == {"Y1": ("10023", "37"), "Y2": (None, None)}


def test_postgresql_sql_ascii_database_with_gbk_bytes_is_named_or_read_with_the_charset_extra(
        _server_databases, sqlite_url):
    """A legacy PostgreSQL database created SQL_ASCII holds GBK bytes: the driver failed
    mid-read with a bare UnicodeDecodeError naming nothing. Without the ``charset`` extra
    the load stops naming table, column, row and the likely cause (§5); with it, it reads."""
    import uuid

    import psycopg2

    databases = _server_databases("postgresql")
    name = f"bdcw_{uuid.uuid4().hex[:12]}"
    with databases.admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name} ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' "
                          "TEMPLATE template0"))
    databases.created.append(name)
    url = make_url(databases.url(name))
    metadata = build_metadata()
    metadata.tables["BDC_ZS"].create(create_engine(url))
    raw = psycopg2.connect(host=url.host, port=url.port, user=url.username, dbname=name)
    raw.set_client_encoding("SQL_ASCII")  # the legacy client wrote GBK bytes as they were
    def gbk(text_: object) -> str:  # a string literal of the GBK bytes, as the legacy client sent them
        return "E'" + "".join(f"\\x{b:02x}" for b in str(text_).encode("gbk")) + "'"

    with raw, raw.cursor() as cursor:
        for i in range(1, 4):
            row = _zs_row(f"ZS{i}", T)
            cursor.execute("INSERT INTO bdc_zs (zsid, ywh, zslx, bdcqzh, bdcdyh, qlrmc, djjg, szsj, zszt, gxsj) "
                           f"VALUES (%s, %s, 1, {gbk(row['BDCQZH'])}, %s, {gbk('张三')}, 'YQ00', %s, 1, %s)",
                           (row["ZSID"], row["YWH"], UNIT, T, T))
    raw.close()
    supervision = make_engine(sqlite_url.migrated())
    with pytest.raises(QualityGateError, match=r"BDC_ZS column BDCQZH: text cannot be decoded as utf-8.*charset"):
        load_table(source_engine(url, SHANGHAI), supervision, "BDC_ZS", run_id="t", full_scan=True, now=LOADED_AT)
    result = load_table(source_engine(url, SHANGHAI, "gbk"), supervision, "BDC_ZS", run_id="t", full_scan=True,
                        now=LOADED_AT)
    assert result.rows_loaded == 3
    with supervision.connect() as conn:
        assert {r.qlrmc for r in conn.execute(select(stg_bdc_zs))} == {"张三"}


def test_postgresql_utf8_database_read_with_a_gbk_extra_keeps_characters_gbk_lacks(pg_database, sqlite_url):
    """A charset extra of gbk on a UTF8 database made the server convert to GBK and fail on
    a character GBK lacks (𠮷): a UTF8 database is read as UTF-8 whatever the extra says."""
    url = make_url(pg_database("source"))
    metadata = build_metadata()
    writer = create_engine(url)
    metadata.tables["BDC_ZS"].create(writer)
    with writer.begin() as conn:
        conn.execute(metadata.tables["BDC_ZS"].insert(), [{**_zs_row("ZS1", T), "QLRMC": "𠮷野家"}])
    writer.dispose()
    supervision = make_engine(sqlite_url.migrated())
    as_configured = url.update_query_dict({"client_encoding": "gbk"})  # what connections.py builds from the extra
    load_table(source_engine(as_configured, SHANGHAI, "gbk"), supervision, "BDC_ZS", run_id="t", full_scan=True,
               now=LOADED_AT)
    with supervision.connect() as conn:
        assert conn.execute(select(stg_bdc_zs.c.qlrmc)).scalar_one() == "𠮷野家"


def test_mariadb_quarantine_keeps_a_huge_value_clipped(mysql_database):
    """A pasted document in a free-text column far longer than its reference column is
    quarantined; its kept copy is clipped so the quarantine row fits MariaDB's TEXT (64 KB)
    and the chunk's good rows are staged."""
    source_url = make_url(mysql_database("source"))
    metadata = build_metadata()
    writer = create_engine(source_url)
    metadata.tables["BDC_ZS"].c["QLRMC"].type = MEDIUMTEXT()
    metadata.tables["BDC_ZS"].create(writer)
    with writer.begin() as conn:
        conn.execute(metadata.tables["BDC_ZS"].insert(), [_zs_row(f"ZS{i}", T) for i in range(1, 21)])
        conn.execute(text("UPDATE BDC_ZS SET QLRMC = :v WHERE ZSID = 'ZS7'"), {"v": "张" * 30_000})
    writer.dispose()
    supervision = make_engine(mysql_database.migrated("supervision"))
    result = load_table(source_engine(source_url, SHANGHAI), supervision, "BDC_ZS", run_id="t", full_scan=True,
                        now=LOADED_AT)
    assert (result.rows_loaded, result.rows_quarantined) == (19, 1)
    with supervision.connect() as conn:
        (held,) = conn.execute(select(quarantine)).all()
    assert held.row_key == "ZSID=ZS7" and held.column_name == "QLRMC"
    assert "共 30000 字" in held.reason and len(held.reason) < 5_000
    assert "共 30000 字" in json.loads(held.row_json)["QLRMC"]


def test_postgresql_materialized_view_is_read_and_a_stale_column_in_other_case_is_refused(pg_database, sqlite_url):
    """Vendors grant a materialized view (or a postgres_fdw foreign table): it was reported
    as "does not exist". A table holding both "GXSJ" and a stale gxsj was read from one of
    them silently (the watermark went back years): which one holds the data cannot be
    told. A table with none of the reference columns is named as such (SQLite and MariaDB
    gave a bare SQL syntax error)."""
    from bdcwatch.errors import SourceSchemaError

    url = make_url(pg_database("source"))
    metadata = build_metadata()
    writer = create_engine(url)
    metadata.tables["BDC_ZS"].create(writer)
    with writer.begin() as conn:
        conn.execute(metadata.tables["BDC_ZS"].insert(), [_zs_row(f"ZS{i}", T) for i in range(1, 4)])
        conn.execute(text("ALTER TABLE bdc_zs RENAME TO zs_base"))
        conn.execute(text('CREATE MATERIALIZED VIEW "BDC_ZS" AS SELECT * FROM zs_base'))
        conn.execute(text('CREATE VIEW "BDC_DZZZ_ZZXX" AS SELECT 1 AS x'))
    supervision = make_engine(sqlite_url.migrated())
    source = source_engine(url, SHANGHAI)
    assert load_table(source, supervision, "BDC_ZS", run_id="t", full_scan=True, now=LOADED_AT).rows_loaded == 3
    with pytest.raises(SourceSchemaError, match=r"has none of the columns of BDC_DZZZ_ZZXX"):
        load_table(source, supervision, "BDC_DZZZ_ZZXX", run_id="t", full_scan=True, now=LOADED_AT)
    with writer.begin() as conn:
        conn.execute(text('DROP MATERIALIZED VIEW "BDC_ZS"'))
        conn.execute(text("ALTER TABLE zs_base RENAME TO bdc_zs"))
        conn.execute(text('ALTER TABLE bdc_zs ADD COLUMN "GXSJ" timestamp'))  # beside the lower-case gxsj
    writer.dispose()
    with pytest.raises(SourceSchemaError, match=r"two columns named GXSJ in different letter case"):
        load_table(source_engine(url, SHANGHAI), supervision, "BDC_ZS", run_id="t", full_scan=True, now=LOADED_AT)
