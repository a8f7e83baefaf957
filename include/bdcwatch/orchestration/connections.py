"""Airflow's side of the connections (CONTRACT §1): the Connection objects, turned into
engines, SMTP settings and the UI's address. Connections may be defined in the Airflow
UI/metadata DB or as ``AIRFLOW_CONN_<ID>`` environment variables."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.engine import URL

from bdcwatch.errors import ConnectionConfigError
from bdcwatch.mail.sender import SmtpSettings, SslContext
from bdcwatch.sources import connections as source_connections
from bdcwatch.sources.connections import connection_url
from bdcwatch.sources.schema import ECERT as ECERT_DB
from bdcwatch.sources.schema import REGISTRATION as REGISTRATION_DB
from bdcwatch.sources.schema import STAFF as STAFF_REGISTRY_DB
from bdcwatch.store.migrate import make_engine

__all__ = ["ECERT_DB", "REGISTRATION_DB", "SMTP_DEFAULT", "STAFF_REGISTRY_DB", "SUPERVISION_DB"]

SUPERVISION_DB = "supervision_db"
SMTP_DEFAULT = "smtp_default"


def connection(conn_id: str) -> Any:
    """The Airflow Connection ``conn_id`` (from the metadata DB or an env variable)."""
    from airflow.sdk import BaseHook

    return BaseHook.get_connection(conn_id)


def database_url(conn_id: str) -> URL:
    return connection_url(connection(conn_id))


@lru_cache(maxsize=32)
def source_engine(conn_id: str, zone: ZoneInfo | None = None) -> Engine:
    """A read-only engine on a source system (SQLite files are opened read-only), MySQL
    sessions in ``zone`` (default: the policy's), the ``charset`` extra applied
    (CONTRACT §5)."""
    from bdcwatch.config.policy import cached_policy

    conn = connection(conn_id)
    return source_connections.source_engine(connection_url(conn), zone or cached_policy().timezone,
                                            source_connections.charset(conn))


@lru_cache(maxsize=16)
def supervision_engine(conn_id: str = SUPERVISION_DB) -> Engine:
    """An engine on ``supervision_db`` (or a city's, e.g. ``supervision_db__1401``)."""
    return make_engine(database_url(conn_id).render_as_string(hide_password=False))


def smtp_settings(conn_id: str = SMTP_DEFAULT) -> SmtpSettings:
    """SMTP settings from the connection the Airflow SMTP provider also reads, with its
    extras: ``from_email``, ``disable_ssl``, ``disable_tls``, ``timeout`` and
    ``ssl_context`` (``default``: verify the relay's certificate; ``none``: do not, for a
    test relay; unset: Airflow's ``[email] ssl_context``, else ``default``).

    Raises:
        ConnectionConfigError: ``ssl_context`` is neither ``default`` nor ``none``.
    """
    conn = connection(conn_id)
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
        operations_email=str(extra["operations_email"]) if extra.get("operations_email") else None,
        ssl_context=_ssl_context(conn_id, extra.get("ssl_context")),
    )


def _ssl_context(conn_id: str, value: Any) -> SslContext:
    """The provider's rule: "default" or "none", nothing else (hooks/smtp.py _build_ssl_context)."""
    if value is None:
        try:
            from airflow.configuration import conf

            value = conf.get("email", "ssl_context", fallback="default")
        except Exception:  # config not readable outside an Airflow environment: verify
            value = "default"
    text = str(value).strip().lower()
    if text == "default":
        return "default"
    if text == "none":
        return "none"
    raise ConnectionConfigError(
        f"connection {conn_id}: extra ssl_context is {value!r}; use \"default\" (verify the relay's certificate) "
        "or \"none\" (do not verify: a test relay only)"
    )


def smtp_sender() -> str:
    """The From address of the mail (``smtp_default``), or a placeholder when the
    connection is not defined (a dry run renders without it)."""
    try:
        return smtp_settings().from_email
    except Exception:  # no smtp_default: a dry run still renders its .eml files
        return "bdcwatch@localhost"


def run_log_folder(dag_id: str, run_id: str) -> Path:
    """The run's folder under Airflow's ``[logging] base_log_folder`` (the default log
    file template puts each task's log in ``dag_id=…/run_id=…/``)."""
    from airflow.configuration import conf

    base = Path(conf.get("logging", "base_log_folder"))
    return base / f"dag_id={dag_id}" / f"run_id={run_id}"


def ui_base_url() -> str | None:
    """The Airflow UI's address from [api] base_url (None when not configured)."""
    base = os.environ.get("AIRFLOW__API__BASE_URL")
    if not base:
        try:
            from airflow.configuration import conf

            base = conf.get("api", "base_url", fallback=None)
        except Exception:  # config not readable outside an Airflow environment
            return None
    return base.rstrip("/") if base else None
