"""Alembic environment for supervision_db.

Run through ``bdcwatch.db.migrate(engine)``, which hands over an open connection; the
URL form (``alembic -x url=...``) is for operators who want plain Alembic.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from bdcwatch.store.models import metadata

config = context.config


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER much
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("give the supervision_db URL: alembic -x url=postgresql://... upgrade head")
    with create_engine(url).connect() as conn:
        _run(conn)
