"""Case rules (plan items 20, 26, 33): returns without lawful reason, repeated returns, and
mortgages registered on seized property, exactly as CONTRACT §3 words them.

A return's unit is its case's DJJG. MySQL runs with ONLY_FULL_GROUP_BY, so every
non-grouped column is aggregated.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from sqlalchemy import Engine, text

from bdcwatch.config.policy import Policy, Severity
from bdcwatch.dates.periods import Period
from bdcwatch.rules.base import Prohibition, RuleInput, declare
from bdcwatch.store.dialect import bind_typed

RETURN_IN_PERIOD = "b.thsj >= :ps AND b.thsj < :pe"
# Limit classes that DJDL decides before the mortgage test (CONTRACT §5, first match wins).
DJDL_FIRST_CLASSES = ("800", "600", "700")


def _limits(ri: RuleInput) -> dict[str, Any]:
    limits = ri.policy.time_limits_working_days
    params: dict[str, Any] = {f"limit_{cls}": limits[cls] for cls in DJDL_FIRST_CLASSES if cls in limits}
    params["limit_mortgage"] = limits["mortgage"]
    for index, (djdl, days) in enumerate(sorted((k, v) for k, v in limits.items() if k.isdigit())):
        params[f"djdl_{index}"], params[f"djdl_limit_{index}"] = djdl, days
    return {**params, **_mortgage_codes(ri)}


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


def _reason_codes(ri: RuleInput) -> dict[str, Any]:
    return {"reason_codes": list(ri.policy.return_reason_codes)}


def _repeat_window(ri: RuleInput) -> dict[str, Any]:
    return {"window_hours": ri.policy.repeat_return_days * 24}


def _mortgage_codes(ri: RuleInput) -> dict[str, Any]:
    return {"mortgage_codes": list(ri.policy.mortgage_qllx_codes)}


def _unjustified_sql(ri: RuleInput) -> str:
    detail = ri.dialect.json_object(
        [("ywh", "MIN(b.ywh)"), ("thsj", "MIN(b.thsj)"), ("thyydm", "MIN(b.thyydm)"), ("thyy", "MIN(b.thyy)")]
    )
    return f"""
        SELECT b.id AS subject_id, MIN(s.djjg) AS unit_code, {detail} AS detail
        FROM stg_bdc_bysl b
        LEFT JOIN stg_djt_dj_sl s ON s.ywh = b.ywh
        WHERE {RETURN_IN_PERIOD}
          AND (b.thyydm IS NULL OR TRIM(b.thyydm) = '' OR TRIM(b.thyydm) NOT IN :reason_codes)
        GROUP BY b.id"""


def _repeated_sql(ri: RuleInput) -> str:
    window_end = ri.dialect.add_hours("p.thsj", "window_hours")
    detail = ri.dialect.json_object(
        [("bdcdyh", "MIN(b.bdcdyh)"), ("thsj", "MIN(b.thsj)"), ("previous_id", "MAX(p.id)"),
         ("previous_thsj", "MAX(p.thsj)")]
    )
    # "Already returned within the previous N days": an earlier return of the same unit
    # number by the same DJJG at most N days before this one (same second: lower id first).
    # The earlier return's unit is checked in EXISTS so that planners without statistics
    # (SQLite) reach it through the unit number, not by scanning the unit's cases.
    return f"""
        SELECT b.id AS subject_id, MIN(s.djjg) AS unit_code, {detail} AS detail
        FROM stg_bdc_bysl b
        JOIN stg_djt_dj_sl s ON s.ywh = b.ywh
        JOIN stg_bdc_bysl p ON p.bdcdyh = b.bdcdyh AND p.id <> b.id
        WHERE {RETURN_IN_PERIOD} AND b.bdcdyh IS NOT NULL AND TRIM(b.bdcdyh) <> ''
          AND (p.thsj < b.thsj OR (p.thsj = b.thsj AND p.id < b.id))
          AND {window_end} >= b.thsj
          AND EXISTS (SELECT 1 FROM stg_djt_dj_sl ps WHERE ps.ywh = p.ywh AND ps.djjg = s.djjg)
        GROUP BY b.id"""


def _sealed_sql(ri: RuleInput) -> str:
    # Seizures are few, mortgages many: start from the seizures and reach the cases of the
    # same unit number by index. CROSS JOIN keeps that order in SQLite, which plans without
    # statistics (PostgreSQL and MySQL reorder inner joins freely; the result is the same).
    detail = ri.dialect.json_object(
        [("bdcdyh", "MIN(s.bdcdyh)"), ("dbsj", "MIN(d.dbsj)"), ("cf_ywh", "MIN(c.ywh)"),
         ("cfjg", "MIN(c.cfjg)"), ("cfkssj", "MIN(c.cfkssj)")]
    )
    return f"""
        SELECT s.ywh AS subject_id, MIN(s.djjg) AS unit_code, {detail} AS detail
        FROM stg_qlf_ql_cfdj c
        CROSS JOIN stg_djt_dj_sl s
        CROSS JOIN stg_djf_dj_db d
        WHERE s.bdcdyh = c.bdcdyh AND d.ywh = s.ywh
          AND c.cfkssj <= d.dbsj AND (c.jfsj IS NULL OR c.jfsj > d.dbsj)
          AND s.qllx IN :mortgage_codes AND d.dbsj >= :ps AND d.dbsj < :pe
        GROUP BY s.ywh"""


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
        WHERE s.ajzt = 2 AND s.jssj >= :ps AND s.jssj < :pe AND dl.day IS NOT NULL AND {finished} > dl.day
        GROUP BY s.ywh"""


