"""Time limits of cases (plan items 14, 33; CONTRACT §5): the limit class and deadline of
a case on the working-day calendar, CASE_OVERDUE and CASE_OVERDUE_OPEN, and the
CASE_DUE_SOON alert of the daily watch list.

A case's limit class, first match wins: DJDL 800, 600, 700, a mortgage QLLX, else its
DJDL; its deadline is the (limit + GQTS)-th working day after its start day (the day of
acceptance, or the next working day). MySQL runs with ONLY_FULL_GROUP_BY, so every
non-grouped column is aggregated.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from bdcwatch.config.policy import Severity
from bdcwatch.rules.base import Prohibition, RuleInput, declare
from bdcwatch.store.dialect import bind_typed

CASES = ("DJT_DJ_SL",)
DJDL_FIRST_CLASSES = ("800", "600", "700")
# CASE_OVERDUE's population: cases completed (AJZT 2) in the period. The monthly bulletin's
# on-time completion rate counts the same cases (reports/scorecard.py).
COMPLETED_IN_PERIOD = "s.ajzt = 2 AND s.jssj >= :ps AND s.jssj < :pe"
# Cases 在办 at as-of: still AJZT 1, or finished (办结/退件/撤回) only at or after as-of. Two
# disjoint branches, each read through its own index (AJZT, SLSJ) and JSSJ, so a daily
# watch reads the cases in progress, not every case of the archive (issue 13).
IN_PROGRESS_AT_ASOF = """(SELECT * FROM stg_djt_dj_sl WHERE ajzt = 1 AND slsj < :asof
          UNION ALL
          SELECT * FROM stg_djt_dj_sl WHERE ajzt IN (2, 3, 5) AND jssj >= :asof AND slsj < :asof)"""


def _limits(ri: RuleInput) -> dict[str, Any]:
    limits = ri.policy.time_limits_working_days
    params: dict[str, Any] = {f"limit_{cls}": limits[cls] for cls in DJDL_FIRST_CLASSES if cls in limits}
    params["limit_mortgage"] = limits["mortgage"]
    for index, (djdl, days) in enumerate(sorted((k, v) for k, v in limits.items() if k.isdigit())):
        params[f"djdl_{index}"], params[f"djdl_limit_{index}"] = djdl, days
    return {**params, **mortgage_params(ri)}


def limit_days_sql(ri: RuleInput, case: str = "s") -> str:
    """The case's time limit in working days by its limit class (CONTRACT §5)."""
    limits = set(ri.policy.time_limits_working_days)
    first = " ".join(
        f"WHEN {case}.djdl = '{cls}' THEN :limit_{cls}" for cls in DJDL_FIRST_CLASSES if cls in limits
    )
    by_djdl = " ".join(
        f"WHEN :djdl_{i} THEN :djdl_limit_{i}" for i in range(sum(1 for k in limits if k.isdigit()))
    )
    return (f"(CASE {first} WHEN {case}.qllx IN :mortgage_codes THEN :limit_mortgage "
            f"ELSE (CASE {case}.djdl {by_djdl} END) END)")


def limit_class_sql(case: str = "s") -> str:
    """The case's limit class (CONTRACT §5): 800, 600, 700, mortgage, else its DJDL."""
    first = " ".join(f"WHEN {case}.djdl = '{cls}' THEN '{cls}'" for cls in DJDL_FIRST_CLASSES)
    return f"(CASE {first} WHEN {case}.qllx IN :mortgage_codes THEN 'mortgage' ELSE {case}.djdl END)"


def deadline_join(ri: RuleInput, case: str = "s") -> str:
    """Joins giving ``dl.day``: the (limit + GQTS)-th working day after the start day
    (acceptance day, or the next working day). NULL when beyond the calendar (after as-of)."""
    return f"""
        JOIN work_calendar st ON st.day = {ri.dialect.to_date(f"{case}.slsj")}
        LEFT JOIN work_calendar dl ON dl.is_workday = 1
             AND dl.seq = st.next_seq + {limit_days_sql(ri, case)} + {case}.gqts"""


def mortgage_params(ri: RuleInput) -> dict[str, Any]:
    """The policy's mortgage QLLX codes (the mortgage limit class, CONTRACT §5)."""
    return {"mortgage_codes": list(ri.policy.mortgage_qllx_codes)}


def _case_key(ri: RuleInput) -> str:
    """The GROUP BY key of CASE_OVERDUE. SQLite plans without range statistics and walks
    the whole case table in key order to save the sort of GROUP BY; for a narrow period
    (the daily watch) a unary plus hides the key from that choice, so the JSSJ index reads
    only the period's completions. A wide period keeps the walk (rows in order, no sort)."""
    return "s.ywh" if ri.is_wide("stg_djt_dj_sl", "jssj") else ri.dialect.unindexed("s.ywh")


