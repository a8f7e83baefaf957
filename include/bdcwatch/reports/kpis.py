"""Unit KPIs of a month (CONTRACT §7 ``GET /bdcwatch/api/kpis?period=2026-03``) and their
six-month trend, for the operations UI.

Per unit of the policy:

* **e-certificate coverage** — paper certificates printed in the month whose grace has
  passed, and how many have a matching e-certificate as of the month's end (the digest
  headline's figure, ``rules.ecert.ecert_coverage``);
* **on-time completion** — cases completed (AJZT 2, JSSJ in the month) and how many of
  them the ledger does *not* hold as CASE_OVERDUE: the deadlines are the engine's
  (CONTRACT §5), judged by ``case_timeliness_watch`` / ``monthly_quality_check``, so a
  month no DAG has judged yet shows every completed case as on time;
* **online share** — plan item 12's population and its online cases against the unit's
  target (``rules.online.online_shares``);
* **ledger** — open and overdue at the month's end and closed in the month; for the month
  just ended and the running one open and overdue are now (their checks run after they
  end: the monthly check on the 1st finds last month's problems). Older months read
  today's ledger: a finding closed and reopened since counts as open then too (its
  ``closed_at`` is cleared on reopening).

Grouped queries only: the cost follows the number of units and months, not of findings.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import date, datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import Engine, and_, case, func, or_, select, text

from bdcwatch.config.policy import Policy
from bdcwatch.dates.periods import Period, parse_period_label
from bdcwatch.ledger.lifecycle import OPEN_STATUSES
from bdcwatch.reports.rates import percent
from bdcwatch.rules.ecert import ecert_coverage
from bdcwatch.rules.online import online_shares
from bdcwatch.standards.masking import mask_id_numbers
from bdcwatch.store.dialect import Dialect, bind_typed
from bdcwatch.store.models import finding, inspection

TREND_MONTHS = 6


def _percent(part: int, whole: int) -> float | None:
    return percent(part, whole)


@dataclass(frozen=True)
class UnitKpi:
    """One unit's figures for one month. Percentages are 0–100 with one decimal, None
    where there is nothing to measure."""

    unit_code: str
    unit_name: str
    period: str
    certificates: int
    with_ecert: int
    completed: int
    late: int
    online: int
    online_cases: int
    online_target: float  # percent
    open: int
    overdue: int
    closed_in_period: int
    checked: bool = True  # month_checked: else no CASE_OVERDUE was judged and on-time is unknown


    @property
    def ecert_coverage(self) -> float | None:
        return _percent(self.with_ecert, self.certificates)

    @property
    def on_time(self) -> float | None:
        """Percent of the cases completed in the month not held as CASE_OVERDUE; None for
        a month bdcwatch never checked (no finding would make it 100 %)."""
        return _percent(self.completed - self.late, self.completed) if self.checked else None

    @property
    def online_share(self) -> float | None:
        return _percent(self.online, self.online_cases)

    @property
    def online_met(self) -> bool | None:
        # Exact, as ONLINE_RATIO_LOW judges it: 62 of 207 (29.95 %) misses a 30 % target.
        if not self.online_cases:
            return None
        return self.online * 100 >= Fraction(str(self.online_target)) * self.online_cases

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "ecert_coverage": self.ecert_coverage, "on_time": self.on_time,
                "online_share": self.online_share, "online_met": self.online_met}


def month_checked(engine: Engine, period: Period) -> bool:
    """Whether bdcwatch checked ``period`` at all: an inspection cycle drew its samples for
    it (``inspection.period``), or a rule recorded a finding judged on data of it
    (``finding.judged_as_of`` within (start, as-of])."""
    with engine.connect() as conn:
        sampled = conn.execute(select(inspection.c.id).where(inspection.c.period == period.label).limit(1)).first()
        if sampled is not None:
            return True
        judged = conn.execute(select(finding.c.id).where(
            finding.c.judged_as_of > period.start_at, finding.c.judged_as_of <= period.as_of).limit(1)).first()
    return judged is not None


_MONTH = re.compile(r"(19[0-9]{2}|2[0-9]{3})-(0[1-9]|1[0-2])")  # a month with six before it and one after


def month_period(label: str) -> Period:
    """``2026-03`` → that month. Raises ValueError for anything but a YYYY-MM month
    (``2026-Q4`` and ``2026-H2`` are 7 characters too: they are not months)."""
    written = label.strip()
    if not _MONTH.fullmatch(written):
        shown = mask_id_numbers(written[:20])  # echoed to the caller: §6 all the same
        raise ValueError(f"“{shown}”不是月份，应写作 2026-03（period {shown!r} is not a month written YYYY-MM）")
    return parse_period_label(written)


def previous_months(period: Period, count: int = TREND_MONTHS) -> list[Period]:
    """``count`` months ending with ``period``'s, oldest first."""
    index = period.start.year * 12 + period.start.month - 1
    starts = [date(i // 12, i % 12 + 1, 1) for i in range(index - count + 1, index + 2)]
    return [Period(a, b) for a, b in zip(starts, starts[1:], strict=False)]


def _on_time(engine: Engine, period: Period) -> dict[str, tuple[int, int]]:
    """Per unit: (cases completed in the period, of them held as CASE_OVERDUE)."""
    dialect = Dialect(engine.dialect.name)
    fingerprint = dialect.concat("'CASE_OVERDUE|'", "s.ywh", "'|'")  # ledger.findings' key, unique-indexed
    params = {"ps": period.start_at, "pe": period.as_of}
    statement = bind_typed(text(f"""
        SELECT s.djjg AS unit_code, COUNT(*) AS completed,
               SUM(CASE WHEN f.id IS NULL THEN 0 ELSE 1 END) AS late
        FROM stg_djt_dj_sl s LEFT JOIN finding f ON f.fingerprint = {fingerprint}
        WHERE s.ajzt = 2 AND s.jssj >= :ps AND s.jssj < :pe
        GROUP BY s.djjg"""), params)
    with engine.connect() as conn:
        return {r.unit_code: (int(r.completed), int(r.late or 0)) for r in conn.execute(statement, params)}


def ledger_moment(period: Period, now: datetime) -> datetime:
    """When a month's open / overdue figures are taken: at its end, except for the month
    just ended and the running one, whose checks run after they end (the monthly check
    on the 1st, the staff audit on Monday): for those, now."""
    this_month = datetime(now.year, now.month, 1)
    return now if period.as_of >= this_month else period.as_of


def _ledger(engine: Engine, period: Period, now: datetime) -> dict[str | None, tuple[int, int, int]]:
    """Per unit: (open, overdue) at ``ledger_moment``, closed in the period."""
    at = ledger_moment(period, now)
    if at >= now:  # the ledger as it stands
        is_open: Any = finding.c.status.in_(OPEN_STATUSES)
    else:
        is_open = and_(finding.c.first_detected_at < at, or_(finding.c.closed_at.is_(None), finding.c.closed_at >= at))
    closed = and_(finding.c.closed_at >= period.start_at, finding.c.closed_at < period.as_of)
    query = select(
        finding.c.unit_code,
        func.sum(case((is_open, 1), else_=0)),
        func.sum(case((and_(is_open, finding.c.due_date < at.date()), 1), else_=0)),
        func.sum(case((closed, 1), else_=0)),
    ).group_by(finding.c.unit_code)
    with engine.connect() as conn:
        return {unit: (int(o or 0), int(d or 0), int(c or 0)) for unit, o, d, c in conn.execute(query)}


def unit_kpis(engine: Engine, policy: Policy, period: Period, now: datetime) -> list[UnitKpi]:
    """Every unit of the policy for ``period`` (a month), in DJJG order. ``now``: the
    policy zone's wall clock (the running month's ledger figures)."""
    coverage = ecert_coverage(engine, period, policy)
    shares = online_shares(engine, period, policy)
    on_time = _on_time(engine, period)
    ledger = _ledger(engine, period, now)
    checked = month_checked(engine, period)
    kpis = []
    for code in sorted(policy.units):
        total, covered = coverage.get(code, (0, 0))
        completed, late = on_time.get(code, (0, 0))
        share = shares[code]
        open_, overdue, closed = ledger.get(code, (0, 0, 0))
        kpis.append(UnitKpi(code, policy.units[code].name, period.label, total, covered, completed, late,
                            share.online, share.cases, round(float(share.target) * 100, 1), open_, overdue, closed,
                            checked))
    return kpis


def kpi_trend(engine: Engine, policy: Policy, period: Period, now: datetime,
              months: int = TREND_MONTHS) -> dict[str, list[UnitKpi]]:
    """Per unit, its KPIs for the ``months`` months ending with ``period``, oldest first."""
    trend: dict[str, list[UnitKpi]] = {code: [] for code in sorted(policy.units)}
    for month in previous_months(period, months):
        for kpi in unit_kpis(engine, policy, month, now):
            trend[kpi.unit_code].append(kpi)
    return trend
