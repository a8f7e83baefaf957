"""Engines and schema management for supervision_db.

``migrate`` brings a database to the newest Alembic revision (a new, empty database
included), so every entry point can call it first and a fresh deployment needs no manual
step.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text

MIGRATIONS = Path(__file__).with_name("migrations")


def make_engine(url: str) -> Engine:
    """Create an engine with the settings the engine relies on for each dialect."""
    engine = create_engine(url, future=True, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_conn.cursor()
            # WAL lets the Airflow UI read the ledger while a task writes; the busy timeout
            # makes parallel tasks wait for the write lock instead of failing at once.
            cursor.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL never corrupts the file; at worst a power cut loses the last
            # commit, which a rerun of the run redoes (every write is keyed for reruns).
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=60000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
    return engine


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migrations found"
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


class SupervisionDatabaseError(RuntimeError):
    """supervision_db cannot hold what bdcwatch writes (the message says how to fix it)."""


# Text in supervision_db on MySQL/MariaDB compares as PostgreSQL and SQLite compare it:
# code point by code point. The servers' default collations fold letter case (and some
# accents), which would make the source keys ``zs9f3a`` and ``ZS9F3A`` one staging row and
# staff id ``hn102`` the same person as ``HN102`` there only (CONTRACT §5: a source value
# keeps its text form). Migration 0014 converts databases made before.
MYSQL_COLLATION = "utf8mb4_bin"


def _mysql_utf8mb4(engine: Engine) -> None:
    """supervision_db on MySQL/MariaDB must store text as utf8mb4 (names with CJK Extension
    B characters such as 𡒄, emoji in complaint texts) and compare it exactly
    (``MYSQL_COLLATION``): tables take the database's default character set, which is latin1
    or utf8mb3 on many servers, and its case-insensitive collation. A new, empty database is
    switched to utf8mb4 with the binary collation here; one that already has tables in
    another character set is refused with the statement that converts it, before anything
    is written to it (one in utf8mb4 with another collation is converted by migration 0014).

    Raises:
        SupervisionDatabaseError: the database has tables and its character set is not utf8mb4.
    """
    with engine.connect() as conn:
        name, charset, collation = conn.execute(text(
            "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA "
            "WHERE SCHEMA_NAME = DATABASE()")).one()
        if str(collation).lower() == MYSQL_COLLATION:
            return
        tables = conn.execute(text("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
                              ).scalar_one()
    if tables and str(charset).lower() != "utf8mb4":
        raise SupervisionDatabaseError(
            f"supervision_db `{name}` uses the character set {charset}; bdcwatch needs utf8mb4. Convert it "
            f"(ALTER DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE {MYSQL_COLLATION}, then ALTER TABLE … "
            f"CONVERT TO CHARACTER SET utf8mb4 COLLATE {MYSQL_COLLATION} for each table) or create it anew with "
            f"CHARACTER SET utf8mb4 COLLATE {MYSQL_COLLATION}")
    if tables:
        return  # utf8mb4 already: migration 0014 converts its tables and default collation
    with engine.begin() as conn:
        conn.execute(text(f"ALTER DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE {MYSQL_COLLATION}"))


def migrate(engine: Engine) -> str:
    """Upgrade supervision_db to the newest revision; returns that revision.

    Raises:
        SupervisionDatabaseError: MySQL/MariaDB database with tables in another character
            set than utf8mb4 (``_mysql_utf8mb4``).
    """
    if current_revision(engine) == head_revision():
        return head_revision()
    if engine.dialect.name == "mysql":
        _mysql_utf8mb4(engine)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return head_revision()
