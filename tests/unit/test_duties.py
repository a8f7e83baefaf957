"""Yearly duties no system records (plan items 3, 4, 11, 19, 30): evidence recorded with an
audit entry; a duty period past its deadline without evidence becomes DUTY_MISSED once,
judged as of the run; the annual summary lists duties done and missed."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from bdcwatch.config.policy import load_policy, parse_policy
from bdcwatch.config.run import Job, RunContext, RunSpec
from bdcwatch.dates.periods import Period
from bdcwatch.ledger.audit import verify_chain
from bdcwatch.ledger.duties import (
    DutyEvidenceError,
    check_missed,
    duty_periods,
    duty_status,
    list_evidence,
    record_evidence,
)
from bdcwatch.reports.annual import annual_rows, render_annual
from bdcwatch.store.migrate import make_engine
from bdcwatch.store.models import duty_evidence, finding, finding_event


def policy_with_duties(items, judge_within_days=31):
    raw = yaml.safe_load(Path(load_policy().source.removesuffix(" (bundled default)")).read_text(encoding="utf-8"))
    raw["duties"] = {"judge_within_days": judge_within_days, "items": items}
    return parse_policy(raw, "test")


def job(engine, policy, day: str, now: datetime) -> Job:
    end = date.fromisoformat(day)
    return Job(RunSpec(period_start=date.fromordinal(end.toordinal() - 1), period_end=end), policy, engine,
               RunContext("case_timeliness_watch", f"run-{day}", now))


def missed(engine):
    with engine.connect() as conn:
        return {(r.subject_id, r.unit_code, r.period): r for r in conn.execute(
            select(finding).where(finding.c.rule_code == "DUTY_MISSED"))}


def test_periods_and_deadlines():
    policy = policy_with_duties([
        {"code": "DRILL", "name": "应急演练", "deadline": "06-30"},
        {"code": "HALF", "name": "半年事项", "frequency": "half_yearly"},
        {"code": "QUARTER", "name": "季度事项", "frequency": "quarterly"},
    ])
    drill, half, quarter = policy.duties.items
    assert [(p.label, p.start, p.deadline) for p in duty_periods(drill, 2026)] == [
        ("2026", date(2026, 1, 1), date(2026, 6, 30))]
    assert [(p.label, p.deadline) for p in duty_periods(half, 2026)] == [
        ("2026-H1", date(2026, 6, 30)), ("2026-H2", date(2026, 12, 31))]
    assert [p.deadline for p in duty_periods(quarter, 2026)] == [
        date(2026, 3, 31), date(2026, 6, 30), date(2026, 9, 30), date(2026, 12, 31)]


def test_the_policy_refuses_unknown_units_and_twice_listed_duties():
    with pytest.raises(Exception, match="duties.items.X.units"):
        policy_with_duties([{"code": "X", "name": "x", "units": ["NOPE"]}])
    with pytest.raises(Exception, match="listed twice"):
        policy_with_duties([{"code": "X", "name": "x"}, {"code": "X", "name": "y"}])
    with pytest.raises(Exception, match="MM-DD"):
        policy_with_duties([{"code": "X", "name": "x", "deadline": "02-29"}])


def test_evidence_and_the_daily_check(database_url):
    engine = make_engine(database_url.migrated())
    policy = policy_with_duties([
        {"code": "DRILL", "name": "窗口应急演练", "plan_items": "11", "units": ["YQ21", "YQ22"]},
        {"code": "VISIT", "name": "领导干部体验办事", "plan_items": "3", "units": ["YQ21"], "min_count": 2,
         "severity": "high"},
    ])
    now = datetime(2026, 5, 21, 10, 0)
    evidence_id = record_evidence(engine, duty_code="DRILL", unit_code="YQ21", done_on=date(2026, 5, 20),
                                  note="消防疏散演练，身份证 110101199003078515 的群众参与", actor="李四", now=now,
                                  policy=policy, file_name="签到表.pdf", file_content=b"%PDF-1.4 sign-in")
    for bad, message in [
        ({"duty_code": "NOPE", "unit_code": "YQ21"}, "not in the policy"),
        ({"duty_code": "VISIT", "unit_code": "YQ22"}, "does not answer"),
        ({"duty_code": "DRILL", "unit_code": "YQ21", "note": " "}, "needs a note"),
        ({"duty_code": "DRILL", "unit_code": "YQ21", "done_on": date(2026, 5, 22)}, "晚于今天"),
    ]:
        with pytest.raises(DutyEvidenceError, match=message):
            record_evidence(engine, **{"done_on": date(2026, 5, 20), "note": "x", "actor": "李四", "now": now,
                                       "policy": policy, **bad})
    with engine.connect() as conn:
        (row,) = list_evidence(conn, unit_code="YQ21")
        assert row.id == evidence_id and "110***" in row.note and "110101199003078515" not in row.note
        assert conn.execute(select(duty_evidence.c.file_content)).scalar_one() == b"%PDF-1.4 sign-in"
        (event,) = conn.execute(select(finding_event)).all()
        assert event.finding_id is None and event.subject == "duty:DRILL:YQ21" and event.actor == "李四"
        assert verify_chain(conn) == []

    # During the year nothing is missed yet.
    assert check_missed(job(engine, policy, "2026-12-31", datetime(2026, 12, 31, 7, 30))) == []
    # On 1 January the year's deadline has passed: YQ22 never drilled, YQ21 visited once of twice.
    new_year = job(engine, policy, "2027-01-01", datetime(2027, 1, 1, 7, 30))
    ids = check_missed(new_year)
    found = missed(engine)
    assert set(found) == {("DRILL@YQ22", "YQ22", "2026"), ("VISIT@YQ21", "YQ21", "2026")} and len(ids) == 2
    visit = found[("VISIT@YQ21", "YQ21", "2026")]
    assert visit.severity == "high" and visit.subject_type == "DUTY" and visit.judged_as_of == datetime(2027, 1, 1)
    assert '"required": 2' in visit.detail and '"recorded": 0' in visit.detail
    # Evidence recorded late does not undo the miss; the next day's run changes nothing.
    record_evidence(engine, duty_code="DRILL", unit_code="YQ22", done_on=date(2027, 1, 1), note="补做演练",
                    actor="王五", now=datetime(2027, 1, 1, 15), policy=policy)
    before = {k: tuple(v) for k, v in missed(engine).items()}
    assert sorted(check_missed(job(engine, policy, "2027-01-02", datetime(2027, 1, 2, 7, 30)))) == sorted(ids)
    assert {k: tuple(v) for k, v in missed(engine).items()} == before
    # Long past the deadline (judge_within_days) a new deployment is not blamed.
    assert check_missed(job(engine, policy, "2027-03-01", datetime(2027, 3, 1, 7, 30))) == []

    statuses = duty_status(engine, policy, year=2026, as_of_day=date(2026, 12, 15))
    states = {(s.duty.code, s.unit_code): (s.recorded, s.state) for s in statuses}
    assert states == {("DRILL", "YQ21"): (1, "done"), ("DRILL", "YQ22"): (0, "open"), ("VISIT", "YQ21"): (0, "open")}
    rows = annual_rows(engine, policy, Period(date(2026, 1, 1), date(2026, 12, 15)), date(2026, 12, 15), ["YQ21", "YQ22"])
    _, html, _ = render_annual(rows, heads=policy.units["YQ21"].heads, addressee="x", year_label="2026",
                               period_text="p", dag_id="annual_summary", run_id="r", city=None, duties=statuses,
                               as_of_day=date(2026, 12, 15))
    assert "年度履职事项" in html and "窗口应急演练" in html and "已完成" in html and "未到期" in html


def test_every_unit_that_missed_a_duty_has_its_own_finding_and_a_rerun_changes_none(sqlite_url):
    """Five units missing one duty were one ledger row (subject the duty's code), moved from
    unit to unit on every run and announced to the last one daily; each unit gets its own,
    and the next day's run neither moves nor re-announces them."""
    from sqlalchemy import func, update

    engine = make_engine(sqlite_url.migrated())
    policy = policy_with_duties([{"code": "DRILL", "name": "窗口应急演练", "units": ["YQ21", "YQ22"]}])
    check_missed(job(engine, policy, "2027-01-01", datetime(2027, 1, 1, 7, 30)))
    found = missed(engine)
    assert set(found) == {("DRILL@YQ21", "YQ21", "2026"), ("DRILL@YQ22", "YQ22", "2026")}
    with engine.begin() as conn:  # both units' digests went out
        conn.execute(update(finding).values(notified_outbox_id=1))
        events = conn.execute(select(func.count()).select_from(finding_event)).scalar_one()
    check_missed(job(engine, policy, "2027-01-02", datetime(2027, 1, 2, 7, 30)))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(finding_event)).scalar_one() == events
        assert set(conn.execute(select(finding.c.notified_outbox_id)).scalars()) == {1}


def test_a_dry_run_of_the_duty_check_records_nothing(sqlite_url):
    """A dry run changes nothing in the ledger (README): the duty check recorded DUTY_MISSED
    findings that the next real run then mailed."""
    engine = make_engine(sqlite_url.migrated())
    policy = policy_with_duties([{"code": "DRILL", "name": "窗口应急演练", "units": ["YQ21"]}])
    end = date(2027, 1, 1)
    dry = Job(RunSpec(period_start=date(2026, 12, 31), period_end=end, dry_run=True), policy, engine,
              RunContext("case_timeliness_watch", "manual__dry", datetime(2026, 12, 2, 9)))
    assert check_missed(dry) == [] and missed(engine) == {}
