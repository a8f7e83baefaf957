"""What the routes work with: supervision_db, the policy and the policy zone's clock.

supervision_db is the ``supervision_db`` Airflow connection (``AIRFLOW_CONN_SUPERVISION_DB``
or the metadata DB), read on each request (a tenth of a millisecond) so a changed
connection is used without a restart; one engine per URL, migrated to the newest schema
on first use like every other entry point (``store.migrate``).
"""

from __future__ import annotations

import threading
from datetime import date, datetime
from functools import lru_cache

from fastapi import HTTPException, status
from sqlalchemy import Engine

from bdcwatch.config.policy import Policy, cached_policy
from bdcwatch.dates.clock import local_now

_migrating = threading.Lock()


@lru_cache(maxsize=4)
def _engine_for(url: str) -> Engine:
    from bdcwatch.store.migrate import make_engine, migrate

    engine = make_engine(url)
    with _migrating:
        migrate(engine)
    return engine


def supervision() -> Engine:
    """The engine on supervision_db.

    Raises:
        HTTPException: 503 when the connection is not defined or the database does not
            answer (the page says which; no traceback reaches the user).
    """
    from bdcwatch.orchestration.connections import SUPERVISION_DB, database_url

    try:
        url = database_url(SUPERVISION_DB).render_as_string(hide_password=False)
    except Exception as error:  # Airflow's AirflowNotFoundException, or a URL it cannot parse
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            f"supervision_db is not configured ({type(error).__name__}: {error})") from None
    try:
        return _engine_for(url)
    except Exception as error:  # the database does not answer or cannot be migrated
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            f"supervision_db does not answer ({type(error).__name__})") from None


def policy() -> Policy:
    return cached_policy()


def now() -> datetime:
    """The policy zone's wall clock (stored timestamps are local, CONTRACT §2)."""
    return local_now(cached_policy().timezone)


def today() -> date:
    return now().date()
