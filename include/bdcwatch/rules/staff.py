"""Staff rules (plan items 21, 24, 27, 28), exactly as CONTRACT §3 words them.

Two kinds:

* Case-step rules (STAFF_UNTRAINED_ON_POST, STAFF_UNKNOWN_HANDLER, STAFF_INACTIVE_HANDLER)
  join the steps of cases in the period to the registry. A step is (staff id, time):
  SLRYBH at SLSJ, SHRYBH at SHJSSJ (else SHKSSJ), DBRYBH at DBSJ. Null or blank ids are not
  steps. Step dates are compared with registry dates as calendar days.
* Registry rules judge RY_JBXX/RY_PXJL as of as-of. "On post at as-of" (在岗) is ZT = 1,
  already started (SGSJ before the as-of day, or unknown) and not yet gone (LGSJ null or
  on/after the as-of day). "Passed" training is KHJG = 1.

Findings are about a person (RYBH; for an unknown handler the id as written), so the
ledger keeps one finding per person and rule, updated on every run. The yearly
obligations carry a year label instead: STAFF_TRAINING_HOURS the finished year judged,
STAFF_TRAINING_BEHIND and STAFF_PLEDGE_MISSING the as-of year, so next year's shortfall
is a new finding and not a closed one found again.

A person whose RY_JBXX row sits in quarantine (unreadable) is still "in RY_JBXX": their
case steps are not reported as unknown handlers, which would blame the unit for a data
defect already reported to operations. (Not for a registry that numbers its staff by
身份证号: the quarantine keeps such a key masked, §6, and the guard cannot match it.)
"""

from __future__ import annotations

import calendar as _calendar
from datetime import date
from typing import Any

from bdcwatch.config.policy import Severity
from bdcwatch.config.sections import Staff
from bdcwatch.rules.base import Prohibition, RuleInput, declare

NOTHING = "1 = 0"  # the rule is not judged for this as-of (a yearly check, a deadline not yet passed)


def _asof_day(ri: RuleInput) -> date:
    return ri.period.as_of.date()


def _year_start(ri: RuleInput) -> date:
    return date(_asof_day(ri).year, 1, 1)


