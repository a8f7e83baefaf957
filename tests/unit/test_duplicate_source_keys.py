"""A source table without a primary key (a vendor's view, a copy made without constraints,
a replication that applied a change twice) holding one key in several rows (CONTRACT §5:
never one row silently winning). On every supported supervision database, with the source
on the same server.

Rows that repeat a key's first row value for value are staged once and counted
(``rows_repeated``); rows sharing a key with different values are held back together in
quarantine on the key column, whether they came in one chunk or in two, and the key is
staged again once the source keeps one row.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import Engine, create_engine, select, text

from bdcwatch.sources.extract import load_table
from bdcwatch.sources.reasons import KEY_UNIQUE
from bdcwatch.sources.schema import build_metadata
from bdcwatch.store.migrate import make_engine
from bdcwatch.store.models import load_log, quarantine, stg_bdc_zs

LOADED_AT = datetime(2026, 6, 1, 9, 0)
T = datetime(2026, 3, 10, 10, 0)
CHUNK = 20  # small chunks, so a key's rows can fall into different chunks


def zs_row(n: int, **overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "ZSID": f"ZS{n:02d}", "YWH": f"Y{n:02d}", "ZSLX": 1, "BDCQZH": f"晋(2026)阳泉市不动产权第{n:07d}号",
        "BDCDYH": "140302001001GB00001F00010001", "QLRMC": "张三", "QLRZJH": None, "DJJG": "YQ00", "SZSJ": T,
        "ZSZT": 1, "GXSJ": T}
    row.update(overrides)
    return row


def keyless_source(url: str, rows: list[dict[str, object]]) -> Engine:
    """BDC_ZS as the reference DDL has it but without its primary key, holding ``rows`` in
    this order (every engine here returns an unordered scan of a fresh heap in insert order;
    the test does not depend on it beyond which chunk a row falls in)."""
    engine = create_engine(url)
    metadata = build_metadata()
    table = metadata.tables["BDC_ZS"]
    metadata.create_all(engine, tables=[table])
    with engine.begin() as conn:
        conn.execute(text('CREATE TABLE ZS_COPY AS SELECT * FROM BDC_ZS WHERE 1 = 0'))
        conn.execute(text("DROP TABLE BDC_ZS"))
        conn.execute(text("ALTER TABLE ZS_COPY RENAME TO BDC_ZS"))
        for row in rows:  # one statement a row: the order the rows are read in
            conn.execute(table.insert(), [row])
    return engine


def staged_keys(target: Engine) -> set[str]:
    with target.connect() as conn:
        return set(conn.execute(select(stg_bdc_zs.c.zsid)).scalars())


def open_entries(target: Engine) -> dict[str, tuple[str, str]]:
    with target.connect() as conn:
        return {r.row_key: (r.column_name, r.expectation) for r in conn.execute(
            select(quarantine).where(quarantine.c.resolved_at.is_(None)))}


def test_repeated_keys_are_staged_once_or_held_never_one_row_silently_winning(database_url):
    rows = [zs_row(n) for n in range(1, 61)]
    rows.insert(2, zs_row(2))  # ZS02 twice, value for value, in one chunk
    rows.insert(4, zs_row(3, DJJG="YQ01"))  # ZS03 twice in one chunk, 登记机构 differs
    rows.append(zs_row(4, ZSZT=2))  # ZS04 again two chunks later, 证书状态 differs
    rows.append(zs_row(5))  # ZS05 again two chunks later, value for value
    source = keyless_source(database_url("source"), rows)
    target = make_engine(database_url.migrated())

    result = load_table(source, target, "BDC_ZS", run_id="r1", full_scan=True, chunk_size=CHUNK, now=LOADED_AT)

    assert (result.rows_read, result.rows_loaded, result.rows_quarantined, result.rows_repeated) == (64, 58, 4, 2)
    assert staged_keys(target) == {f"ZS{n:02d}" for n in range(1, 61)} - {"ZS03", "ZS04"}
    assert open_entries(target) == {"ZSID=ZS03": ("ZSID", KEY_UNIQUE), "ZSID=ZS04": ("ZSID", KEY_UNIQUE)}
    with target.connect() as conn:
        logged = conn.execute(select(load_log)).one()
        reason = conn.execute(select(quarantine.c.reason).where(quarantine.c.row_key == "ZSID=ZS03")).scalar_one()
    assert (logged.rows_read, logged.rows_loaded, logged.rows_quarantined, logged.rows_repeated,
            logged.rows_deleted) == (64, 58, 4, 2, 0)
    assert "more than one row of the source, with different values" in reason
    assert "2 rows of this chunk have this key" in reason

    # The source keeps one row of each key: the next full scan stages them and closes the entries.
    with source.begin() as conn:
        conn.execute(text("DELETE FROM BDC_ZS WHERE DJJG = 'YQ01' OR ZSZT = 2"))
    again = load_table(source, target, "BDC_ZS", run_id="r2", full_scan=True, chunk_size=CHUNK, now=LOADED_AT)
    assert (again.rows_read, again.rows_loaded, again.rows_quarantined, again.rows_repeated) == (62, 60, 0, 2)
    assert staged_keys(target) == {f"ZS{n:02d}" for n in range(1, 61)}
    assert open_entries(target) == {}


@pytest.mark.parametrize("copies", [2, 3])
def test_a_key_repeated_across_chunks_is_held_whichever_copy_differs(sqlite_url, copies):
    """The first row staged, an exact copy, then a differing one (a third chunk): every row
    of the key held, none staged, each counted once as quarantined."""
    rows = [zs_row(n) for n in range(1, 61)]
    rows.insert(CHUNK + 1, zs_row(7))  # exact copy in the second chunk
    if copies == 3:
        rows.append(zs_row(7, ZSZT=2))  # and a differing one in the last chunk
    source = keyless_source(sqlite_url("source"), rows)
    target = make_engine(sqlite_url.migrated())
    result = load_table(source, target, "BDC_ZS", run_id="r1", full_scan=True, chunk_size=CHUNK, now=LOADED_AT)
    if copies == 2:
        assert (result.rows_loaded, result.rows_quarantined, result.rows_repeated) == (60, 0, 1)
        assert "ZS07" in staged_keys(target)
    else:
        # The exact copy was counted as repeated before the differing row came: it stays counted so.
        assert (result.rows_loaded, result.rows_quarantined, result.rows_repeated) == (59, 2, 1)
        assert "ZS07" not in staged_keys(target)
        assert open_entries(target) == {"ZSID=ZS07": ("ZSID", KEY_UNIQUE)}
    assert result.rows_read == result.rows_loaded + result.rows_quarantined + result.rows_repeated


def test_keys_that_differ_only_in_letter_case_are_two_rows(database_url):
    """§5: a source value keeps its text form. MariaDB's default collations fold case: there
    ``ZS9F3A`` overwrote ``zs9f3a`` in staging, where PostgreSQL and SQLite kept both."""
    rows = [zs_row(n) for n in range(1, 59)]
    rows += [zs_row(90, ZSID="zs9f3a", DJJG="YQ00"), zs_row(91, ZSID="ZS9F3A", DJJG="YQ01")]
    source = keyless_source(database_url("source"), rows)
    target = make_engine(database_url.migrated())
    result = load_table(source, target, "BDC_ZS", run_id="r1", full_scan=True, chunk_size=CHUNK, now=LOADED_AT)
    assert (result.rows_loaded, result.rows_quarantined) == (60, 0)
    with target.connect() as conn:
        staged = dict(conn.execute(select(stg_bdc_zs.c.zsid, stg_bdc_zs.c.djjg)
                                   .where(stg_bdc_zs.c.zsid.in_(["zs9f3a", "ZS9F3A"]))).tuples().all())
    assert staged == {"zs9f3a": "YQ00", "ZS9F3A": "YQ01"}
