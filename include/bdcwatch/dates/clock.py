"""The one place product code reads the wall clock.

Stored timestamps are local wall-clock time in the policy's zone without a zone (as the
sources write theirs), so "now" is always taken in that zone, never in the machine's:
a server in UTC and one in Asia/Shanghai record the same instant the same way.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo


def local_now(zone: ZoneInfo) -> datetime:
    """Now in ``zone``, to the second, without zone information."""
    return datetime.now(zone).replace(tzinfo=None, microsecond=0)


def local_today(zone: ZoneInfo) -> date:
    """Today's date in ``zone`` (it differs from the machine's date for hours each day)."""
    return local_now(zone).date()
