"""Escalation of overdue findings to the supervising bureau: once per month per finding,
with the finding's history, through the outbox to a real SMTP server, on SQLite,
PostgreSQL and MariaDB."""

from __future__ import annotations

import io
import json
from datetime import date, datetime, timedelta

import openpyxl
import pytest
from sqlalchemy import func, select

from bdcwatch.config.policy import load_policy
from bdcwatch.config.run import Job, RunContext, RunSpec
from bdcwatch.ledger.audit import verify_chain
from bdcwatch.ledger.findings import record_findings
from bdcwatch.ledger.lifecycle import change_status
from bdcwatch.mail.outbox import send_pending
from bdcwatch.mail.sender import SmtpSettings
from bdcwatch.reports.escalation import compose as escalate_overdue
from bdcwatch.store.migrate import make_engine
from bdcwatch.store.models import finding, finding_escalation

ID_NUMBER = "14030219800101123X"
DETECTED = datetime(2026, 9, 1, 7, 30)


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url.migrated())
    return engine


def plant(engine, rule: str, subject: str, unit: str, *, due: date, detail: dict | None = None) -> int:
    """A finding recorded the way rules record them (the real ledger upsert and audit entry)."""
    ctx = RunContext("case_timeliness_watch", f"scheduled__{subject}", DETECTED)
    params = {"s": subject, "u": unit, "d": json.dumps(detail or {"ywh": subject}, ensure_ascii=False)}
    with engine.begin() as conn:
        record_findings(conn, rule_code=rule, severity="high", subject_type="YWH", period=None, due_date=due,
                        select_sql="SELECT :s AS subject_id, :u AS unit_code, :d AS detail", params=params, ctx=ctx)
        return conn.execute(select(finding.c.id).where(finding.c.subject_id == subject)).scalar_one()


def job(engine, policy, ctx: RunContext, ui: str | None = None) -> Job:
    day = ctx.now.date()
    spec = RunSpec(period_start=day - timedelta(days=1), period_end=day)
    return Job(spec=spec, policy=policy, engine=engine, ctx=ctx, ui_base_url=ui)


def settings(server) -> SmtpSettings:
    return SmtpSettings(server.host, server.port, None, None, "bdcwatch@example.org", False, False, 5)