def _overdue_open_sql(ri: RuleInput) -> str:
    as_of_day = ri.dialect.to_date(":asof")
    detail = ri.dialect.json_object(
        [("slsj", "MIN(s.slsj)"), ("deadline", "MIN(dl.day)"), ("djdl", "MIN(s.djdl)"), ("gqts", "MIN(s.gqts)")]
    )
    # 在办 at as-of: still AJZT 1, or finished (办结/退件/撤回) only at or after as-of.
    return f"""
        SELECT s.ywh AS subject_id, MIN(s.djjg) AS unit_code, {detail} AS detail
        FROM stg_djt_dj_sl s
        {deadline_join(ri)}
        WHERE s.slsj < :asof
          AND (s.ajzt = 1 OR (s.ajzt IN (2, 3, 5) AND s.jssj >= :asof))
          AND dl.day IS NOT NULL AND dl.day < {as_of_day}
        GROUP BY s.ywh"""


def _queue_params(ri: RuleInput) -> dict[str, Any]:
    queue = ri.policy.queue_jump
    fraction = queue.max_fraction_of_median
    first_month = ri.period.start_at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return {
        "exempt_classes": list(queue.exempt_classes),
        "overtaken_offset": max(queue.min_overtaken - 1, 0),
        "min_overtaken": queue.min_overtaken,
        "fraction_num": fraction.numerator,
        "fraction_den": fraction.denominator,
        "lookback_hours": -90 * 24,
        # Medians are only needed for the months the period's registrations fall in.
        "median_from": first_month,
        **_mortgage_codes(ri),
    }


