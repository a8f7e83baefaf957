"""The monthly scorecard of CONTRACT §8 (plan items 32, 35): six indicators per unit for a
calendar month [start, end), judged as of ``end`` 00:00 like every rule.

Each indicator is a numerator over a denominator. Where a rule defines the population,
the indicator reuses the rule's own definition (its SQL fragment, or the rule itself run
for the month), so the bulletin and the findings can never disagree:

``ecert_coverage`` 电子证照覆盖率
    denominator: the unit's paper certificates (BDC_ZS) whose ``max_delay_hours`` grace
    ended in the month (SZSJ + grace in (start, end]) — ECERT_MISSING's test on the
    certificates that reach it in the month, so one printed on the month's last day counts
    in the next (``rules.ecert.ecert_coverage``); numerator: those with a matching
    e-certificate issued before as-of. Score 100 × numerator / denominator.
``on_time_completion`` 按时办结率
    denominator: the unit's cases completed in the month (AJZT 2, JSSJ in the month) —
    CASE_OVERDUE's population (``rules.time_limits.COMPLETED_IN_PERIOD``); numerator: those
    CASE_OVERDUE does not flag for the month (finished on or before their deadline on the
    working-day calendar). Score 100 × numerator / denominator.
``online_share`` 网办率（对标目标）
    denominator: cases accepted in the month that are 预告 or mortgages — ONLINE_RATIO_LOW's
    population (``rules.online.online_shares``); numerator: those applied for online
    (SQFS in ``online_sqfs``). Score 100 × min(1, share / the unit's target).
``findings_per_1000`` 千件问题数
    denominator: cases the unit accepted in the month (DJT_DJ_SL, SLSJ in the month);
    numerator: the unit's problems of every kind (rules, review defects, complaints, missed
    duties; one per rule and subject, however many cycles recorded it) about the month: ``judged_as_of`` in (start, end] (a rule's as-of; a
    complaint's 受理时间; a sample's period end), for findings recorded before that column
    existed ``first_detected_at`` in the month. Value 1000 × numerator / denominator;
    score 100 × max(0, 1 − value / ``findings_per_1000_zero_score``).
``rectified_on_time`` 按期整改率
    denominator: the unit's findings whose rectification due date falls in the month;
    numerator: those closed on or before their due date (and not reopened since).
    Score 100 × numerator / denominator.
``training_on_track`` 培训进度达标率
    denominator: the unit's staff 在岗 at as-of (RY_JBXX, DWDM = unit) — the population of
    every registry rule (``rules.staff.on_post_sql``); numerator: those STAFF_TRAINING_BEHIND
    does not flag as of the month's end; for December, the year just finished judged whole
    (``rules.staff.year_end_behind_params``: at 1 January the rule's year is the new one and
    would flag nobody). Score 100 × numerator / denominator.

A denominator below policy ``bulletin.min_population`` makes the indicator 样本不足 for the
unit: shown, not scored. Weighting and ranking are in ``reports.ranking``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import Engine, and_, func, or_, select, text

from bdcwatch import rules
from bdcwatch.config.policy import Policy
from bdcwatch.config.sections import INDICATORS
from bdcwatch.dates.periods import Period
from bdcwatch.dates.workdays import WorkCalendar
from bdcwatch.reports.rates import percent_text
from bdcwatch.rules.ecert import ecert_coverage
from bdcwatch.rules.engine import detection, prepare_calendar, rule_input
from bdcwatch.rules.online import online_shares
from bdcwatch.rules.reported import COMPLAINT
from bdcwatch.rules.staff import on_post_sql, year_end_behind_params
from bdcwatch.rules.time_limits import COMPLETED_IN_PERIOD
from bdcwatch.store.dialect import bind_typed
from bdcwatch.store.models import finding

NAMES = {"ecert_coverage": "电子证照覆盖率", "on_time_completion": "按时办结率", "online_share": "网办率（对标目标）",
         "findings_per_1000": "千件问题数", "rectified_on_time": "按期整改率", "training_on_track": "培训进度达标率"}
POPULATIONS = {"ecert_coverage": "期内届满发证宽限期的纸质证书", "on_time_completion": "期内办结案件",
               "online_share": "期内受理的预告、抵押案件", "findings_per_1000": "期内受理案件",
               "rectified_on_time": "整改期限在期内的问题", "training_on_track": "期末在岗人员"}
NUMERATORS = {"ecert_coverage": "有对应电子证照", "on_time_completion": "未超期办结", "online_share": "网上申请",
              "findings_per_1000": "期内问题数", "rectified_on_time": "按期销号", "training_on_track": "培训学时达进度"}
# Source tables the indicators read (the bulletin DAG loads them first).
TABLES = ("DJT_DJ_SL", "BDC_ZS", "BDC_DZZZ_ZZXX", "RY_JBXX", "RY_PXJL")
HUNDRED = Fraction(100)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Measure:
    """One indicator of one unit: its counts, whether it is scored, and its 0–100 score."""

    indicator: str
    numerator: int
    denominator: int
    sufficient: bool
    score: Decimal | None  # None when not sufficient

    @property
    def value(self) -> Fraction | None:
        """The rate (0..1), or findings per 1,000 cases; None without a denominator."""
        if not self.denominator:
            return None
        scale = 1000 if self.indicator == "findings_per_1000" else 1
        return Fraction(self.numerator * scale, self.denominator)

    def value_text(self) -> str:
        value = self.value
        if value is None:
            return "—"
        return f"{float(value):.1f}" if self.indicator == "findings_per_1000" else percent_text(value)


def cents(value: Fraction) -> Decimal:
    """A score rounded half-up to hundredths (what is stored, shown and ranked)."""
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(CENT, rounding=ROUND_HALF_UP)


def indicator_score(indicator: str, numerator: int, denominator: int, policy: Policy, unit_code: str) -> Fraction:
    """The exact 0–100 score of an indicator with a non-zero denominator (module docstring)."""
    share = Fraction(numerator, denominator)
    if indicator == "online_share":
        target = policy.online_target(unit_code)
        return HUNDRED if target == 0 else HUNDRED * min(Fraction(1), share / target)
    if indicator == "findings_per_1000":
        zero_at = Fraction(str(policy.bulletin.findings_per_1000_zero_score))
        return HUNDRED * max(Fraction(0), 1 - share * 1000 / zero_at)
    return HUNDRED * share


def _count_flagged(engine: Engine, rule_code: str, ri: Any, overrides: dict[str, Any] | None = None) -> dict[str, int]:
    """Per unit: how many subjects ``rule_code`` flags for the period (its own SQL, with
    ``overrides`` of its parameters)."""
    sql, params = detection(rules.get(rule_code), ri)
    params.update(overrides or {})
    statement = bind_typed(text(f"SELECT r.unit_code, COUNT(*) AS n FROM ({sql}) r GROUP BY r.unit_code"), params)
    with engine.connect() as conn:
        return {row.unit_code: int(row.n) for row in conn.execute(statement, params) if row.unit_code}


def _grouped(engine: Engine, sql: str, params: dict[str, Any]) -> dict[str, int]:
    statement = bind_typed(text(sql), params)
    with engine.connect() as conn:
        return {row[0]: int(row[1]) for row in conn.execute(statement, params) if row[0]}


def _ledger_counts(engine: Engine, period: Period) -> tuple[dict[str, int], dict[str, tuple[int, int]]]:
    """Per unit: findings about the month; and (closed on time, due in the month).

    A finding's ``judged_as_of`` is mostly the as-of time of the check or the period it is
    about (the period's end, 00:00 of the next month, belongs to the month judged: a rule's
    run, a REVIEW_DEFECT's inspection, a duty's period); a COMPLAINT's is when it was
    accepted (one accepted on 1 March, written as a date, is 00:00 of 1 March: March's)."""
    about = or_(and_(finding.c.rule_code != COMPLAINT,
                     finding.c.judged_as_of > period.start_at, finding.c.judged_as_of <= period.as_of),
                and_(finding.c.rule_code == COMPLAINT,
                     finding.c.judged_as_of >= period.start_at, finding.c.judged_as_of < period.as_of),
                and_(finding.c.judged_as_of.is_(None), finding.c.first_detected_at >= period.start_at,
                     finding.c.first_detected_at < period.as_of))
    rectified: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    with engine.connect() as conn:
        # One problem, one count: the month's check, the quarter's and the half-year's each
        # record ONLINE_RATIO_LOW for June (2026-06, 2026-Q2, 2026-H1, all judged as of
        # 1 July): three findings of one rule and subject, one problem.
        problems = select(finding.c.unit_code, finding.c.rule_code, finding.c.subject_id).where(about).distinct().subquery()
        found = {r[0]: int(r[1]) for r in conn.execute(
            select(problems.c.unit_code, func.count()).group_by(problems.c.unit_code)) if r[0]}
        # Few findings fall due in a month: judged here rather than with each dialect's date cast.
        for row in conn.execute(select(finding.c.unit_code, finding.c.status, finding.c.closed_at, finding.c.due_date)
                                .where(finding.c.due_date >= period.start, finding.c.due_date < period.end)):
            if not row.unit_code:
                continue
            counted = rectified[row.unit_code]
            counted[1] += 1
            counted[0] += int(row.status == "closed" and row.closed_at is not None
                              and row.closed_at.date() <= row.due_date)
    return found, {unit: (n[0], n[1]) for unit, n in rectified.items()}


def measure_counts(engine: Engine, period: Period, policy: Policy, calendar: WorkCalendar) -> dict[str, dict[str, tuple[int, int]]]:
    """Per unit of the policy, per indicator: (numerator, denominator) for ``period``."""
    ri = rule_input(engine, period, policy)
    prepare_calendar(engine, [rules.get("CASE_OVERDUE")], calendar, period)
    params = {"ps": period.start_at, "pe": period.as_of, "asof_day": period.as_of.date()}
    completed = _grouped(engine, f"SELECT s.djjg, COUNT(*) FROM stg_djt_dj_sl s WHERE {COMPLETED_IN_PERIOD} "
                                 "GROUP BY s.djjg", params)
    late = _count_flagged(engine, "CASE_OVERDUE", ri)
    accepted = _grouped(engine, "SELECT s.djjg, COUNT(*) FROM stg_djt_dj_sl s WHERE s.slsj >= :ps AND s.slsj < :pe "
                                "GROUP BY s.djjg", params)
    on_post = _grouped(engine, f"SELECT p.dwdm, COUNT(*) FROM stg_ry_jbxx p WHERE {on_post_sql()} GROUP BY p.dwdm",
                       params)
    # December (as-of 1 January): the year just finished, judged whole (year_end_behind_params).
    year_end = period.as_of.month == 1 and period.as_of.day == 1
    behind = _count_flagged(engine, "STAFF_TRAINING_BEHIND", ri, year_end_behind_params(ri) if year_end else None)
    coverage, shares = ecert_coverage(engine, period, policy), online_shares(engine, period, policy)
    found, rectified = _ledger_counts(engine, period)
    counts: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
    for code in sorted(policy.units):
        total, covered = coverage.get(code, (0, 0))
        share = shares[code]
        counts[code] = {
            "ecert_coverage": (covered, total),
            "on_time_completion": (completed.get(code, 0) - late.get(code, 0), completed.get(code, 0)),
            "online_share": (share.online, share.cases),
            "findings_per_1000": (found.get(code, 0), accepted.get(code, 0)),
            "rectified_on_time": rectified.get(code, (0, 0)),
            "training_on_track": (on_post.get(code, 0) - behind.get(code, 0), on_post.get(code, 0)),
        }
    return dict(counts)


def measures(counts: dict[str, tuple[int, int]], policy: Policy, unit_code: str) -> dict[str, Measure]:
    """A unit's counts as scored measures (样本不足 below ``bulletin.min_population``)."""
    scored: dict[str, Measure] = {}
    for indicator in INDICATORS:
        numerator, denominator = counts[indicator]
        sufficient = denominator > 0 and denominator >= policy.bulletin.min_population[indicator]
        score = cents(indicator_score(indicator, numerator, denominator, policy, unit_code)) if sufficient else None
        scored[indicator] = Measure(indicator, numerator, denominator, sufficient, score)
    return scored
