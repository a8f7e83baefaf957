"""Audit periods: [start, end) in local dates, their contract labels, and as-of.

Rules judge data as of ``end`` 00:00 local time (CONTRACT §2), so the same period always
gives the same answer whenever it is run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # exclusive

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"period_end {self.end} must be after period_start {self.start}")
        try:  # a period whose label the calendar cannot write (ending in 9999) is no period
            period_label(self.start, self.end)
        except (ValueError, OverflowError):
            raise ValueError(f"the period {self.start}..{self.end} is out of range of the calendar") from None

    @property
    def as_of(self) -> datetime:
        return datetime(self.end.year, self.end.month, self.end.day)

    @property
    def start_at(self) -> datetime:
        return datetime(self.start.year, self.start.month, self.start.day)

    @property
    def label(self) -> str:
        return period_label(self.start, self.end)

    @classmethod
    def parse(cls, start: str | date, end: str | date) -> Period:
        try:
            return cls(_as_date(start), _as_date(end))
        except ValueError as error:
            raise ValueError(f"bad period {start!r}..{end!r}: {error} (use ISO dates, end exclusive)") from None


def _as_date(value: str | date) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def period_label(start: date, end: date) -> str:
    """``2026-03``, ``2026-Q1``, ``2026-H1``, ``2026`` for whole calendar periods, else
    ``2026-03-01..2026-04-15`` (end exclusive)."""
    if start.day == 1:
        if start.month == 1 and end == date(start.year + 1, 1, 1):
            return f"{start.year}"
        if start.month in (1, 7) and end == _add_months(start, 6):
            return f"{start.year}-H{1 if start.month == 1 else 2}"
        if start.month in (1, 4, 7, 10) and end == _add_months(start, 3):
            return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
        if end == _add_months(start, 1):
            return f"{start.year}-{start.month:02d}"
    return f"{start.isoformat()}..{end.isoformat()}"


def previous_period(kind: str, today: date) -> Period:
    """The natural period of a schedule that has just ended before ``today``."""
    if kind == "day":
        return Period(today - timedelta(days=1), today)
    if kind == "year_to_date":  # the annual summary on 15 December: 1 January up to today
        # On 1 January (the missed summary run at New Year) the year just ended, whole: 1
        # January to itself is no period (it failed, and was retried, before any alert).
        start = date(today.year - 1, 1, 1) if (today.month, today.day) == (1, 1) else date(today.year, 1, 1)
        return Period(start, today)
    if kind == "week":
        monday = today - timedelta(days=today.weekday())
        return Period(monday - timedelta(days=7), monday)
    this_month = date(today.year, today.month, 1)
    if kind == "month":
        return Period(_add_months(this_month, -1), this_month)
    if kind == "quarter":
        start = date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
        return Period(_add_months(start, -3), start)
    if kind == "half":
        start = date(today.year, 1 if today.month <= 6 else 7, 1)
        return Period(_add_months(start, -6), start)
    if kind == "year":
        return Period(date(today.year - 1, 1, 1), date(today.year, 1, 1))
    raise ValueError(f"unknown period kind {kind!r}")


def local_date(moment: datetime, zone: tzinfo) -> date:
    """The date of a zone-aware ``moment`` in ``zone``: the day a run stands for. A run at
    17:00 UTC belongs to the next day in Asia/Shanghai."""
    return moment.astimezone(zone).date()


def rolling_window(run_date: date, days: int) -> Period:
    """[run_date - days, run_date): for daily DAGs whose rules wait out a grace period."""
    return Period(run_date - timedelta(days=days), run_date)


def parse_period_label(label: str) -> Period:
    """The inverse of ``period_label``: ``2026-03``, ``2026-Q1``, ``2026-H1``, ``2026``,
    ``2026-03-01..2026-04-15``. Raises ValueError for anything else, a year Python's dates
    cannot hold (``99999999999``) included."""
    try:
        return _parse_period_label(label)
    except OverflowError:
        raise ValueError(f"period {label!r} is out of range") from None


def _parse_period_label(label: str) -> Period:
    text = label.strip()
    if ".." in text:
        start, end = text.split("..", 1)
        return Period.parse(start, end)
    parts = text.split("-")
    year = int(parts[0])
    if len(parts) == 1:
        return Period(date(year, 1, 1), date(year + 1, 1, 1))
    part = parts[1].upper()
    if part.startswith("Q"):
        first = date(year, (int(part[1:]) - 1) * 3 + 1, 1)
        return Period(first, _add_months(first, 3))
    if part.startswith("H"):
        if part not in ("H1", "H2"):
            raise ValueError(f"bad half year {label!r}")
        first = date(year, 1 if part == "H1" else 7, 1)
        return Period(first, _add_months(first, 6))
    first = date(year, int(part), 1)
    return Period(first, _add_months(first, 1))