def _overdue_sql(ri: RuleInput) -> str:
    finished = ri.dialect.to_date("s.jssj")
    detail = ri.dialect.json_object(
        [("slsj", "MIN(s.slsj)"), ("jssj", "MIN(s.jssj)"), ("deadline", "MIN(dl.day)"), ("djdl", "MIN(s.djdl)"),
         ("gqts", "MIN(s.gqts)")]
    )
    return f"""
        SELECT s.ywh AS subject_id, MIN(s.djjg) AS unit_code, {detail} AS detail
        FROM stg_djt_dj_sl s
        {deadline_join(ri)}
        WHERE {COMPLETED_IN_PERIOD} AND dl.day IS NOT NULL AND {finished} > dl.day
        GROUP BY {_case_key(ri)}"""


def _overdue_open_sql(ri: RuleInput) -> str:
    as_of_day = ri.dialect.to_date(":asof")
    detail = ri.dialect.json_object(
        [("slsj", "MIN(s.slsj)"), ("deadline", "MIN(dl.day)"), ("djdl", "MIN(s.djdl)"), ("gqts", "MIN(s.gqts)")]
    )
    return f"""
        SELECT s.ywh AS subject_id, MIN(s.djjg) AS unit_code, {detail} AS detail
        FROM {IN_PROGRESS_AT_ASOF} s
        {deadline_join(ri)}
        WHERE dl.day IS NOT NULL AND dl.day < {as_of_day}
        GROUP BY s.ywh"""


DEADLINE_LABELS = {"slsj": "受理时间", "jssj": "办结时间", "deadline": "办理期限", "djdl": "登记大类", "gqts": "挂起天数"}

declare(
    code="CASE_OVERDUE", event=True, severity=Severity.MEDIUM, subject_type="YWH", family="case", reads=CASES,
    title="办结超过法定时限（工作日）", labels=DEADLINE_LABELS,
    explanation="案件办结时间超过了法定办理时限（按工作日计算，已扣除挂起天数）。请查明超期原因，落实“0135”办理时限要求。",
    occurred="jssj",
    sql=_overdue_sql, params=_limits, needs_calendar=True, prohibition=Prohibition.OBSTRUCTION, tags=("time_limit",),
)
declare(
    code="CASE_OVERDUE_OPEN", severity=Severity.HIGH, subject_type="YWH", family="case", reads=CASES,
    title="在办案件已超过办理时限", labels={k: v for k, v in DEADLINE_LABELS.items() if k != "jssj"},
    explanation="截至核查期末，案件仍未办结，且已超过办理期限（此后办结的，以后的核查另报超期办结）。请核实目前办理情况，仍未办结的督促尽快办结；确有正当理由的，应依规办理挂起或延期手续。",
    occurred="deadline",
    sql=_overdue_open_sql, params=_limits, needs_calendar=True, prohibition=Prohibition.OBSTRUCTION,
    tags=("time_limit",),
)


DUE_SOON_HORIZON_DAYS = 45  # calendar days written past as-of: covers the longest limit plus holidays


def due_soon_cases(engine: Any, ri: RuleInput, calendar: Any) -> list[dict[str, Any]]:
    """CASE_DUE_SOON (an alert, not a finding): cases in progress at as-of with at most
    due_soon_working_days working days left (0 = due on the as-of day)."""
    from bdcwatch.rules.calendar_table import refresh_work_calendar

    with engine.begin() as conn:
        refresh_work_calendar(conn, calendar, ri.period.as_of, days_after=DUE_SOON_HORIZON_DAYS)
    # SQLite merges the two branches into this query and would walk every case in unit
    # order to spare the sort; a unary plus (same value, same collation) keeps it on the
    # branches' indexes, reading the cases in progress only (issue 13).
    sql = f"""
        SELECT s.ywh, s.djjg, s.djdl, s.slsj, dl.day AS deadline, dl.seq - td.next_seq AS days_left
        FROM {IN_PROGRESS_AT_ASOF} s
        {deadline_join(ri)}
        JOIN work_calendar td ON td.day = :today
        WHERE dl.day >= :today AND dl.seq - td.next_seq <= :due_soon
        ORDER BY {ri.dialect.unindexed("s.djjg")}, dl.day, s.ywh"""
    params = {**ri.base_params, **_limits(ri), "today": ri.period.as_of.date(),
              "due_soon": ri.policy.due_soon_working_days}
    with engine.connect() as conn:
        rows = conn.execute(bind_typed(text(sql), params), params)
        return [dict(row._mapping) for row in rows]
