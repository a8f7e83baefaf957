"""回头看: a closed finding whose problem is still there is reopened, with an audit entry;
one that was really fixed stays closed."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from bdcwatch.config.run import RunContext
from bdcwatch.dates.periods import Period, parse_period_label
from bdcwatch.dates.workdays import WorkCalendar
from bdcwatch.ledger.audit import verify_chain
from bdcwatch.ledger.lifecycle import change_status
from bdcwatch.ledger.lookback import look_back
from bdcwatch.store.models import finding, finding_event
from tests.ecert_world import World

T = datetime(2026, 3, 10, 10, 0)


def test_period_labels_parse_back():
    for label in ("2026-03", "2026-Q1", "2026-H2", "2026", "2026-03-01..2026-04-15"):
        assert parse_period_label(label).label == label


def test_look_back_reopens_only_what_is_still_wrong(sqlite_url):
    world = World(sqlite_url("source"), sqlite_url.migrated("supervision"))
    fixed = world.cert(1, szsj=T)
    still_missing = world.cert(2, szsj=T)
    world.run(date(2026, 3, 1), date(2026, 4, 1))
    with world.supervision.begin() as conn:
        ids = dict(conn.execute(select(finding.c.subject_id, finding.c.id)).all())
        change_status(conn, [ids[fixed], ids[still_missing]], "rectifying", actor="刘科长", note="通知窗口补发",
                      now=datetime(2026, 5, 6, 9))
        change_status(conn, [ids[fixed], ids[still_missing]], "closed", actor="刘科长", note="已补发电子证照",
                      now=datetime(2026, 5, 6, 10))
    # Only the first one was really fixed at the source.
    world.ecert(fixed, zzbfrq=datetime(2026, 5, 5, 9))
    world.run(date(2026, 5, 1), date(2026, 6, 1))  # reload staging (nothing new in May)

    result = look_back(world.supervision, period=Period(date(2026, 1, 1), date(2027, 1, 1)), policy=world.policy,
                       calendar=WorkCalendar(), ctx=RunContext("look_back", "lb1", datetime(2027, 1, 3, 7)))
    assert result.verified == 2 and result.reopened == [ids[still_missing]]
    with world.supervision.connect() as conn:
        statuses = dict(conn.execute(select(finding.c.subject_id, finding.c.status)).all())
        due = conn.execute(select(finding.c.due_date).where(finding.c.subject_id == still_missing)).scalar_one()
        last = conn.execute(select(finding_event).order_by(finding_event.c.id.desc())).first()
        assert verify_chain(conn) == []
    assert statuses == {fixed: "closed", still_missing: "reopened"}
    # A fresh rectification period from the reopening, by severity (high: policy working days).
    high_days = world.policy.rectification_working_days["high"]
    assert due == WorkCalendar().add_working_days(date(2027, 1, 3), high_days)
    assert (last.from_status, last.to_status, last.actor) == ("closed", "reopened", "bdcwatch:look_back")
    assert "回头看" in last.note


def test_look_back_leaves_reported_findings_to_people(sqlite_url):
    """A closed complaint has no SQL to re-run: look-back neither reopens nor fails on it."""
    from bdcwatch.config.policy import load_policy
    from bdcwatch.ledger.reported import ReportedFinding, Reporter, report
    from bdcwatch.store.migrate import make_engine

    engine = make_engine(sqlite_url.migrated())
    policy, now = load_policy(), datetime(2026, 3, 2, 9)
    with engine.begin() as conn:
        finding_id, _ = report(conn, ReportedFinding("COMPLAINT", "GD1", "YQ21", {"content": "排队太久"}, now),
                               Reporter("bdcwatch:complaint_intake", "complaint_intake", "r", now), policy=policy,
                               calendar=WorkCalendar(), note="受理")
        change_status(conn, [finding_id], "rectifying", actor="刘科长", note="转窗口核实", now=datetime(2026, 3, 4, 9))
        change_status(conn, [finding_id], "closed", actor="刘科长", note="已回复群众", now=datetime(2026, 3, 5, 9))
    result = look_back(engine, period=Period(date(2026, 1, 1), date(2027, 1, 1)), policy=policy,
                       calendar=WorkCalendar(), ctx=RunContext("look_back", "lb", datetime(2027, 1, 3, 7)))
    assert result.reopened == []
    with engine.connect() as conn:
        assert conn.execute(select(finding.c.status)).scalar_one() == "closed"


def test_look_back_leaves_events_to_people(sqlite_url):
    """A case finished late stays late in the data whatever the unit did about it: re-running
    CASE_OVERDUE found it again and reopened it every year, with a fresh due date and the
    escalations after it (a ledger adversary). An event is left to people and counted so."""
    from bdcwatch.config.policy import load_policy
    from bdcwatch.ledger.findings import record_findings
    from bdcwatch.store.migrate import make_engine
    from bdcwatch.store.models import stg_djt_dj_sl

    engine = make_engine(sqlite_url.migrated())
    policy = load_policy()
    with engine.begin() as conn:
        conn.execute(stg_djt_dj_sl.insert(), [{  # 转移 (3 working days) accepted Mon 2 Mar, finished 20 Mar
            "ywh": "LATE", "djjg": "YQ21", "qxdm": "140321", "djdl": "200", "qllx": None, "sqfs": 1,
            "slsj": datetime(2026, 3, 2, 9), "ajzt": 2, "jssj": datetime(2026, 3, 20, 16), "gqts": 0,
            "_load_id": "t", "gxsj": datetime(2026, 3, 20, 16)}])
        record_findings(conn, rule_code="CASE_OVERDUE", severity="medium", subject_type="YWH", period=None,
                        due_date=date(2026, 4, 30), params={}, ctx=RunContext("monthly_quality_check", "m", T),
                        select_sql="SELECT 'LATE' AS subject_id, 'YQ21' AS unit_code, '{}' AS detail")
        late = conn.execute(select(finding.c.id)).scalar_one()
        change_status(conn, [late], "rectifying", actor="刘科长", note="已约谈窗口", now=datetime(2026, 4, 2, 9))
        change_status(conn, [late], "closed", actor="刘科长", note="已整改", now=datetime(2026, 4, 2, 10))
    from bdcwatch import rules
    from bdcwatch.rules.engine import detect_subjects

    year = Period(date(2026, 1, 1), date(2027, 1, 1))
    # The rule still flags it on today's data: it happened.
    assert detect_subjects(engine, rules.get("CASE_OVERDUE"), period=Period(date(2004, 1, 1), year.end),
                           policy=policy, calendar=WorkCalendar()) == {"LATE"}
    result = look_back(engine, period=year, policy=policy, calendar=WorkCalendar(),
                       ctx=RunContext("look_back", "lb", datetime(2027, 1, 3, 7)))
    assert (result.verified, result.reopened, result.left_to_people) == (0, [], 1)
    with engine.connect() as conn:
        assert conn.execute(select(finding.c.status)).scalar_one() == "closed"


def test_every_event_rule_is_one_no_source_can_undo():
    """The rules left to people by look-back, by name: adding a rule makes this list a
    decision, not a default."""
    from bdcwatch import rules

    assert sorted(code for code, rule in rules.all_rules().items() if rule.event) == [
        "CASE_OVERDUE", "CASE_QUEUE_JUMP", "ECERT_LATE", "MORTGAGE_WHILE_SEALED", "ONLINE_RATIO_LOW",
        "RETURN_REPEATED", "STAFF_INACTIVE_HANDLER", "STAFF_TRAINING_BEHIND", "STAFF_TRAINING_HOURS",
        "STAFF_UNKNOWN_HANDLER", "STAFF_UNTRAINED_ON_POST"]
