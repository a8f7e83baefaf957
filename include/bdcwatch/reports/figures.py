"""Headline figures of a unit for digests and the annual summary (issue 5: headline numbers
first): the ledger's state (open, overdue, closed in the period), e-certificate coverage,
the online-handling share against the unit's target, and a monthly trend.

All read from supervision_db in grouped queries; nothing per finding or per case is held.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, and_, case, func, select, text

from bdcwatch.dates.periods import Period
from bdcwatch.ledger.lifecycle import OPEN_STATUSES
from bdcwatch.reports.rates import percent_text
from bdcwatch.rules.online import OnlineShare
from bdcwatch.store.dialect import Dialect, bind_typed
from bdcwatch.store.models import finding


@dataclass
class LedgerFigures:
    open: int = 0  # open, rectifying or reopened now
    overdue: int = 0  # of those, past their rectification due date
    closed_in_period: int = 0
    detected_in_period: int = 0  # first detected in the period (wall-clock detection time)


@dataclass
class UnitFigures:
    ledger: LedgerFigures = field(default_factory=LedgerFigures)
    ecert: tuple[int, int] | None = None  # (certificates, with e-certificate)
    online: OnlineShare | None = None

    def headline(self) -> list[tuple[str, Any, str]]:
        """The digest headline cards (label, value, colour) after the digest's own new and
        high-risk counts, most important first."""
        cards: list[tuple[str, Any, str]] = [
            ("未销号问题", self.ledger.open, "#e65100"), ("逾期未整改", self.ledger.overdue, "#c62828"),
            ("本期已销号", self.ledger.closed_in_period, "#2e7d32"),
        ]
        if self.ecert is not None:
            total, covered = self.ecert
            cards.append(("电子证照覆盖率", percent_text(covered, total), "#2e7d32"))
        if self.online is not None:
            value = (f"{percent_text(self.online.online, self.online.cases)} / {percent_text(self.online.target)}"
                     if self.online.cases else "—")
            cards.append(("网办率 / 目标", value, "#2e7d32" if self.online.met else "#c62828"))
        return cards


def ledger_figures(engine: Engine, period: Period, today: date) -> dict[str | None, LedgerFigures]:
    """Per unit: open and overdue findings now, closed and first detected in the period.

    Three grouped queries, each a range of one index (status; closed_at; first_detected_at:
    migrations 0007, 0010), so a daily digest reads the open findings and the period's,
    not the whole history of the ledger (issue 13). A unit with no finding at all is
    absent: read it as zeros (the mapping is a defaultdict)."""
    def in_period(column: Any) -> Any:
        return and_(column >= period.start_at, column < period.as_of)

    is_open = finding.c.status.in_(OPEN_STATUSES)
    figures: dict[str | None, LedgerFigures] = defaultdict(LedgerFigures)
    with engine.connect() as conn:
        for unit, open_, overdue in conn.execute(
            select(finding.c.unit_code, func.count(), func.sum(case((finding.c.due_date < today, 1), else_=0)))
            .where(is_open).group_by(finding.c.unit_code)
        ):
            figures[unit].open, figures[unit].overdue = int(open_ or 0), int(overdue or 0)
        for unit, closed in conn.execute(
            select(finding.c.unit_code, func.count())
            .where(in_period(finding.c.closed_at), finding.c.status == "closed").group_by(finding.c.unit_code)
        ):
            figures[unit].closed_in_period = int(closed or 0)
        for unit, detected in conn.execute(
            select(finding.c.unit_code, func.count()).where(in_period(finding.c.first_detected_at))
            .group_by(finding.c.unit_code)
        ):
            figures[unit].detected_in_period = int(detected or 0)
    return figures


def monthly_trend(engine: Engine, months: list[tuple[int, int]]) -> dict[str | None, list[tuple[str, int, int]]]:
    """Per unit, per month (year, month): (label 'YYYY-MM', problems that happened in the
    month, findings closed in the month). A problem counts in the month it happened,
    ``finding.occurred_on`` (``ledger.findings.occurred_day``: its rule's defining date such
    as the certificate's SZSJ, else the last day of the period first judged), the month the
    ledger's 所属期间 shows (issue 11: October's problems found in December are October's);
    in the month detected only for a row without one."""
    first = months[0]
    labels = [f"{y}-{m:02d}" for y, m in months]
    dialect = Dialect(engine.dialect.name)
    happened = f"COALESCE({dialect.month_text('f.occurred_on')}, {dialect.month_text('f.first_detected_at')})"
    # A problem is detected after it happened: the window's start bounds both scans, each a
    # range of its time index (migration 0010). Grouping by month first keeps SQLite from
    # walking the whole ledger in unit order instead (issue 13).
    params = {"start": datetime(first[0], first[1], 1)}
    counts: dict[str | None, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    with engine.connect() as conn:
        for slot, (month, column) in enumerate(((happened, "first_detected_at"),
                                                (dialect.month_text("f.closed_at"), "closed_at"))):
            statement = bind_typed(text(f"""
                SELECT f.unit_code, {month} AS month, COUNT(*) AS n FROM finding f
                WHERE f.{column} >= :start
                GROUP BY {month}, f.unit_code"""), params)
            for unit, key, n in conn.execute(statement, params):
                label = _month_label(key)
                if label in labels:
                    counts[unit][label][slot] += int(n)
    return {unit: [(label, by_month[label][0], by_month[label][1]) for label in labels]
            for unit, by_month in counts.items()}


def _month_label(key: Any) -> str:
    """Dialect month keys as 'YYYY-MM' (MySQL's EXTRACT(YEAR_MONTH) gives 202603)."""
    text_key = str(key)
    return text_key if "-" in text_key else f"{text_key[:4]}-{text_key[4:6]}"


def last_months(today: date, count: int = 6) -> list[tuple[int, int]]:
    """The ``count`` calendar months ending with today's month, oldest first."""
    index = today.year * 12 + today.month - 1
    return [((i // 12), i % 12 + 1) for i in range(index - count + 1, index + 1)]