def _queue_jump_sql(ri: RuleInput) -> str:
    """CASE_QUEUE_JUMP in three steps, all in one statement.

    1. ``registered``: each case registered from the first month of the period to as-of,
       with limit class, month and elapsed working days (days d with start < d <= date(DBSJ)).
    2. ``candidates``: registered in the period, not exempt, and faster than the fraction of
       its (unit, class, month) median. Month medians come from ROW_NUMBER/COUNT windows: the
       middle row, or the two middle rows, are those with 2*rn in (n, n+1, n+2); median_x2
       is twice the median, exact.
    3. Only for candidates: is there a min_overtaken-th earlier-accepted peer registered
       later? A correlated subquery walks the (DJJG, SLSJ) index backwards from B's
       acceptance and stops at that peer (LIMIT 1 OFFSET min_overtaken - 1), so the cost
       grows with the few fast cases, not with cases x 90-day window. A non-jumping
       candidate still walks its whole window; such candidates are rare by construction.
    """
    d = ri.dialect
    a_class = limit_class_sql("sa")
    lookback_start = d.add_hours("c.slsj", "lookback_hours")
    detail = d.json_object(
        [("slsj", "c.slsj"), ("dbsj", "c.dbsj"), ("elapsed", "c.elapsed"), ("median", "c.median_x2 / 2.0"),
         ("overtaken_at_least", ":min_overtaken"), ("overtaken_example", "c.kth_overtaken"),
         ("limit_class", "c.cls")]
    )
    kth_overtaken = f"""(
            SELECT sa.ywh FROM stg_djt_dj_sl sa
            JOIN stg_djf_dj_db da ON da.ywh = sa.ywh
            WHERE sa.djjg = c.djjg AND sa.slsj < c.slsj AND sa.slsj >= {lookback_start}
              AND da.dbsj > c.dbsj AND {a_class} = c.cls
            ORDER BY sa.slsj DESC, sa.ywh DESC
            LIMIT 1 OFFSET :overtaken_offset)"""
    return f"""
        WITH registered AS (
            SELECT s.ywh, s.djjg, {limit_class_sql("s")} AS cls, s.slsj, d.dbsj, {d.month_key("d.dbsj")} AS month,
                   CASE WHEN e.seq > st.next_seq THEN e.seq - st.next_seq ELSE 0 END AS elapsed
            FROM stg_djf_dj_db d
            JOIN stg_djt_dj_sl s ON s.ywh = d.ywh
            JOIN work_calendar st ON st.day = {d.to_date("s.slsj")}
            JOIN work_calendar e ON e.day = {d.to_date("d.dbsj")}
            WHERE d.dbsj >= :median_from AND d.dbsj < :asof
        ),
        medians AS (
            SELECT djjg, cls, month, SUM(elapsed) * (3 - COUNT(*)) AS median_x2
            FROM (
                SELECT r.djjg, r.cls, r.month, r.elapsed,
                       ROW_NUMBER() OVER (PARTITION BY r.djjg, r.cls, r.month ORDER BY r.elapsed) AS rn,
                       COUNT(*) OVER (PARTITION BY r.djjg, r.cls, r.month) AS n
                FROM registered r
            ) ranked
            WHERE 2 * rn IN (n, n + 1, n + 2)
            GROUP BY djjg, cls, month
        ),
        candidates AS {d.materialized} (
            SELECT b.ywh, b.djjg, b.cls, b.slsj, b.dbsj, b.elapsed, m.median_x2
            FROM registered b
            JOIN medians m ON m.djjg = b.djjg AND m.cls = b.cls AND m.month = b.month
            WHERE b.dbsj >= :ps AND b.dbsj < :pe AND b.cls NOT IN :exempt_classes
              AND 2 * b.elapsed * :fraction_den < :fraction_num * m.median_x2
        ),
        checked AS {d.materialized} (
            SELECT c.*, {kth_overtaken} AS kth_overtaken FROM candidates c
        )
        SELECT c.ywh AS subject_id, c.djjg AS unit_code, {detail} AS detail
        FROM checked c
        WHERE c.kth_overtaken IS NOT NULL OR :min_overtaken <= 0"""


PRESALE_DJDL = "700"  # 预告 (incl. 预抵押): with mortgages, the scope of plan item 12
# ONLINE_RATIO_LOW's population and its online cases; the digest's and the annual
# summary's online share (``online_shares``) use the same two fragments.
ONLINE_POPULATION = f"s.slsj >= :ps AND s.slsj < :pe AND (s.djdl = '{PRESALE_DJDL}' OR s.qllx IN :mortgage_codes)"
ONLINE_COUNT = "SUM(CASE WHEN s.sqfs IN :online_sqfs THEN 1 ELSE 0 END)"


