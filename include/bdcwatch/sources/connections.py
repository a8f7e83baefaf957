"""Source and supervision databases as the engine reaches them: an Airflow Connection's
fields (conn_type, host, schema, ...) → a SQLAlchemy URL. Duck-typed, so it is tested
without Airflow; ``orchestration.connections`` fetches the Connection itself.

Connections are written the way Airflow users write them, e.g. ``sqlite:////srv/reg.db``
(Airflow puts the path in ``schema``) or ``postgresql://user:pw@host:5432/db``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import URL

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
        query["charset"] = "utf8mb4"
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


