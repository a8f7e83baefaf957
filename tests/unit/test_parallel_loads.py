"""Loads side by side (issue 13 items 1 and 5): a deployment with supervision_db on a
server sets BDCWATCH_PARALLEL_LOADS and the Celery workers load a run's tables at once,
each writing its own staging table but sharing ``quarantine``, ``load_log`` and
``watermark``. On PostgreSQL and MariaDB, three tables loaded in three processes at once
(small chunks, so their transactions interleave; dirty rows in each, so all three write
quarantine; a second full scan after the source fixed and dropped rows, so all three
resolve quarantine entries) leave exactly what the same loads leave one after the other,
and none of them fails on a lock."""

from __future__ import annotations

import multiprocessing
import sqlite3
from concurrent.futures import ProcessPoolExecutor
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from bdcwatch.demo import generate
from bdcwatch.store.migrate import make_engine
from bdcwatch.store.models import STAGING, load_log, quarantine, watermark

TABLES = ("BDC_ZS", "BDC_DZZZ_ZZXX", "DJF_DJ_DB")
LOADED_AT = datetime(2026, 4, 10, 9, 0)
CHUNK = 30  # rows per chunk: each load commits some 20 transactions while the others do

# Rows the gate must hold back, in each table: (SQL on the SQLite source, what it breaks).
BREAK = {
    "BDC_ZS": "UPDATE BDC_ZS SET ZSZT = 9 WHERE rowid % 37 = 0",
    "BDC_DZZZ_ZZXX": "UPDATE BDC_DZZZ_ZZXX SET ZZZT = 7 WHERE rowid % 41 = 0",
    "DJF_DJ_DB": "UPDATE DJF_DJ_DB SET DBSJ = '2026-13-45 10:00:00' WHERE rowid % 43 = 0",
}
# The source fixes half of them and drops a few good rows before the second full scan.
FIX = {
    "BDC_ZS": "UPDATE BDC_ZS SET ZSZT = 1 WHERE ZSZT = 9 AND rowid % 2 = 0",
    "BDC_DZZZ_ZZXX": "UPDATE BDC_DZZZ_ZZXX SET ZZZT = 1 WHERE ZZZT = 7 AND rowid % 2 = 0",
    "DJF_DJ_DB": "UPDATE DJF_DJ_DB SET DBSJ = GXSJ WHERE DBSJ LIKE '2026-13-45%' AND rowid % 2 = 0",
}
DROP = {table: f"DELETE FROM {table} WHERE rowid % 53 = 1" for table in TABLES}


def _warm() -> None:
    """Each worker builds its validators before any load starts (GX's import and context
    take seconds), so that the three loads really run at the same time."""
    from bdcwatch.sources.gate import validator_for
    from bdcwatch.sources.schema import SOURCE_TABLES

    for table in TABLES:
        validator_for(table, SOURCE_TABLES[table].key)


def _load(source_url: str, target_url: str, table: str, run_id: str) -> dict[str, Any]:
    """One Celery worker's load task: its own process and engines. Returns the load's
    result with the monotonic-clock seconds it started and ended (``span``)."""
    import time
    from zoneinfo import ZoneInfo

    from sqlalchemy import create_engine

    from bdcwatch.sources.extract import load_table

    source, target = create_engine(source_url), make_engine(target_url)
    started = time.monotonic()  # one clock for every process of the machine (CLOCK_MONOTONIC): only to show overlap
    try:
        result = load_table(source, target, table, run_id=run_id, full_scan=True, chunk_size=CHUNK, now=LOADED_AT,
                            zone=ZoneInfo("Asia/Shanghai")).as_dict()
        return {**result, "span": (started, time.monotonic())}
    finally:
        source.dispose()
        target.dispose()


def _state(engine: Engine) -> dict[str, Any]:
    """Everything the loads wrote, without ids and the per-load uuids (new each time)."""
    def rows(*selected: Any, leave_out: tuple[str, ...] = ()) -> list[tuple[tuple[str, str], ...]]:
        with engine.connect() as conn:
            return sorted(tuple((name, str(value)) for name, value in row.items() if name not in leave_out)
                          for row in conn.execute(select(*selected)).mappings())

    return {
        **{table: rows(STAGING[table], leave_out=("_load_id",)) for table in TABLES},
        "quarantine": rows(quarantine, leave_out=("id", "last_load_id")),
        "load_log": rows(load_log.c.run_id, load_log.c.source_table, load_log.c.rows_read, load_log.c.rows_loaded,
                         load_log.c.rows_quarantined, load_log.c.rows_deleted, load_log.c.values_nulled),
        "watermark": rows(watermark),
    }


@pytest.mark.parametrize("server", ["pg_database", "mysql_database"])
def test_three_tables_loaded_at_once_leave_what_one_at_a_time_leaves(server: str, request: pytest.FixtureRequest,
                                                                     tmp_path: Path):
    databases = request.getfixturevalue(server)
    source_path = tmp_path / "sources.db"
    source_url = f"sqlite:///{source_path}"
    generate(source_url, source_url, source_url, size=600, seed=13, dirty=True, period_start=date(2026, 3, 1),
             period_end=date(2026, 4, 1), today=date(2026, 4, 10))
    one_at_a_time, at_once = databases.migrated("serial"), databases.migrated("parallel")

    def change_source(*statements: dict[str, str]) -> None:
        with sqlite3.connect(source_path) as conn:
            for changes in statements:
                for statement in changes.values():
                    conn.execute(statement)

    change_source(BREAK)
    spawn = multiprocessing.get_context("spawn")  # as separate as two Celery workers' processes
    with ProcessPoolExecutor(len(TABLES), mp_context=spawn, initializer=_warm) as pool:
        for run_id in ("first", "second"):
            for table in TABLES:
                _load(source_url, one_at_a_time, table, run_id)
            loads = [pool.submit(_load, source_url, at_once, table, run_id) for table in TABLES]
            results = [future.result() for future in loads]  # a lock timeout or deadlock fails here
            assert all(result["rows_quarantined"] for result in results)  # all three wrote quarantine
            assert max(r["span"][0] for r in results) < min(r["span"][1] for r in results)  # all three at once
            if run_id == "first":
                change_source(FIX, DROP)

    serial, parallel = make_engine(one_at_a_time), make_engine(at_once)
    expected, got = _state(serial), _state(parallel)
    serial.dispose()
    parallel.dispose()
    assert got == expected
    # The second scan resolved entries in every table (rows fixed or dropped) and dropped
    # the rows the source no longer has from every staging table.
    resolved = {dict(row)["source_table"] for row in got["quarantine"] if dict(row)["resolved_at"] != "None"}
    assert resolved == set(TABLES)
    second = [dict(row) for row in got["load_log"] if dict(row)["run_id"] == "second"]
    assert len(second) == len(TABLES) and all(int(row["rows_deleted"]) > 0 for row in second)