def _years_before(day: date, years: int) -> date:
    """The same month and day ``years`` earlier (29 Feb becomes 28 Feb)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _staff_policy(ri: RuleInput) -> Staff:
    return ri.policy.staff


def on_post_sql(p: str = "p") -> str:
    """在岗 at as-of (binds ``:asof_day``): the population of every registry rule."""
    return (f"{p}.zt = 1 AND ({p}.sgsj IS NULL OR {p}.sgsj < :asof_day) "
            f"AND ({p}.lgsj IS NULL OR {p}.lgsj >= :asof_day)")


def _blank(column: str) -> str:
    return f"({column} IS NULL OR TRIM({column}) = '')"


def _registry_params(ri: RuleInput) -> dict[str, Any]:
    return {"asof_day": _asof_day(ri), "year_start": _year_start(ri)}


def _steps_sql(ri: RuleInput) -> str:
    """Every case step in the period: rybh, at, ywh, djjg (the case's unit, may be null)."""
    review_at = "COALESCE(h.shjssj, h.shkssj)"
    return f"""
            SELECT s.slrybh AS rybh, s.slsj AS at, s.ywh, s.djjg
            FROM stg_djt_dj_sl s
            WHERE s.slsj >= :ps AND s.slsj < :pe AND {_present("s.slrybh")}
            UNION ALL
            SELECT h.shrybh, {review_at}, h.ywh, s.djjg
            FROM stg_djf_dj_sh h LEFT JOIN stg_djt_dj_sl s ON s.ywh = h.ywh
            WHERE ((h.shjssj >= :ps AND h.shjssj < :pe) OR (h.shjssj IS NULL AND h.shkssj >= :ps AND h.shkssj < :pe))
              AND {_present("h.shrybh")}
            UNION ALL
            SELECT d.dbrybh, d.dbsj, d.ywh, s.djjg
            FROM stg_djf_dj_db d LEFT JOIN stg_djt_dj_sl s ON s.ywh = d.ywh
            WHERE d.dbsj >= :ps AND d.dbsj < :pe AND {_present("d.dbrybh")}"""


def _present(column: str) -> str:
    return f"{column} IS NOT NULL AND TRIM({column}) <> ''"


def _step_detail(ri: RuleInput, extra: list[tuple[str, str]]) -> str:
    return ri.dialect.json_object(
        [("steps", "COUNT(*)"), ("first_step_at", "MIN(st.at)"), ("last_step_at", "MAX(st.at)"),
         ("example_case", "MIN(st.ywh)"), *extra]
    )


def _registered_steps_sql(ri: RuleInput, *, condition: str, detail: list[tuple[str, str]], join: str = "") -> str:
    """Registered people (RY_JBXX) with a step in the period meeting ``condition``; the
    finding goes to the person's own unit (DWDM)."""
    return f"""
        SELECT p.rybh AS subject_id, MIN(p.dwdm) AS unit_code, {_step_detail(ri, detail)} AS detail
        FROM ({_steps_sql(ri)}) st
        JOIN stg_ry_jbxx p ON p.rybh = st.rybh{join}
        WHERE {condition}
        GROUP BY p.rybh"""


def _untrained_sql(ri: RuleInput) -> str:
    first_passed = """
        LEFT JOIN (SELECT rybh, MIN(pxrq) AS first_passed FROM stg_ry_pxjl WHERE khjg = 1 GROUP BY rybh) t
               ON t.rybh = p.rybh"""
    return _registered_steps_sql(
        ri, condition=f"t.first_passed IS NULL OR {ri.dialect.to_date('st.at')} < t.first_passed",
        detail=[("first_passed_training", "MIN(t.first_passed)")], join=first_passed,
    )


def _unknown_sql(ri: RuleInput) -> str:
    detail = _step_detail(ri, [("units", "COUNT(DISTINCT st.djjg)")])
    return f"""
        SELECT st.rybh AS subject_id, MIN(st.djjg) AS unit_code, {detail} AS detail
        FROM ({_steps_sql(ri)}) st
        LEFT JOIN stg_ry_jbxx p ON p.rybh = st.rybh
        WHERE p.rybh IS NULL
          AND NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.source_table = 'RY_JBXX'
                          AND q.resolved_at IS NULL AND q.row_key = {ri.dialect.concat("'RYBH='", "st.rybh")})
        GROUP BY st.rybh"""


def _inactive_sql(ri: RuleInput) -> str:
    return _registered_steps_sql(
        ri, condition=f"p.lgsj IS NOT NULL AND {ri.dialect.to_date('st.at')} > p.lgsj", detail=[("lgsj", "MIN(p.lgsj)")]
    )


def passed_hours_sql(since: str, until: str) -> str:
    """Passed (KHJG 1) training hours per RYBH with PXRQ in [since, until)."""
    return f"""(SELECT rybh, SUM(xs) AS hours FROM stg_ry_pxjl
               WHERE khjg = 1 AND pxrq >= {since} AND pxrq < {until} GROUP BY rybh)"""


def _hours_judged(ri: RuleInput) -> bool:
    as_of = ri.period.as_of
    return (as_of.month, as_of.day, as_of.hour, as_of.minute, as_of.second) == (1, 1, 0, 0, 0)


def _hours_params(ri: RuleInput) -> dict[str, Any]:
    year = _asof_day(ri).year - 1
    return {**_registry_params(ri), "judged_from": date(year, 1, 1), "judged_to": date(year + 1, 1, 1),
            "judged_last_day": date(year, 12, 31), "min_hours": _staff_policy(ri).min_training_hours_per_year}


def _hours_sql(ri: RuleInput) -> str:
    detail = ri.dialect.json_object(
        [("year_from", ":judged_from"), ("passed_hours", "COALESCE(t.hours, 0)"), ("required", ":min_hours")]
    )
    judged = "1 = 1" if _hours_judged(ri) else NOTHING
    # 在岗 all year (CONTRACT §3): on post from 1 January to 31 December of the judged year,
    # whatever happened after it: still on post, or left on 31 December or later (a leaving
    # day is a day on post, as in ``on_post_sql``). ZT is today's status, not the year's.
    return f"""
        SELECT p.rybh AS subject_id, p.dwdm AS unit_code, {detail} AS detail
        FROM stg_ry_jbxx p
        LEFT JOIN {passed_hours_sql(":judged_from", ":judged_to")} t ON t.rybh = p.rybh
        WHERE {judged} AND p.sgsj <= :judged_from
          AND ((p.lgsj IS NULL AND p.zt = 1) OR p.lgsj >= :judged_last_day)
          AND COALESCE(t.hours, 0) < :min_hours"""


def _hours_label(ri: RuleInput) -> str:
    return str(_asof_day(ri).year - 1)


def _year_label(ri: RuleInput) -> str:
    return str(_asof_day(ri).year)


def _behind_params(ri: RuleInput) -> dict[str, Any]:
    day = _asof_day(ri)
    return {**_registry_params(ri), "asof_month": day.month, "asof_dom": day.day,
            "asof_is_month_end": int(day.day == _calendar.monthrange(day.year, day.month)[1]),
            "min_hours": _staff_policy(ri).min_training_hours_per_year}


def year_end_behind_params(ri: RuleInput) -> dict[str, Any]:
    """STAFF_TRAINING_BEHIND's parameters judged at the end of the year before as-of, for
    a month report whose as-of is 1 January (the bulletin's December). At 1 January the
    rule's own year is the new one (m = 0, nobody is behind; STAFF_TRAINING_HOURS judges
    the year just finished), which would score December's training 100 for every unit
    trained or not. Here the year is the one just finished and m runs to its end (a 13th
    month's first day: 12 for a person on post all year, as the yearly rule requires the
    full minimum; fewer for one who started during it); hours are those of that year."""
    day = _asof_day(ri)
    return {**_behind_params(ri), "year_start": date(day.year - 1, 1, 1), "asof_month": 13, "asof_dom": 1,
            "asof_is_month_end": 0}


def _behind_sql(ri: RuleInput) -> str:
    """m = whole months from start = max(1 Jan, SGSJ) to the as-of day. start and as-of
    are in the same year, so m = month difference, minus one when start's day-of-month has
    not come round yet; month addition clips to month end (31 Jan + 1 month = 28 Feb), so
    on the last day of the as-of month it always has."""
    d = ri.dialect
    late_start = "(p.sgsj IS NOT NULL AND p.sgsj > :year_start)"
    start_month = f"(CASE WHEN {late_start} THEN {d.month_of('p.sgsj')} ELSE 1 END)"
    start_dom = f"(CASE WHEN {late_start} THEN {d.day_of('p.sgsj')} ELSE 1 END)"
    months = (f"(:asof_month - {start_month} - CASE WHEN :asof_is_month_end = 0 AND {start_dom} > :asof_dom "
              "THEN 1 ELSE 0 END)")
    detail = d.json_object(
        [("passed_hours", "COALESCE(t.hours, 0)"), ("months", months), ("required", f":min_hours * {months} / 12.0")]
    )
    return f"""
        SELECT p.rybh AS subject_id, p.dwdm AS unit_code, {detail} AS detail
        FROM stg_ry_jbxx p
        LEFT JOIN {passed_hours_sql(":year_start", ":asof_day")} t ON t.rybh = p.rybh
        WHERE {on_post_sql()} AND COALESCE(t.hours, 0) * 12 < :min_hours * {months}"""


def _incomplete_sql(ri: RuleInput) -> str:
    d = ri.dialect
    def flag(condition: str) -> str:
        return f"CASE WHEN {condition} THEN 1 ELSE 0 END"

    detail = d.json_object([
        ("zjh", "p.zjh_masked"),
        ("zjh_missing", flag(_blank("p.zjh_masked"))),
        ("zjh_invalid", flag("p.zjh_masked IS NOT NULL AND TRIM(p.zjh_masked) <> '' AND p.zjh_valid = 0")),
        ("dwdm_missing", flag(_blank("p.dwdm"))), ("yglx_missing", flag("p.yglx IS NULL")),
        ("gw_missing", flag(_blank("p.gw"))), ("sgsj_missing", flag("p.sgsj IS NULL")),
    ])
    return f"""
        SELECT p.rybh AS subject_id, NULLIF(TRIM(p.dwdm), '') AS unit_code, {detail} AS detail
        FROM stg_ry_jbxx p
        WHERE {on_post_sql()}
          AND ({_blank("p.zjh_masked")} OR p.zjh_valid = 0 OR {_blank("p.dwdm")} OR p.yglx IS NULL
               OR {_blank("p.gw")} OR p.sgsj IS NULL)"""


def _rotation_params(ri: RuleInput) -> dict[str, Any]:
    staff = _staff_policy(ri)
    return {**_registry_params(ri), "key_posts": list(staff.key_posts),
            "rotation_cutoff": _years_before(_asof_day(ri), staff.rotation_years)}


def _rotation_sql(ri: RuleInput) -> str:
    detail = ri.dialect.json_object([("gw", "p.gw"), ("gwkssj", "p.gwkssj"), ("due_since", ":rotation_cutoff")])
    return f"""
        SELECT p.rybh AS subject_id, p.dwdm AS unit_code, {detail} AS detail
        FROM stg_ry_jbxx p
        WHERE {on_post_sql()} AND p.gw IN :key_posts AND p.gwkssj IS NOT NULL AND p.gwkssj < :rotation_cutoff"""


def pledge_deadline(ri: RuleInput) -> date:
    return _staff_policy(ri).pledge_deadline_in(_asof_day(ri).year)


def _pledge_sql(ri: RuleInput) -> str:
    detail = ri.dialect.json_object([("lzcnsj", "p.lzcnsj"), ("pledge_deadline", ":pledge_deadline")])
    judged = "1 = 1" if _asof_day(ri) > pledge_deadline(ri) else NOTHING
    return f"""
        SELECT p.rybh AS subject_id, p.dwdm AS unit_code, {detail} AS detail
        FROM stg_ry_jbxx p
        WHERE {judged} AND {on_post_sql()} AND (p.lzcnsj IS NULL OR p.lzcnsj < :year_start)"""


def _pledge_params(ri: RuleInput) -> dict[str, Any]:
    return {**_registry_params(ri), "pledge_deadline": pledge_deadline(ri)}


STEPS = ("DJT_DJ_SL", "DJF_DJ_SH", "DJF_DJ_DB", "RY_JBXX")
REGISTRY = ("RY_JBXX",)
TRAINING = ("RY_JBXX", "RY_PXJL")
STEP_LABELS = {"steps": "期内办件环节数", "first_step_at": "首次办件", "last_step_at": "末次办件", "example_case": "案件示例"}

declare(
    code="STAFF_UNTRAINED_ON_POST", event=True, severity=Severity.HIGH, subject_type="RYBH", family="staff",
    reads=(*STEPS, "RY_PXJL"), title="未经岗前培训合格即上岗办件",
    labels={**STEP_LABELS, "first_passed_training": "首次培训合格日期"},
    explanation="该人员在首次培训考核合格之前已经办理登记业务（或至今没有合格的培训记录）。请立即安排岗前培训，合格前不得独立办件。",
    occurred="first_step_at",
    sql=_untrained_sql, prohibition=Prohibition.ILLEGAL_REGISTRATION,
)
declare(
    code="STAFF_UNKNOWN_HANDLER", event=True, severity=Severity.HIGH, subject_type="RYBH", family="staff", reads=STEPS,
    title="办件人员不在登记人员信息库（疑似非工作人员介入）", labels={**STEP_LABELS, "units": "涉及机构数"},
    explanation="办件记录中的人员编号在登记人员信息库中查不到，可能是非工作人员（如中介、“黄牛”）使用账号办件，或人员信息漏登。请立即核实账号使用情况。",
    occurred="first_step_at",
    sql=_unknown_sql, prohibition=Prohibition.ILLEGAL_REGISTRATION,
)
declare(
    code="STAFF_INACTIVE_HANDLER", event=True, severity=Severity.HIGH, subject_type="RYBH", family="staff", reads=STEPS,
    title="离岗人员仍在办件", labels={**STEP_LABELS, "lgsj": "离岗日期"},
    explanation="该人员已离岗，但其账号仍在办理登记业务。请立即停用账号，并核查相关案件。",
    occurred="first_step_at",
    sql=_inactive_sql, prohibition=Prohibition.ILLEGAL_REGISTRATION,
)
declare(
    code="STAFF_TRAINING_HOURS", event=True, severity=Severity.MEDIUM, subject_type="RYBH", family="staff", reads=TRAINING,
    title="全年在岗人员年度培训学时不足",
    labels={"year_from": "年度起", "passed_hours": "合格学时", "required": "应达学时"},
    explanation="该人员全年在岗，但年度合格培训学时低于规定学时。请在新年度培训计划中补足。",
    sql=_hours_sql, params=_hours_params, per_period=True, label=_hours_label,
)
declare(
    code="STAFF_TRAINING_BEHIND", event=True, severity=Severity.LOW, subject_type="RYBH", family="staff", reads=TRAINING,
    title="年度培训学时进度落后",
    labels={"passed_hours": "合格学时", "months": "计入月数", "required": "应达学时"},
    explanation="按全年规定学时折算，该人员截至目前的合格培训学时落后于进度。请在年底前安排培训。",
    sql=_behind_sql, params=_behind_params, per_period=True, label=_year_label,
)
declare(
    code="STAFF_RECORD_INCOMPLETE", severity=Severity.LOW, subject_type="RYBH", family="staff", reads=REGISTRY,
    title="人员信息不完整或身份证号校验不通过",
    labels={"zjh": "身份证号", "zjh_missing": "缺身份证号", "zjh_invalid": "身份证号校验不通过",
            "dwdm_missing": "缺单位代码", "yglx_missing": "缺用工类型", "gw_missing": "缺岗位",
            "sgsj_missing": "缺上岗时间"},
    flags=("zjh_missing", "zjh_invalid", "dwdm_missing", "yglx_missing", "gw_missing", "sgsj_missing"),
    explanation="人员信息库中该人员的身份证号、单位、用工类型、岗位或上岗时间缺失，或身份证号校验不通过。请补全、更正人员信息。",
    sql=_incomplete_sql, params=_registry_params,
)
declare(
    code="STAFF_ROTATION_DUE", severity=Severity.LOW, subject_type="RYBH", family="staff", reads=REGISTRY,
    title="关键岗位任职超过轮岗年限", labels={"gw": "岗位", "gwkssj": "任现岗起", "due_since": "轮岗界限"},
    explanation="该人员在关键岗位任职已超过规定的轮岗年限。请按定期轮岗要求安排轮岗。",
    sql=_rotation_sql, params=_rotation_params,
)
declare(
    code="STAFF_PLEDGE_MISSING", severity=Severity.LOW, subject_type="RYBH", family="staff", reads=REGISTRY,
    title="本年度廉政承诺书未签订", labels={"lzcnsj": "廉政承诺签订日期", "pledge_deadline": "签订期限"},
    explanation="该人员本年度尚未签订廉政承诺书（已过签订期限）。请督促及时签订并归档。",
    sql=_pledge_sql, params=_pledge_params, per_period=True, label=_year_label,
)

__all__ = ["on_post_sql", "passed_hours_sql", "pledge_deadline", "year_end_behind_params"]
