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
