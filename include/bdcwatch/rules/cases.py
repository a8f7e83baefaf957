"""Case rules (plan items 20, 26, 33): returns without lawful reason, repeated returns, and
mortgages registered on seized property, exactly as CONTRACT §3 words them.

A return's unit is its case's DJJG. MySQL runs with ONLY_FULL_GROUP_BY, so every
non-grouped column is aggregated.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from . import Rule, RuleInput

RETURN_IN_PERIOD = "b.thsj >= :ps AND b.thsj < :pe"
# Limit classes that DJDL decides before the mortgage test (CONTRACT §5, first match wins).
DJDL_FIRST_CLASSES = ("800", "600", "700")


def _limits(ri: RuleInput) -> dict[str, Any]:
    limits = {str(k): int(v) for k, v in ri.policy.raw["time_limits_working_days"].items()}
    params: dict[str, Any] = {f"limit_{cls}": limits[cls] for cls in DJDL_FIRST_CLASSES if cls in limits}
    params["limit_mortgage"] = limits["mortgage"]
    for index, (djdl, days) in enumerate(sorted((k, v) for k, v in limits.items() if k.isdigit())):
        params[f"djdl_{index}"], params[f"djdl_limit_{index}"] = djdl, days
    return {**params, **_mortgage_codes(ri)}


def limit_days_sql(ri: RuleInput, case: str = "s") -> str:
    """The case's time limit in working days by its limit class (CONTRACT §5)."""
    limits = {str(k) for k in ri.policy.raw["time_limits_working_days"]}
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
    return {"reason_codes": [str(code) for code in ri.policy.raw["return_reason_codes"]]}


def _repeat_window(ri: RuleInput) -> dict[str, Any]:
    return {"window_hours": int(ri.policy.raw["repeat_return_days"]) * 24}


def _mortgage_codes(ri: RuleInput) -> dict[str, Any]:
    return {"mortgage_codes": [str(code) for code in ri.policy.raw["mortgage_qllx_codes"]]}


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
    queue = ri.policy.raw["queue_jump"]
    fraction = Fraction(str(queue["max_fraction_of_median"]))
    first_month = ri.period.start_at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return {
        "exempt_classes": [str(c) for c in queue["exempt_classes"]],
        "overtaken_offset": max(int(queue["min_overtaken"]) - 1, 0),
        "min_overtaken": int(queue["min_overtaken"]),
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


def _online_params(ri: RuleInput) -> dict[str, Any]:
    online = ri.policy.raw["online_handling"]
    params: dict[str, Any] = {
        "online_sqfs": [int(v) for v in online["online_sqfs"]],
        "min_cases": int(online["min_cases"]),
        **_mortgage_codes(ri),
    }
    for index, unit in enumerate(sorted(ri.policy.units.values(), key=lambda u: u.code)):
        # The target as an exact fraction: comparing online × den < num × total avoids
        # float noise right at the threshold (0.3 × 20 is not 6 in binary).
        target = Fraction(str(online["targets"][unit.level]))
        params[f"unit_{index}"] = unit.code
        params[f"num_{index}"], params[f"den_{index}"] = target.numerator, target.denominator
    return params


def _online_sql(ri: RuleInput) -> str:
    count = len(ri.policy.units)
    numerator = " ".join(f"WHEN :unit_{i} THEN :num_{i}" for i in range(count))
    denominator = " ".join(f"WHEN :unit_{i} THEN :den_{i}" for i in range(count))
    online = "SUM(CASE WHEN s.sqfs IN :online_sqfs THEN 1 ELSE 0 END)"
    detail = ri.dialect.json_object(
        [("cases", "COUNT(*)"), ("online", online),
         ("target", f"CAST((CASE s.djjg {numerator} END) AS float) / (CASE s.djjg {denominator} END)")]
    )
    return f"""
        SELECT s.djjg AS subject_id, s.djjg AS unit_code, {detail} AS detail
        FROM stg_djt_dj_sl s
        WHERE s.slsj >= :ps AND s.slsj < :pe AND (s.djdl = '{PRESALE_DJDL}' OR s.qllx IN :mortgage_codes)
        GROUP BY s.djjg
        HAVING COUNT(*) >= :min_cases
           AND {online} * (CASE s.djjg {denominator} END) < (CASE s.djjg {numerator} END) * COUNT(*)"""


CASE_RULES: tuple[Rule, ...] = (
    Rule("CASE_OVERDUE", "medium", "YWH", False, _overdue_sql, _limits,
         "办结超过法定时限（工作日）", needs_calendar=True),
    Rule("CASE_OVERDUE_OPEN", "high", "YWH", False, _overdue_open_sql, _limits,
         "在办案件已超过办理时限", needs_calendar=True),
    Rule("CASE_QUEUE_JUMP", "high", "YWH", False, _queue_jump_sql, _queue_params,
         "疑似插队：办理用时远低于同类案件中位数且超越多件先受理案件", needs_calendar=True),
    Rule("RETURN_UNJUSTIFIED", "medium", "BDC_BYSL.ID", False, _unjustified_sql, _reason_codes,
         "退件未注明法定理由（随意退件）"),
    Rule("RETURN_REPEATED", "medium", "BDC_BYSL.ID", False, _repeated_sql, _repeat_window,
         "同一不动产单元短期内被同一机构重复退件"),
    Rule("MORTGAGE_WHILE_SEALED", "high", "YWH", False, _sealed_sql, _mortgage_codes,
         "查封期间办理了抵押登记"),
    Rule("ONLINE_RATIO_LOW", "medium", "DJJG", True, _online_sql, _online_params,
         "预告、抵押登记“一网通办”比例低于目标"),
)


DUE_SOON_HORIZON_DAYS = 45  # calendar days written past as-of: covers the longest limit plus holidays


def due_soon_cases(engine: Any, ri: RuleInput, calendar: Any) -> list[dict[str, Any]]:
    """CASE_DUE_SOON (an alert, not a finding): cases in progress at as-of with at most
    due_soon_working_days working days left (0 = due on the as-of day)."""
    from sqlalchemy import text

    from ..calendar_table import refresh_work_calendar
    from ..ledger import bind_typed

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
              "due_soon": int(ri.policy.raw["due_soon_working_days"])}
    with engine.connect() as conn:
        rows = conn.execute(bind_typed(text(sql), params), params)
        return [dict(row._mapping) for row in rows]
