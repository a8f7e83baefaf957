"""Alembic builds exactly the schema the code uses, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
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


def test_downgrade_below_0008_refuses_to_break_the_audit_chain(sqlite_url):
    """Without events outside a finding the schema goes down to 0007 and back up; once a
    verdict or duty event is in the trail, the downgrade refuses (deleting it would break
    the hash chain) and the trail stays whole."""
    from datetime import datetime

    from alembic import command

    from bdcwatch.ledger.audit import AuditEvent, append_events, verify_chain
    from bdcwatch.store.migrate import alembic_config

    engine = make_engine(sqlite_url("downgrade"))
    migrate(engine)
    config = alembic_config()

    def to(revision: str, direction=command.downgrade) -> None:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            direction(config, revision)

    to("0007")
    assert current_revision(engine) == "0007"
    to("head", command.upgrade)
    with engine.begin() as conn:
        append_events(conn, [AuditEvent(None, datetime(2026, 3, 2, 9), "质检科", None, "不合格", "评查结论",
                                        subject="inspection:1:Y1")])
    with pytest.raises(RuntimeError, match="holds 1 events without a finding .* restore the backup"):
        to("0007")
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        assert verify_chain(conn) == []