def _online_params(ri: RuleInput) -> dict[str, Any]:
    online = ri.policy.online_handling
    params: dict[str, Any] = {
        "online_sqfs": list(online.online_sqfs),
        "min_cases": online.min_cases,
        **_mortgage_codes(ri),
    }
    for index, unit in enumerate(sorted(ri.policy.units.values(), key=lambda u: u.code)):
        # The target as an exact fraction: comparing online × den < num × total avoids
        # float noise right at the threshold (0.3 × 20 is not 6 in binary).
        target = online.targets[unit.level]
        params[f"unit_{index}"] = unit.code
        params[f"num_{index}"], params[f"den_{index}"] = target.numerator, target.denominator
    return params


def _online_sql(ri: RuleInput) -> str:
    count = len(ri.policy.units)
    numerator = " ".join(f"WHEN :unit_{i} THEN :num_{i}" for i in range(count))
    denominator = " ".join(f"WHEN :unit_{i} THEN :den_{i}" for i in range(count))
    online = ONLINE_COUNT
    detail = ri.dialect.json_object(
        [("cases", "COUNT(*)"), ("online", online),
         ("target", f"CAST((CASE s.djjg {numerator} END) AS float) / (CASE s.djjg {denominator} END)")]
    )
    return f"""
        SELECT s.djjg AS subject_id, s.djjg AS unit_code, {detail} AS detail
        FROM stg_djt_dj_sl s
        WHERE {ONLINE_POPULATION}
        GROUP BY s.djjg
        HAVING COUNT(*) >= :min_cases
           AND {online} * (CASE s.djjg {denominator} END) < (CASE s.djjg {numerator} END) * COUNT(*)"""


@dataclass(frozen=True)
class OnlineShare:
    """A unit's online-handling share (plan item 12) against its target."""

    online: int
    cases: int
    target: Fraction

    @property
    def share(self) -> float:
        return self.online / self.cases if self.cases else 0.0

    @property
    def met(self) -> bool:
        return self.cases == 0 or self.online * self.target.denominator >= self.target.numerator * self.cases


def online_shares(engine: Engine, period: Period, policy: Policy) -> dict[str, OnlineShare]:
    """Per unit of the policy: cases accepted in ``period`` in ONLINE_RATIO_LOW's
    population, how many of them online, and the unit's target (whatever their number:
    the rule's min_cases decides only whether it judges)."""
    params = {"ps": period.start_at, "pe": period.as_of, "online_sqfs": list(policy.online_handling.online_sqfs),
              "mortgage_codes": list(policy.mortgage_qllx_codes)}
    statement = bind_typed(text(f"""
        SELECT s.djjg, COUNT(*) AS cases, {ONLINE_COUNT} AS online
        FROM stg_djt_dj_sl s
        WHERE {ONLINE_POPULATION}
        GROUP BY s.djjg"""), params)
    with engine.connect() as conn:
        counts = {row.djjg: (int(row.online or 0), int(row.cases)) for row in conn.execute(statement, params)}
    return {code: OnlineShare(*counts.get(code, (0, 0)), policy.online_target(code)) for code in policy.units}


CASES = ("DJT_DJ_SL",)
RETURNS = ("BDC_BYSL", "DJT_DJ_SL")
DEADLINE_LABELS = {"slsj": "受理时间", "jssj": "办结时间", "deadline": "办理期限", "djdl": "登记大类", "gqts": "挂起天数"}

