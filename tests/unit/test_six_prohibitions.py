"""The monthly 六不准 report: counts per unit and prohibition from the ledger, an explicit
zero report, and "—" (no verdict) for what the source systems cannot show."""

from __future__ import annotations

import io
import json
from datetime import date, datetime

import openpyxl

from bdcwatch.config.policy import load_policy
from bdcwatch.config.run import Job, RunContext, RunSpec
from bdcwatch.ledger.findings import record_findings
from bdcwatch.reports.six_prohibitions import groups, monthly_counts, render_six_prohibitions
from bdcwatch.store.migrate import make_engine

RUN = "scheduled__2026-04-01"


def record(engine, rule: str, subject: str, unit: str, run_id: str, now: datetime, **detail: str) -> None:
    params = {"s": subject, "u": unit, "d": json.dumps(detail)}
    with engine.begin() as conn:
        record_findings(conn, rule_code=rule, severity="high", subject_type="YWH", period=None,
                        due_date=date(2026, 5, 1), select_sql="SELECT :s AS subject_id, :u AS unit_code, :d AS detail",
                        params=params, ctx=RunContext("monthly_quality_check", run_id, now))


def render(engine, policy):
    job = Job(RunSpec(period_start=date(2026, 3, 1), period_end=date(2026, 4, 1)), policy, engine,
              RunContext("monthly_quality_check", RUN, datetime(2026, 4, 1, 3)))
    counts = monthly_counts(job, until=datetime(2026, 4, 1, 3))
    bureau = policy.supervisors["CITY_BUREAU"]
    return counts, render_six_prohibitions(counts, policy=policy, units=sorted(policy.units), heads=bureau.heads,
                                           period_label="2026-03", period_text="3月", dag_id="monthly_quality_check",
                                           run_id=RUN)


def test_zero_report_when_nothing_was_found(sqlite_url):
    engine = make_engine(sqlite_url.migrated())
    policy = load_policy()
    # Something from another month's run does not count.
    record(engine, "CASE_QUEUE_JUMP", "Y-OLD", "YQ00", "scheduled__2026-03-01", datetime(2026, 3, 1, 3))
    counts, (subject, html, workbook) = render(engine, policy)
    assert counts == {}
    assert "零报告" in subject and "未发现违反“六不准”的情形（零报告）" in html
    assert html.count("零报告") >= len(policy.units) + 1
    rows = list(openpyxl.load_workbook(io.BytesIO(workbook)).active.iter_rows(values_only=True))
    assert len(rows) == len(policy.units) + 1 and all(r[-1] == "零报告" for r in rows[1:])
    assert "不适用（无系统数据）" in rows[1]


def test_counts_by_unit_and_prohibition(sqlite_url):
    engine = make_engine(sqlite_url.migrated())
    policy = load_policy()
    when = datetime(2026, 4, 1, 3)
    record(engine, "CASE_QUEUE_JUMP", "Y1", "YQ21", RUN, when)
    record(engine, "CASE_OVERDUE", "Y2", "YQ21", RUN, when)
    record(engine, "RETURN_UNJUSTIFIED", "T1", "YQ11", RUN, when)
    record(engine, "ECERT_MISSING", "Z1", "YQ11", RUN, when)  # not one of the six
    record(engine, "STAFF_UNKNOWN_HANDLER", "HN01", "YQ00", "scheduled__2026-03-16", datetime(2026, 3, 16, 2))
    record(engine, "STAFF_UNKNOWN_HANDLER", "HN02", "YQ00", "scheduled__2026-02-16", datetime(2026, 2, 16, 2))
    # Staff events count in the report of the month they were found in, if they happened
    # by its end: a step of 30 March found at 02:00 on 1 April counts in March; a step of
    # 00:30 on 1 April, found by the same audit, belongs to April's report (a report rerun
    # for an old month saw every later month's events before); a step of 27 February first
    # found on 2 March (after February's report) counts in March, not lost between the two.
    record(engine, "STAFF_INACTIVE_HANDLER", "HN03", "YQ22", "scheduled__2026-04-01", datetime(2026, 4, 1, 2),
           first_step_at="2026-03-30T10:00:00")
    record(engine, "STAFF_UNTRAINED_ON_POST", "HN04", "YQ22", "scheduled__2026-04-01", datetime(2026, 4, 1, 2),
           first_step_at="2026-04-01T00:30:00")
    record(engine, "STAFF_INACTIVE_HANDLER", "HN05", "YQ11", "scheduled__2026-03-02", datetime(2026, 3, 2, 2),
           first_step_at="2026-02-27T16:00:00")
    counts, (subject, html, workbook) = render(engine, policy)
    assert counts == {("YQ21", "CASE_QUEUE_JUMP"): 1, ("YQ21", "CASE_OVERDUE"): 1, ("YQ11", "RETURN_UNJUSTIFIED"): 1,
                      ("YQ00", "STAFF_UNKNOWN_HANDLER"): 1, ("YQ22", "STAFF_INACTIVE_HANDLER"): 1,
                      ("YQ11", "STAFF_INACTIVE_HANDLER"): 1}
    assert "发现问题 6 项" in subject
    rows = {r[0]: r for r in openpyxl.load_workbook(io.BytesIO(workbook)).active.iter_rows(values_only=True)}
    texts = [p.text for p in groups()]
    header = rows["登记机构"]
    pingding = rows[policy.units["YQ21"].name]
    assert pingding[header.index(texts[5])] == 2 and pingding[header.index(texts[0])] == 0
    assert rows[policy.units["YQ11"].name][header.index(texts[1])] == 1
    assert rows[policy.units["YQ00"].name][header.index(texts[0])] == 1
    assert rows[policy.units["YQ22"].name][header.index(texts[0])] == 1
    assert rows[policy.units["YQGX"].name][-1] == "零报告"


