"""Keeps supervision_db.work_calendar in step with the working-day calendar in force.

Rebuilt whole for each run that needs deadlines (a few thousand rows), from the earliest
acceptance date in staging to the as-of date: seq numbers must be continuous from the
first row, and a deadline after as-of never decides a finding (it is simply "not yet due").
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import Connection, delete, func, select

from bdcwatch.dates.workdays import WorkCalendar, calendar_rows
from bdcwatch.store.models import stg_djt_dj_sl, work_calendar

EARLIEST = date(2004, 1, 1)  # the first year the State Council calendar data cover


def refresh_work_calendar(
    conn: Connection, calendar: WorkCalendar, as_of: datetime, *, days_after: int = 0
) -> tuple[date, date]:
    """Rewrite work_calendar for [earliest acceptance, as-of + days_after]; returns the
    range written. Only due-soon alerts look past as-of (``days_after``)."""
    earliest = conn.execute(select(func.min(stg_djt_dj_sl.c.slsj))).scalar()
    last = as_of.date() + timedelta(days=days_after)
    first = max(EARLIEST, min(earliest.date() if earliest else last, last.replace(month=1, day=1)))
    conn.execute(delete(work_calendar))
    rows = calendar_rows(calendar, first, last)
    for start in range(0, len(rows), 1000):
        conn.execute(work_calendar.insert(), rows[start : start + 1000])
    return first, last
