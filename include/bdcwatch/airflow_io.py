"""The only module that talks to Airflow: connection ids → SQLAlchemy URLs and SMTP settings.

Connections may be defined in the Airflow UI/metadata DB or as ``AIRFLOW_CONN_<ID>``
environment variables, the way Airflow users write them, e.g.
``sqlite:////srv/reg.db`` (Airflow puts the path in ``schema``) or
``postgresql://user:pw@host:5432/db``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import URL

from .mail import SmtpSettings
from .source_schema import ECERT as ECERT_DB
from .source_schema import REGISTRATION as REGISTRATION_DB
from .source_schema import STAFF as STAFF_REGISTRY_DB

__all__ = ["ECERT_DB", "REGISTRATION_DB", "SMTP_DEFAULT", "STAFF_REGISTRY_DB", "SUPERVISION_DB"]

SUPERVISION_DB = "supervision_db"
SMTP_DEFAULT = "smtp_default"

# Airflow conn_type → SQLAlchemy driver. Source systems in the field are often MySQL.
_DRIVERS = {
    "sqlite": "sqlite",
    "postgres": "postgresql+psycopg2",
    "postgresql": "postgresql+psycopg2",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
}


def _connection(conn_id: str) -> Any:
    from airflow.sdk import BaseHook

    return BaseHook.get_connection(conn_id)


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


def database_url(conn_id: str) -> URL:
    return connection_url(_connection(conn_id))


def read_only(url: URL) -> URL:
    """Sources are never written to: open SQLite files in read-only mode. Server databases
    rely on the read-only account the operator configures in the connection."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return url
    return URL.create("sqlite", database=f"file:{url.database}?mode=ro", query={"uri": "true"})


def smtp_settings(conn_id: str = SMTP_DEFAULT) -> SmtpSettings:
    """SMTP settings from the connection the Airflow SMTP provider also reads."""
    conn = _connection(conn_id)
    extra = conn.extra_dejson or {}

    def flag(name: str) -> bool:
        value = extra.get(name, False)
        return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")

    return SmtpSettings(
        host=conn.host or "localhost",
        port=int(conn.port or 25),
        login=conn.login or None,
        password=conn.password or None,
        from_email=str(extra.get("from_email") or conn.login or "bdcwatch@localhost"),
        use_ssl=not flag("disable_ssl"),
        use_starttls=not flag("disable_tls"),
        timeout=int(extra.get("timeout", 30)),
    )


def ui_url(dag_id: str) -> str | None:
    """Link to the DAG in the Airflow UI, from [api] base_url (None when not configured)."""
    import os

    base = os.environ.get("AIRFLOW__API__BASE_URL")
    if not base:
        try:
            from airflow.configuration import conf

            base = conf.get("api", "base_url", fallback=None)
        except Exception:  # config not readable outside an Airflow environment
            return None
    return f"{base.rstrip('/')}/dags/{dag_id}" if base else None
