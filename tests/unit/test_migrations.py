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


def test_a_latin1_mariadb_database_is_made_utf8mb4_before_any_table(mysql_database):
    """Many MariaDB servers default new databases to latin1: the tables would then refuse
    Chinese text. An empty supervision_db is switched to utf8mb4 before the first table;
    a holder name with a CJK Extension B character and an emoji complaint are kept."""
    from datetime import datetime

    from sqlalchemy import select, text

    from bdcwatch.store.models import stg_bdc_zs

    engine = make_engine(mysql_database())
    with engine.begin() as conn:
        conn.execute(text("ALTER DATABASE CHARACTER SET latin1 COLLATE latin1_swedish_ci"))
    migrate(engine)
    assert _diffs(engine) == []
    name = "张𡒄😀"
    with engine.begin() as conn:
        conn.execute(stg_bdc_zs.insert().values(
            zsid="Z1", ywh="Y1", zslx=1, bdcqzh="N1", bdcqzh_norm="N1", bdcdyh="x" * 28, qlrmc=name,
            holders_norm=name, djjg="YQ00", szsj=datetime(2026, 3, 1), zszt=1, _load_id="t", gxsj=datetime(2026, 3, 1)))
        assert conn.execute(select(stg_bdc_zs.c.qlrmc)).scalar_one() == name


def test_a_mariadb_database_with_latin1_tables_is_refused_with_the_fix(mysql_database):
    from sqlalchemy import text

    from bdcwatch.store.migrate import SupervisionDatabaseError

    engine = make_engine(mysql_database())
    with engine.begin() as conn:
        conn.execute(text("ALTER DATABASE CHARACTER SET latin1 COLLATE latin1_swedish_ci"))
        conn.execute(text("CREATE TABLE legacy (id INT)"))
    with pytest.raises(SupervisionDatabaseError, match="CONVERT TO CHARACTER SET utf8mb4"):
        migrate(engine)
    assert current_revision(engine) is None


