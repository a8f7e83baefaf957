"""One load of a source table at a time, across DAG runs, workers and processes.

Two DAGs read the same tables (the daily e-certificate check and the monthly cycles; a
manual ``full_scan`` beside a scheduled run). Loads of one table must not interleave: a
full scan deletes the staging rows it did not write, so a row another load upserted in
the middle was deleted although the source still has it (and the watermark then skipped
it for good: an incremental-load adversary lost 26 of 29 e-certificates that way), and an
older copy written last moved the watermark back. The lock lives where the loads write:

* PostgreSQL: a session advisory lock (``pg_try_advisory_lock``) on a connection held for
  the load;
* MySQL/MariaDB: a named lock (``GET_LOCK``) on such a connection;
* SQLite (the embedded default, one machine): an exclusive ``flock`` on a file beside the
  database; an in-memory database has one process and needs none.

A load waiting for another polls every few seconds and gives up after ``timeout`` with an
error Airflow retries (a load that long is stuck, not slow).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Connection, Engine, text

from bdcwatch.errors import BdcwatchError

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = timedelta(hours=3)
POLL_SECONDS = 3.0


class LoadLockTimeoutError(BdcwatchError):
    """Another load of the same table held its lock for longer than the timeout."""


@contextmanager
def load_lock(engine: Engine, table_name: str, *, timeout: timedelta = DEFAULT_TIMEOUT,
              poll_seconds: float = POLL_SECONDS) -> Iterator[None]:
    """Hold the load lock of source table ``table_name`` in supervision_db ``engine``.

    Raises:
        LoadLockTimeoutError: another load held it for longer than ``timeout`` (retryable).
    """
    name = f"bdcwatch_load_{table_name}"
    dialect = engine.dialect.name
    if dialect == "sqlite":
        database = engine.url.database
        if not database or database == ":memory:" or database.startswith("file::memory:"):
            yield
            return
        with _file_lock(Path(f"{database}.{table_name}.load.lock"), name, timeout, poll_seconds):
            yield
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if dialect == "postgresql":
            key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
            acquire, release = "SELECT pg_try_advisory_lock(:key)", "SELECT pg_advisory_unlock(:key)"
            params: dict[str, object] = {"key": key}
        elif dialect == "mysql":
            acquire, release = "SELECT GET_LOCK(:name, 0)", "SELECT RELEASE_LOCK(:name)"
            params = {"name": name[:64]}
        else:  # another database: no lock (loads of one table must then not overlap)
            log.warning("no load lock on %s: loads of %s must not run at the same time", dialect, table_name)
            yield
            return
        _wait(lambda: bool(conn.execute(text(acquire), params).scalar()), name, timeout, poll_seconds)
        try:
            yield
        finally:
            _release(conn, release, params)


def _release(conn: Connection, statement: str, params: dict[str, object]) -> None:
    try:
        conn.execute(text(statement), params)
    except Exception:  # a lost connection releases a session lock by itself
        log.warning("load lock release failed; the server releases it with the session", exc_info=True)


@contextmanager
def _file_lock(path: Path, name: str, timeout: timedelta, poll_seconds: float) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        def take() -> bool:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        _wait(take, name, timeout, poll_seconds)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _wait(take: Callable[[], bool], name: str, timeout: timedelta, poll_seconds: float) -> None:
    """Call ``take`` every ``poll_seconds`` until it returns True; raise LoadLockTimeoutError
    after ``timeout``. Counted in polls, not read off a clock: a process under a shifted or
    frozen clock (the test suite's clock pass) still gives up."""
    polls = max(1, math.ceil(timeout.total_seconds() / poll_seconds))
    for poll in range(polls + 1):
        if take():
            if poll:
                log.info("%s: the other load finished; loading now", name)
            return
        if poll == 0:
            log.info("%s: another load of this table is running; waiting for it", name)
        if poll < polls:
            time.sleep(poll_seconds)
    table = name.removeprefix("bdcwatch_load_")
    raise LoadLockTimeoutError(
        f"{name}: another load of the table held the lock for more than {timeout}; retry later",
        zh=f"源表 {table} 正由另一次运行读取，等待超过 {timeout} 仍未结束：稍后自动重试；"
           "如持续出现，请检查是否有卡住的任务")
