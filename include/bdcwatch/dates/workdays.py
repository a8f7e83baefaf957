"""Working days on the State Council calendar (holidays and 调休 makeup days).

``chinese-calendar`` knows the years published so far. For a later year the operator adds
that year's holidays and makeup working days under ``calendar`` in the policy file::

    calendar:
      2027: {holidays: ["2027-01-01", ...], makeup_workdays: ["2027-02-07", ...]}

Without them the engine does not guess: it falls back to Monday–Friday and records the
year in ``fallback_years`` so the run log and every digest that used it can say so.
(Named ``workdays`` rather than ``calendar`` so it never shadows the standard module.)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import chinese_calendar

from bdcwatch.config.policy import Policy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class YearOverride:
    holidays: frozenset[date]
    makeup_workdays: frozenset[date]


def overrides_from_policy(policy: Policy) -> dict[int, YearOverride]:
    """The policy's ``calendar`` section (validated at load) as overrides by year."""
    return {
        year: YearOverride(frozenset(body.holidays), frozenset(body.makeup_workdays))
        for year, body in policy.calendar.items()
    }


@dataclass
class WorkCalendar:
    """Answers 'is this a working day' and counts working days."""

    overrides: dict[int, YearOverride] = field(default_factory=dict)
    fallback_years: set[int] = field(default_factory=set)

    def source_of(self, day: date) -> str:
        """Where the answer for ``day`` comes from (for the calendar table and reports)."""
        if day.year in self.overrides:
            return "override"
        try:
            chinese_calendar.is_workday(day)
            return "chinese-calendar"
        except NotImplementedError:
            return "weekend-fallback"

    def is_workday(self, day: date) -> bool:
        override = self.overrides.get(day.year)
        if override is not None:
            if day in override.holidays:
                return False
            if day in override.makeup_workdays:
                return True
            return day.weekday() < 5
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            if day.year not in self.fallback_years:
                self.fallback_years.add(day.year)
                log.warning(
                    "WORKING-DAY CALENDAR: year %s is not published in chinese-calendar and the policy has "
                    "no 'calendar: %s' override; counting Monday-Friday only. Add that year's holidays and "
                    "makeup days to the policy file.", day.year, day.year,
                )
            return day.weekday() < 5

    def on_or_after(self, day: date) -> date:
        """The day itself if it is a working day, else the next working day."""
        while not self.is_workday(day):
            day += timedelta(days=1)
        return day

    def add_working_days(self, start: date, count: int) -> date:
        """The ``count``-th working day after ``start`` (``start`` itself for 0)."""
        day = start
        remaining = count
        while remaining > 0:
            day += timedelta(days=1)
            if self.is_workday(day):
                remaining -= 1
        return day

    def deadline(self, accepted: date, limit_days: int, suspended_days: int = 0) -> date:
        """CONTRACT §5: start = acceptance day or the next working day; deadline is the
        (limit + suspended)-th working day after start."""
        return self.add_working_days(self.on_or_after(accepted), limit_days + suspended_days)

    def workdays_between(self, first: date, last: date) -> Iterable[date]:
        day = first
        while day <= last:
            if self.is_workday(day):
                yield day
            day += timedelta(days=1)


def calendar_from_policy(policy: Policy) -> WorkCalendar:
    """The working-day calendar in force: chinese-calendar plus the policy's overrides."""
    return WorkCalendar(overrides_from_policy(policy))


def calendar_rows(calendar: WorkCalendar, first: date, last: date) -> list[dict[str, Any]]:
    """Rows of the work_calendar table for [first, last] (see models.work_calendar)."""
    days = []
    day, seq = first, 0
    while day <= last:
        workday = calendar.is_workday(day)
        seq += workday
        days.append({"day": day, "is_workday": int(workday), "seq": seq, "source": calendar.source_of(day)})
        day += timedelta(days=1)
    upcoming = None
    for row in reversed(days):  # next_seq: the seq of this day if a working day, else of the next one
        if row["is_workday"]:
            upcoming = row["seq"]
        row["next_seq"] = upcoming if upcoming is not None else seq + 1
    return days