def test_overdue_findings_go_to_the_supervisor_once_a_month_with_history(engine, smtp_server):
    policy = load_policy()
    overdue = plant(engine, "CASE_OVERDUE_OPEN", "YWH-A", "YQ21", due=date(2026, 9, 15),
                    detail={"ywh": "YWH-A", "problem": f"申请人 {ID_NUMBER}"})
    rectifying = plant(engine, "CASE_QUEUE_JUMP", "YWH-B", "YQ21", due=date(2026, 9, 15))
    closed = plant(engine, "RETURN_UNJUSTIFIED", "TH-C", "YQ21", due=date(2026, 9, 15))
    not_due = plant(engine, "CASE_OVERDUE_OPEN", "YWH-D", "YQ21", due=date(2026, 12, 31))
    other_unit = plant(engine, "CASE_OVERDUE_OPEN", "YWH-E", "YQ00", due=date(2026, 10, 1))
    stranger = plant(engine, "CASE_OVERDUE_OPEN", "YWH-F", "XX99", due=date(2026, 10, 1))
    with engine.begin() as conn:
        change_status(conn, [rectifying], "rectifying", actor="孙丽华", note="已约谈经办人", now=datetime(2026, 9, 20, 9))
        change_status(conn, [closed], "rectifying", actor="孙丽华", note="补正退件理由", now=datetime(2026, 9, 20, 9))
        change_status(conn, [closed], "closed", actor="孙丽华", note="已整改并核实", now=datetime(2026, 9, 25, 9))

    ctx = RunContext("case_timeliness_watch", "scheduled__2026-11-26", datetime(2026, 11, 26, 7, 31))
    queued = escalate_overdue(job(engine, policy, ctx, ui="http://127.0.0.1:8080"))
    # PINGDING_BUREAU, CITY_BUREAU (YQ00), operations (unknown unit); and the heads of YQ21
    # and YQ00 their own unit's overdue findings (CONTRACT §6)
    assert len(queued) == 5
    report = send_pending(engine, settings(smtp_server), now=ctx.now)
    assert report.sent == 5
    by_recipients = {tuple(sorted(m.envelope_to)): m for m in smtp_server.received}
    assert len(by_recipients) == 5
    yq21 = by_recipients[tuple(sorted(h.email for h in policy.units["YQ21"].heads))]
    assert "逾期未整改问题提醒" in yq21.message["Subject"] and "平定县不动产登记中心" in yq21.message["Subject"]
    assert "YWH-A" in yq21.html and "YWH-B" in yq21.html and "YWH-E" not in yq21.html and "YWH-F" not in yq21.html
    assert policy.supervisors["PINGDING_BUREAU"].name in yq21.html and ID_NUMBER not in yq21.html
    yq00 = by_recipients[tuple(sorted(h.email for h in policy.units["YQ00"].heads))]
    assert "YWH-E" in yq00.html and "YWH-A" not in yq00.html
    pingding = by_recipients[tuple(sorted(h.email for h in policy.supervisors["PINGDING_BUREAU"].heads))]
    html = pingding.html
    assert "平定县不动产登记中心" in html and "逾期未整改问题上报" in pingding.message["Subject"]
    assert "YWH-A" in html and "YWH-B" in html and "TH-C" not in html and "YWH-D" not in html and "YWH-E" not in html
    assert "孙丽华" in html and "已约谈经办人" in html and "待整改 → 整改中" in html  # the history, in plain Chinese
    assert "open" not in html and "rectifying" not in html
    assert ID_NUMBER not in html and "140*************3X" in html
    assert "72" in html  # 2026-09-15 → 2026-11-26: 72 days overdue
    (workbook,) = pingding.attachments.values()
    sheet = [row for row in openpyxl.load_workbook(io.BytesIO(workbook)).active.iter_rows(values_only=True)]
    assert sorted(r[sheet[0].index("对象")] for r in sheet[1:]) == ["YWH-A", "YWH-B"] and "处理记录" in sheet[0]
    # Each escalated finding links to its page in the operations UI, not to a DAG.
    assert "http://127.0.0.1:8080/bdcwatch/ui/findings/" in html and "/dags/" not in html
    city = by_recipients[tuple(sorted(h.email for h in policy.supervisors["CITY_BUREAU"].heads))]
    assert "YWH-E" in city.html and "YWH-A" not in city.html
    ops = by_recipients[(policy.operations_email,)]
    assert "YWH-F" in ops.html

    # Same month again (a rerun, tomorrow's run): nothing new to escalate, nothing sent.
    tomorrow = RunContext("case_timeliness_watch", "scheduled__2026-11-27", datetime(2026, 11, 27, 7, 31))
    assert escalate_overdue(job(engine, policy, tomorrow)) == []
    assert send_pending(engine, settings(smtp_server), now=ctx.now).sent == 0
    assert len(smtp_server.received) == 5
    # Next month, still overdue: escalated again, once.
    december = RunContext("case_timeliness_watch", "scheduled__2026-12-01", datetime(2026, 12, 1, 7, 31))
    assert len(escalate_overdue(job(engine, policy, december))) == 5
    with engine.connect() as conn:
        rows = conn.execute(select(finding_escalation.c.finding_id, finding_escalation.c.period)).all()
        assert verify_chain(conn) == []
        assert conn.execute(select(func.count()).select_from(finding_escalation)).scalar_one() == 8
    assert {(fid, period) for fid, period in rows} >= {(overdue, "2026-11"), (overdue, "2026-12")}
    assert not any(fid in (closed, not_due) for fid, _ in rows) and (stranger, "2026-11") in set(rows)
    assert (other_unit, "2026-12") in set(rows)


def test_a_run_narrowed_to_units_escalates_only_theirs(engine):
    """``units`` narrows a run: case_timeliness_watch for YQ21 alone escalated every unit's
    overdue findings and recorded them as escalated for the month."""
    policy = load_policy()
    plant(engine, "CASE_OVERDUE_OPEN", "YWH-A", "YQ21", due=date(2026, 9, 15))
    plant(engine, "CASE_OVERDUE_OPEN", "YWH-E", "YQ00", due=date(2026, 10, 1))
    ctx = RunContext("case_timeliness_watch", "manual__yq21", datetime(2026, 11, 26, 7, 31))
    day = ctx.now.date()
    narrowed = Job(spec=RunSpec(period_start=day - timedelta(days=1), period_end=day, units=("YQ21",)),
                   policy=policy, engine=engine, ctx=ctx)
    assert escalate_overdue(narrowed)
    with engine.connect() as conn:
        escalated = set(conn.execute(select(finding.c.subject_id).join(
            finding_escalation, finding_escalation.c.finding_id == finding.c.id)).scalars())
    assert escalated == {"YWH-A"}