declare(
    code="CASE_OVERDUE", severity=Severity.MEDIUM, subject_type="YWH", family="case", reads=CASES,
    title="办结超过法定时限（工作日）", labels=DEADLINE_LABELS,
    sql=_overdue_sql, params=_limits, needs_calendar=True, prohibition=Prohibition.OBSTRUCTION, tags=("time_limit",),
)
declare(
    code="CASE_OVERDUE_OPEN", severity=Severity.HIGH, subject_type="YWH", family="case", reads=CASES,
    title="在办案件已超过办理时限", labels={k: v for k, v in DEADLINE_LABELS.items() if k != "jssj"},
    sql=_overdue_open_sql, params=_limits, needs_calendar=True, prohibition=Prohibition.OBSTRUCTION,
    tags=("time_limit",),
)
declare(
    code="CASE_QUEUE_JUMP", severity=Severity.HIGH, subject_type="YWH", family="case", reads=("DJT_DJ_SL", "DJF_DJ_DB"),
    title="疑似插队：办理用时远低于同类案件中位数且超越多件先受理案件",
    labels={"slsj": "受理时间", "dbsj": "登簿时间", "elapsed": "用时（工作日）", "median": "同类当月中位数",
            "overtaken_at_least": "超越先受理案件不少于", "overtaken_example": "被超越案件", "limit_class": "时限类别"},
    sql=_queue_jump_sql, params=_queue_params, needs_calendar=True, prohibition=Prohibition.OBSTRUCTION,
)
declare(
    code="RETURN_UNJUSTIFIED", severity=Severity.MEDIUM, subject_type="BDC_BYSL.ID", family="case", reads=RETURNS,
    title="退件未注明法定理由（随意退件）",
    labels={"ywh": "业务号", "thsj": "退件时间", "thyydm": "退件理由代码", "thyy": "退件理由"},
    sql=_unjustified_sql, params=_reason_codes, prohibition=Prohibition.EXTRA_REQUIREMENTS,
)
declare(
    code="RETURN_REPEATED", severity=Severity.MEDIUM, subject_type="BDC_BYSL.ID", family="case", reads=RETURNS,
    title="同一不动产单元短期内被同一机构重复退件",
    labels={"bdcdyh": "不动产单元号", "thsj": "退件时间", "previous_id": "前次退件", "previous_thsj": "前次退件时间"},
    sql=_repeated_sql, params=_repeat_window, prohibition=Prohibition.EXTRA_REQUIREMENTS,
)
declare(
    code="MORTGAGE_WHILE_SEALED", severity=Severity.HIGH, subject_type="YWH", family="case",
    reads=("QLF_QL_CFDJ", "DJT_DJ_SL", "DJF_DJ_DB"),
    title="查封期间办理了抵押登记",
    labels={"bdcdyh": "不动产单元号", "dbsj": "登簿时间", "cf_ywh": "查封业务号", "cfjg": "查封机关",
            "cfkssj": "查封时间"},
    sql=_sealed_sql, params=_mortgage_codes, prohibition=Prohibition.ILLEGAL_REGISTRATION,
)
declare(
    code="ONLINE_RATIO_LOW", severity=Severity.MEDIUM, subject_type="DJJG", family="case", reads=CASES,
    title="预告、抵押登记“一网通办”比例低于目标",
    labels={"cases": "案件数", "online": "网办数", "target": "目标"},
    sql=_online_sql, params=_online_params, per_period=True,
)


DUE_SOON_HORIZON_DAYS = 45  # calendar days written past as-of: covers the longest limit plus holidays


def due_soon_cases(engine: Any, ri: RuleInput, calendar: Any) -> list[dict[str, Any]]:
    """CASE_DUE_SOON (an alert, not a finding): cases in progress at as-of with at most
    due_soon_working_days working days left (0 = due on the as-of day)."""
    from bdcwatch.rules.calendar_table import refresh_work_calendar

    with engine.begin() as conn:
        refresh_work_calendar(conn, calendar, ri.period.as_of, days_after=DUE_SOON_HORIZON_DAYS)
    sql = f"""
        SELECT s.ywh, s.djjg, s.djdl, s.slsj, dl.day AS deadline, dl.seq - td.next_seq AS days_left
        FROM stg_djt_dj_sl s
        {deadline_join(ri)}
        JOIN work_calendar td ON td.day = :today
        WHERE s.slsj < :asof AND (s.ajzt = 1 OR (s.ajzt IN (2, 3, 5) AND s.jssj >= :asof))
          AND dl.day >= :today AND dl.seq - td.next_seq <= :due_soon
        ORDER BY s.djjg, dl.day, s.ywh"""
    params = {**ri.base_params, **_limits(ri), "today": ri.period.as_of.date(),
              "due_soon": ri.policy.due_soon_working_days}
    with engine.connect() as conn:
        rows = conn.execute(bind_typed(text(sql), params), params)
        return [dict(row._mapping) for row in rows]
