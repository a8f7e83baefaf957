"""Alembic builds exactly the schema the code uses, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bdcwatch.store.migrate import current_revision, head_revision, make_engine, migrate
from bdcwatch.store.models import metadata


def _diffs(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        return compare_metadata(context, metadata)


def test_sqlite_migration_matches_models_and_is_idempotent(sqlite_url):
    engine = make_engine(sqlite_url("supervision"))
    assert current_revision(engine) is None
    assert migrate(engine) == head_revision()
    assert migrate(engine) == head_revision()
    assert _diffs(engine) == []


def test_postgres_migration_matches_models(pg_database):
    engine = make_engine(pg_database())
    migrate(engine)
    assert _diffs(engine) == []


def test_mysql_migration_matches_models(mysql_database):
    engine = make_engine(mysql_database())
    migrate(engine)
    assert _diffs(engine) == []
