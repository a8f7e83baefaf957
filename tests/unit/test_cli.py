"""The operator CLI on a real supervision database."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select, update

from bdcwatch.cli import main
from bdcwatch.config.run import RunContext
from bdcwatch.ledger.findings import record_findings
from bdcwatch.store.migrate import make_engine
from bdcwatch.store.models import finding, finding_event


def test_migrate_set_status_and_verify(sqlite_url, capsys):
    url = sqlite_url("supervision")
    assert main(["--url", url, "migrate"]) == 0
    engine = make_engine(url)
    with engine.begin() as conn:
        record_findings(conn, rule_code="ECERT_MISSING", severity="high", subject_type="BDCQZH", period=None,
                        due_date=date(2026, 6, 15), select_sql="SELECT 'S1' AS subject_id, 'YQ00' AS unit_code, '{}' AS detail",
                        params={}, ctx=RunContext("ecert_completeness", "r1", datetime(2026, 6, 1, 9)))
    assert main(["--url", url, "finding", "set-status", "1", "--to", "closed", "--actor", "李科长", "--note", "已补发"]) == 0
    with engine.connect() as conn:
        assert conn.execute(select(finding.c.status)).scalar_one() == "closed"
        last = conn.execute(select(finding_event).order_by(finding_event.c.id.desc())).first()
    assert (last.actor, last.from_status, last.to_status, last.note) == ("李科长", "open", "closed", "已补发")
    assert main(["--url", url, "audit", "verify"]) == 0
    with engine.begin() as conn:
        conn.execute(update(finding_event).values(actor="someone else"))
    assert main(["--url", url, "audit", "verify"]) == 1
    assert "TAMPERED" in capsys.readouterr().out
