"""A finding detected again (ledger.findings.record_findings, one upsert per rule) on every
supported database: it takes the unit the source now names and is announced to that unit;
its status, first detection and announcement stay otherwise."""

from __future__ import annotations

import json
from datetime import date, datetime

from sqlalchemy import select, update

from bdcwatch.config.run import RunContext
from bdcwatch.ledger.findings import record_findings
from bdcwatch.ledger.lifecycle import change_status
from bdcwatch.store.migrate import make_engine
from bdcwatch.store.models import finding


def detect(engine, rows: list[tuple[str, str]], run_id: str, now: datetime) -> None:
    select_sql = " UNION ALL ".join(
        f"SELECT :s{i} AS subject_id, :u{i} AS unit_code, :d AS detail" for i in range(len(rows)))
    params = {"d": json.dumps({"deadline": "2026-03-05"})}
    for i, (subject, unit) in enumerate(rows):
        params |= {f"s{i}": subject, f"u{i}": unit}
    with engine.begin() as conn:
        record_findings(conn, rule_code="CASE_OVERDUE_OPEN", severity="medium", subject_type="YWH", period=None,
                        due_date=date(2026, 4, 7), select_sql=select_sql, params=params,
                        ctx=RunContext("case_timeliness_watch", run_id, now))


def test_a_finding_follows_its_unit_when_the_source_corrects_it(database_url):
    """Case MOVED was YQ21's; the source corrected its DJJG to YQ11 and the daily runs kept
    detecting it there, but the ledger kept YQ21: YQ21's heads got its lists and its bureau
    the escalations, YQ11 was never told (a ledger adversary, §6)."""
    engine = make_engine(database_url.migrated())
    detect(engine, [("MOVED", "YQ21"), ("STAYS", "YQ21")], "r1", datetime(2026, 3, 10, 7, 30))
    with engine.begin() as conn:
        conn.execute(update(finding).values(notified_outbox_id=7))  # both announced to YQ21
        moved = conn.execute(select(finding.c.id).where(finding.c.subject_id == "MOVED")).scalar_one()
        change_status(conn, [moved], "rectifying", actor="张科长", note="已督办", now=datetime(2026, 3, 11, 9))

    detect(engine, [("MOVED", "YQ11"), ("STAYS", "YQ21")], "r2", datetime(2026, 3, 13, 7, 30))
    with engine.connect() as conn:
        rows = {r.subject_id: r for r in conn.execute(select(finding))}
    assert (rows["MOVED"].unit_code, rows["MOVED"].notified_outbox_id) == ("YQ11", None)
    assert rows["MOVED"].status == "rectifying" and rows["MOVED"].first_run_id == "r1"
    assert rows["MOVED"].last_run_id == "r2"
    assert (rows["STAYS"].unit_code, rows["STAYS"].notified_outbox_id) == ("YQ21", 7)  # nothing to tell again


def test_a_runs_findings_stay_its_own_after_a_later_run(database_url):
    """The watch list and the 六不准 counts read the findings their run detected. Read by
    ``last_run_id``, a later run detecting the same findings took them away: a compose task
    retried after the next day's run (an Airflow clear) sent an empty list (a ledger
    adversary). Kept per run (``finding_run``) for RUN_RECORD_DAYS."""
    from datetime import timedelta

    from bdcwatch.config.policy import load_policy
    from bdcwatch.config.run import Job, RunSpec
    from bdcwatch.ledger.findings import RUN_RECORD_DAYS
    from bdcwatch.ledger.preview import run_findings
    from bdcwatch.store.models import finding_run

    engine = make_engine(database_url.migrated())
    first, second = datetime(2026, 3, 10, 7, 30), datetime(2026, 3, 11, 7, 30)
    detect(engine, [("A", "YQ21"), ("B", "YQ21")], "scheduled__2026-03-09", first)
    detect(engine, [("A", "YQ21"), ("C", "YQ11")], "scheduled__2026-03-10", second)

    def subjects(run_id: str, now: datetime) -> list[str]:
        job = Job(RunSpec(period_start=date(2026, 3, 9), period_end=date(2026, 3, 10)), load_policy(), engine,
                  RunContext("case_timeliness_watch", run_id, now))
        return sorted(row.subject_id for row in run_findings(job, ["CASE_OVERDUE_OPEN"]))

    assert subjects("scheduled__2026-03-09", second) == ["A", "B"]
    assert subjects("scheduled__2026-03-10", second) == ["A", "C"]
    detect(engine, [("A", "YQ21")], "scheduled__2026-03-09", first)  # the same run's retry: no second record
    with engine.connect() as conn:
        assert len(conn.execute(select(finding_run)).all()) == 4
    detect(engine, [("D", "YQ21")], "later", second + timedelta(days=RUN_RECORD_DAYS + 1))
    with engine.connect() as conn:
        assert [r.run_id for r in conn.execute(select(finding_run))] == ["later"]
