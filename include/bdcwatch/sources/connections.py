"""Source and supervision databases as the engine reaches them: an Airflow Connection's
fields (conn_type, host, schema, ...) → a SQLAlchemy URL. Duck-typed, so it is tested
without Airflow; ``orchestration.connections`` fetches the Connection itself.

Connections are written the way Airflow users write them, e.g. ``sqlite:////srv/reg.db``
(Airflow puts the path in ``schema``) or ``postgresql://user:pw@host:5432/db``.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL

from bdcwatch.sources.values import python_codec

# Execution option carrying the connection's ``charset`` extra to extraction (the source's
# text encoding; see ``source_engine``).
CHARSET_OPTION = "bdcwatch_charset"

# Airflow conn_type → SQLAlchemy driver. Source systems in the field are often MySQL.
_DRIVERS = {
    "sqlite": "sqlite",
    "postgres": "postgresql+psycopg2",
    "postgresql": "postgresql+psycopg2",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
}


def connection_url(conn: Any) -> URL:
    """An Airflow Connection (duck-typed: conn_type, host, schema, ...) → SQLAlchemy URL."""
    conn_type = (conn.conn_type or "").lower()
    driver = _DRIVERS.get(conn_type)
    if driver is None:
        raise ValueError(
            f"connection {conn.conn_id!r} has type {conn.conn_type!r}; bdcwatch reads sqlite, postgres and mysql"
        )
    if driver == "sqlite":
        # sqlite:////srv/reg.db parses to an empty host and '/srv/reg.db' in schema;
        # sqlite:///relative.db to 'relative.db'. host is used if someone put it there.
        path = conn.schema or conn.host or ""
        return URL.create("sqlite", database=path or None)
    query = {}
    if driver.startswith("mysql"):
        # The server converts every correctly declared column to utf8mb4 losslessly; a
        # column whose declared charset is wrong is read raw (``charset`` extra, §5).
        query["charset"] = "utf8mb4"
    elif charset(conn):
        # PostgreSQL: a SQL_ASCII database's bytes are decoded by extraction with it; any other
        # database is read as UTF-8 whatever the extra says (source_engine).
        query["client_encoding"] = str(charset(conn))
    return URL.create(
        driver,
        username=conn.login or None,
        password=conn.password or None,
        host=conn.host or None,
        port=int(conn.port) if conn.port else None,
        database=conn.schema or None,
        query=query,
    )


def read_only(url: URL) -> URL:
    """Sources are never written to: open SQLite files in read-only mode. Server databases
    rely on the read-only account the operator configures in the connection."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return url
    return URL.create("sqlite", database=f"file:{url.database}?mode=ro", query={"uri": "true"})


def charset(conn: Any) -> str | None:
    """The connection's ``charset`` extra (CONTRACT §5): the character set the source's text
    is really written in, e.g. ``gbk`` for a legacy MySQL ``latin1`` table holding GBK bytes."""
    extra = getattr(conn, "extra_dejson", None) or {}
    value = extra.get("charset")
    return str(value) if value else None


def source_engine(url: URL, zone: tzinfo, text_charset: str | None = None) -> Engine:
    """A read-only engine on a source system (CONTRACT §5 "Source values as written").

    MySQL/MariaDB sessions get ``time_zone`` set to the policy ``zone``'s offset, so
    ``TIMESTAMP`` columns read back in local time as written. ``text_charset`` (the
    connection's ``charset`` extra) travels as an execution option to extraction, which
    decodes columns the database cannot convert itself (MySQL ``latin1`` holding GBK,
    SQLite text stored in a legacy encoding).
    """
    options = {CHARSET_OPTION: text_charset} if text_charset else {}
    engine = create_engine(read_only(url), pool_pre_ping=True, execution_options=options)
    if engine.dialect.name == "mysql":
        offset = session_offset(zone)

        @event.listens_for(engine, "connect")
        def _session_zone(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_conn.cursor()
            cursor.execute(f"SET time_zone = '{offset}'")
            cursor.close()
    elif engine.dialect.name == "postgresql":
        # A naive bound (the watermark) compared with a timestamptz GXSJ is read in the
        # session zone: make that the policy zone, as for MySQL (else a UTC server reads
        # the bound 8 hours late and an incremental load misses the rows in between).
        zone_name = getattr(zone, "key", None)
        set_zone = (("SET TIME ZONE %s", (zone_name,)) if zone_name else
                    (f"SET TIME ZONE INTERVAL '{session_offset(zone)}' HOUR TO MINUTE", ()))
        casters = _lenient_pg_dates()

        @event.listens_for(engine, "connect")
        def _pg_session(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_conn.cursor()
            cursor.execute(*set_zone)
            cursor.execute("SHOW server_encoding")
            (server_encoding,) = cursor.fetchone()
            cursor.close()
            if str(server_encoding).upper() != "SQL_ASCII":
                # The server knows its text: UTF-8 holds every character it can store, where a
                # client_encoding from the charset extra (GBK) failed on one it cannot (𠮷).
                # The extra matters for SQL_ASCII databases only (extraction decodes those).
                dbapi_conn.set_client_encoding("UTF8")
            dbapi_conn.commit()
            for caster in casters:
                caster.register(dbapi_conn)
    elif engine.dialect.name == "sqlite":
        # sqlite3 raises "Could not decode to UTF-8" mid-read; return such text as bytes
        # instead so extraction stops with the table and column named (§5).
        codec = python_codec(text_charset)

        def decode(raw: bytes) -> str | bytes:
            try:
                return raw.decode(codec)
            except UnicodeDecodeError:
                return raw  # extraction reports it, naming table and column

        @event.listens_for(engine, "connect")
        def _legacy_text(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            dbapi_conn.text_factory = decode

    return engine


class _PgCaster:
    """A psycopg2 type caster for one date/time type that hands a value Python's datetime
    cannot hold (year 20260 or a BC date typed into the source, ``infinity`` in a
    timestamptz) over as its text instead of raising mid-read: the gate then quarantines
    that row, naming its key and column (§5), and the rest of the table loads."""

    def __init__(self, pgext: Any, base: Any) -> None:
        self._base = base
        self._register = pgext.register_type
        self._type = pgext.new_type(base.values, f"BDCWATCH_{base.name}", self._cast)

    def _cast(self, value: str | None, cursor: Any) -> Any:
        try:
            return self._base(value, cursor)
        except (ValueError, OverflowError):
            return value

    def register(self, dbapi_conn: Any) -> None:
        self._register(self._type, dbapi_conn)


def _lenient_pg_dates() -> list[_PgCaster]:
    try:
        import psycopg2.extensions as pgext  # type: ignore[import-untyped]
    except ImportError:  # another PostgreSQL driver: its own conversion applies
        return []
    return [_PgCaster(pgext, base) for base in (pgext.PYDATETIME, pgext.PYDATETIMETZ, pgext.PYDATE)]


def session_offset(zone: tzinfo) -> str:
    """The MySQL/MariaDB ``time_zone`` for ``zone``: ``+08:00`` for Asia/Shanghai. MariaDB
    often lacks the named-zone tables, and the policy zones of Chinese registration (no DST
    since 1991) have one offset. The demo's dirty writer uses it too, so that what it writes
    through a session zone is read back through the same one."""
    offset = datetime.now(zone).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