def test_the_footnote_says_where_events_found_late_are_reported(sqlite_url):
    """Staff events count in the month they were first found in: one found after this report
    went out is in next month's, and this month's numbers hold last month's found late. The
    mail says both, in the HTML and in its text part (operator review)."""
    from bdcwatch.mail.plaintext import html_to_text

    engine = make_engine(sqlite_url.migrated())
    policy = load_policy()
    # Found on 2 March for a step of 27 February: counted in March's report.
    record(engine, "STAFF_INACTIVE_HANDLER", "HN05", "YQ11", "scheduled__2026-03-02", datetime(2026, 3, 2, 2),
           first_step_at="2026-02-27T16:00:00")
    counts, (_, html, _) = render(engine, policy)
    assert counts == {("YQ11", "STAFF_INACTIVE_HANDLER"): 1}
    for text in (html, html_to_text(html)):
        assert "本报告生成后才发现的问题（如月末最后几天的办件），计入下月报告" in text
        assert "每项只计入一次" in text


def test_a_staff_finding_is_in_one_months_report_only(sqlite_url):
    """A step of 29 May found by Monday 1 June's 02:00 audit is in May's report (made at
    03:00 that day) and not again in June's; one found at 04:00 on 1 June is June's. Each
    month's window runs from its report's time to the next one's, so twelve reports never
    count a finding twice (an adversary found May's finding counted in May and June)."""
    engine = make_engine(sqlite_url.migrated())
    policy = load_policy()
    record(engine, "STAFF_UNKNOWN_HANDLER", "HN10", "YQ21", "scheduled__2026-06-01", datetime(2026, 6, 1, 2),
           first_step_at="2026-05-29T10:00:00")
    record(engine, "STAFF_UNKNOWN_HANDLER", "HN11", "YQ21", "manual__2026-06-01", datetime(2026, 6, 1, 4),
           first_step_at="2026-05-30T10:00:00")

    def counts(start: date, end: date, now: datetime) -> dict[tuple[str, str], int]:
        job = Job(RunSpec(period_start=start, period_end=end), policy, engine,
                  RunContext("monthly_quality_check", f"r{start}", now))
        return monthly_counts(job, until=now)

    may, june = (date(2026, 5, 1), date(2026, 6, 1)), (date(2026, 6, 1), date(2026, 7, 1))
    assert counts(*may, datetime(2026, 6, 1, 3)) == {("YQ21", "STAFF_UNKNOWN_HANDLER"): 1}
    assert counts(*june, datetime(2026, 7, 1, 3)) == {("YQ21", "STAFF_UNKNOWN_HANDLER"): 1}
    # May's report rerun in August counts what its window held, not June's find again.
    assert counts(*may, datetime(2026, 8, 3, 9)) == {("YQ21", "STAFF_UNKNOWN_HANDLER"): 1}


def test_the_report_cutoff_is_the_monthly_checks_schedule():
    """The windows start at the hour monthly_quality_check runs: if its schedule moved and
    the cutoff did not, a 02:00 find on the 1st could fall between two reports."""
    import re
    from pathlib import Path

    from bdcwatch.reports.six_prohibitions import REPORT_CUTOFF

    dag = (Path(__file__).parents[2] / "dags" / "monthly_quality_check.py").read_text(encoding="utf-8")
    minute, hour, day = re.search(r'schedule="(\d+) (\d+) (\d+) \* \*"', dag).groups()  # type: ignore[union-attr]
    assert day == "1" and REPORT_CUTOFF.total_seconds() == int(hour) * 3600 + int(minute) * 60


def test_a_run_for_some_units_says_so(sqlite_url):
    """A rerun for some units (Param ``units``) must not read as the city's report with
    smaller numbers: its subject and text name the selection."""
    engine = make_engine(sqlite_url.migrated())
    policy = load_policy()
    bureau = policy.supervisors["CITY_BUREAU"]
    some = sorted(policy.units)[:2]
    subject, html, _ = render_six_prohibitions({}, policy=policy, units=some, heads=bureau.heads,
                                               period_label="2026-03", period_text="3月",
                                               dag_id="monthly_quality_check", run_id=RUN)
    assert "所选 2 个登记机构" in subject and "对所选的 2 个登记机构" in html and "对全市" not in html
    _, (whole, whole_html, _) = render(engine, policy)
    assert "所选" not in whole and "全市" in whole_html