def test_mariadb_supervision_db_compares_text_exactly_new_or_upgraded(mysql_database):
    """Text compares code point by code point, as on PostgreSQL and SQLite (migration
    0014): a new database gets the binary collation before its first table, and one made
    before 0014 in a case-folding collation has its default and every table converted."""
    from alembic import command
    from sqlalchemy import text

    from bdcwatch.store.migrate import MYSQL_COLLATION, alembic_config

    def collations(engine) -> set[str]:
        with engine.connect() as conn:
            return set(conn.execute(text(
                "SELECT TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() UNION "
                "SELECT DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE()"
            )).scalars())

    fresh = make_engine(mysql_database())
    migrate(fresh)
    assert collations(fresh) == {MYSQL_COLLATION}

    older = make_engine(mysql_database())
    with older.begin() as conn:
        conn.execute(text("ALTER DATABASE CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    config = alembic_config()
    with older.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0013")
    assert collations(older) == {"utf8mb4_unicode_ci"}
    with older.begin() as conn:
        conn.execute(text("INSERT INTO stg_ry_jbxx (rybh, xm, zjh_valid, zt, gxsj, _load_id) VALUES ('hn102', '张三', 1, 1, '2026-03-01', 'x')"))
    migrate(older)
    assert collations(older) == {MYSQL_COLLATION}
    assert _diffs(older) == []
    with older.begin() as conn:  # folded, this would be a duplicate key
        conn.execute(text("INSERT INTO stg_ry_jbxx (rybh, xm, zjh_valid, zt, gxsj, _load_id) VALUES ('HN102', '张三', 1, 1, '2026-03-01', 'x')"))
        assert conn.execute(text("SELECT COUNT(*) FROM stg_ry_jbxx WHERE rybh = 'hn102'")).scalar_one() == 1


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


def test_0011_fills_occurred_on_from_each_findings_detail(sqlite_url):
    """Findings recorded before 0011 get the day their problem happened: the rule's date in
    the detail, else the day before the first run's as-of, else the day first detected."""
    from datetime import date

    from alembic import command
    from sqlalchemy import select, text

    from bdcwatch.store.migrate import alembic_config
    from bdcwatch.store.models import finding

    engine = make_engine(sqlite_url("occurred"))
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0010")
        rows = [  # rule, detail, judged_as_of, first detected
            ("ECERT_MISSING", '{"szsj": "2026-11-30 23:10:00"}', "2026-12-01 00:00:00", "2026-12-01 02:00:00"),
            ("ECERT_MISMATCH", "{}", "2026-12-01 00:00:00", "2026-12-01 02:00:00"),
            ("STAFF_RECORD_INCOMPLETE", "{}", None, "2026-12-02 09:30:00"),
            ("CASE_OVERDUE", '{"jssj": "not a date"}', "2026-11-02 00:00:00", "2026-11-02 02:00:00"),
        ]
        for n, (rule, detail, judged, first) in enumerate(rows):
            conn.execute(text(
                "INSERT INTO finding (fingerprint, rule_code, severity, unit_code, subject_type, subject_id, detail,"
                " status, first_detected_at, last_detected_at, due_date, dag_id, first_run_id, last_run_id,"
                " judged_as_of) VALUES (:fp, :rule, 'high', 'YQ21', 'BDCQZH', :s, :detail, 'open', :first, :first,"
                " '2026-12-31', 'd', 'r', 'r', :judged)"),
                {"fp": f"{rule}|{n}|", "rule": rule, "s": str(n), "detail": detail, "first": first, "judged": judged})
        command.upgrade(config, "head")
    with engine.connect() as conn:
        found = conn.execute(select(finding.c.rule_code, finding.c.occurred_on).order_by(finding.c.id)).all()
    assert found == [("ECERT_MISSING", date(2026, 11, 30)), ("ECERT_MISMATCH", date(2026, 11, 30)),
                     ("STAFF_RECORD_INCOMPLETE", date(2026, 12, 2)), ("CASE_OVERDUE", date(2026, 11, 1))]


def test_0011_frozen_rule_dates_equal_the_rules_declarations():
    """The migration keeps its own copy of each rule's ``occurred`` key (a migration must not
    change with the code); today they are the rules' declarations."""
    import importlib.util
    from pathlib import Path

    import bdcwatch.store
    from bdcwatch import rules

    path = Path(bdcwatch.store.__file__).parent / "migrations" / "versions" / "0011_finding_occurred_on.py"
    spec = importlib.util.spec_from_file_location("migration_0011", path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    declared = {code: rule.occurred for code, rule in rules.all_rules().items() if rule.occurred}
    assert declared == migration.OCCURRED_KEYS


def test_0017_fills_subject_shown_where_the_pages_mask_the_subject(sqlite_url):
    """Findings recorded before 0017: a subject holding an ID number gets its masked form
    (the subject search reads it), any other none (shown as written)."""
    from alembic import command
    from sqlalchemy import select, text

    from bdcwatch.store.migrate import alembic_config
    from bdcwatch.store.models import finding

    engine = make_engine(sqlite_url("shown"))
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0016")
        for n, subject in enumerate(["GD110101199003074512", "YQ21-2026-03-000001", "110101199003074512"]):
            conn.execute(text(
                "INSERT INTO finding (fingerprint, rule_code, severity, unit_code, subject_type, subject_id, detail,"
                " status, first_detected_at, last_detected_at, due_date, dag_id, first_run_id, last_run_id)"
                " VALUES (:fp, 'COMPLAINT', 'high', 'YQ21', 'GDBH', :s, '{}', 'open', '2026-12-01 09:00:00',"
                " '2026-12-01 09:00:00', '2026-12-31', 'd', 'r', 'r')"), {"fp": f"COMPLAINT|{n}|", "s": subject})
        command.upgrade(config, "head")
    with engine.connect() as conn:
        shown = conn.execute(select(finding.c.subject_shown).order_by(finding.c.id)).scalars().all()
    assert shown == ["GD110*************12", None, "110*************12"]


def test_0017_keys_a_missed_duty_by_its_unit(sqlite_url):
    from alembic import command
    from sqlalchemy import select, text

    from bdcwatch.store.migrate import alembic_config
    from bdcwatch.store.models import finding

    engine = make_engine(sqlite_url("duty"))
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0016")
        conn.execute(text(
            "INSERT INTO finding (fingerprint, rule_code, severity, unit_code, subject_type, subject_id, period, detail,"
            " status, first_detected_at, last_detected_at, due_date, dag_id, first_run_id, last_run_id)"
            " VALUES ('DUTY_MISSED|DRILL|2026', 'DUTY_MISSED', 'medium', 'YQGX', 'DUTY', 'DRILL', '2026', '{}', 'open',"
            " '2027-01-01 07:30:00', '2027-01-01 07:30:00', '2027-01-29', 'd', 'r', 'r')"))
        command.upgrade(config, "head")
    with engine.connect() as conn:
        row = conn.execute(select(finding.c.subject_id, finding.c.fingerprint)).one()
    assert tuple(row) == ("DRILL@YQGX", "DUTY_MISSED|DRILL@YQGX|2026")
