from __future__ import annotations

import logging
from datetime import date

import pytest

from bdcwatch.config.policy import PolicyError, load_policy
from bdcwatch.dates.periods import Period, period_label, previous_period
from bdcwatch.dates.workdays import WorkCalendar, calendar_from_policy


def with_calendar(policy, calendar):
    """The policy with a ``calendar`` section, validated as the loader does."""
    from bdcwatch.config.policy import parse_policy

    return parse_policy({**policy.model_dump(mode="json"), "calendar": calendar}, "test")


@pytest.mark.parametrize(
    ("accepted", "limit", "deadline"),
    [
        (date(2025, 9, 30), 3, date(2025, 10, 11)),  # ends on a Saturday makeup working day
        (date(2026, 2, 14), 1, date(2026, 2, 24)),  # accepted on a makeup Saturday
        (date(2026, 10, 3), 1, date(2026, 10, 9)),  # accepted on a holiday
        (date(2026, 4, 30), 5, date(2026, 5, 11)),
    ],
)
def test_contract_deadline_vectors(accepted, limit, deadline):
    assert WorkCalendar().deadline(accepted, limit) == deadline


def test_limit_zero_is_the_start_day_and_suspension_extends():
    calendar = WorkCalendar()
    assert calendar.deadline(date(2026, 3, 2), 0) == date(2026, 3, 2)
    assert calendar.deadline(date(2026, 3, 7), 0) == date(2026, 3, 9)  # Saturday → Monday
    assert calendar.deadline(date(2026, 3, 2), 1, suspended_days=2) == date(2026, 3, 5)


def test_unknown_year_falls_back_to_weekends_and_says_so(caplog):
    calendar = WorkCalendar()
    with caplog.at_level(logging.WARNING):
        assert calendar.is_workday(date(2027, 1, 4))  # a Monday
        assert not calendar.is_workday(date(2027, 1, 2))  # a Saturday
    assert calendar.fallback_years == {2027}
    assert "2027" in caplog.text and "Monday-Friday" in caplog.text


def test_operator_override_for_a_new_year():
    policy = load_policy()
    calendar = calendar_from_policy(with_calendar(policy, {2027: {"holidays": ["2027-01-01"],
                                                                 "makeup_workdays": ["2027-01-02"]}}))
    assert not calendar.is_workday(date(2027, 1, 1))
    assert calendar.is_workday(date(2027, 1, 2))
    assert calendar.fallback_years == set()
    with pytest.raises(PolicyError, match=r"calendar\.2027: dates outside the year: 2026-12-31"):
        with_calendar(policy, {2027: {"holidays": ["2026-12-31"]}})


@pytest.mark.parametrize(
    ("start", "end", "label"),
    [
        (date(2026, 3, 1), date(2026, 4, 1), "2026-03"),
        (date(2026, 1, 1), date(2026, 4, 1), "2026-Q1"),
        (date(2026, 10, 1), date(2027, 1, 1), "2026-Q4"),
        (date(2026, 7, 1), date(2027, 1, 1), "2026-H2"),
        (date(2026, 1, 1), date(2027, 1, 1), "2026"),
        (date(2026, 3, 1), date(2026, 4, 15), "2026-03-01..2026-04-15"),
        (date(2026, 12, 1), date(2027, 1, 1), "2026-12"),
    ],
)
def test_period_labels(start, end, label):
    assert period_label(start, end) == label


def test_period_as_of_and_validation():
    period = Period.parse("2026-01-01", "2026-04-01")
    assert period.as_of.isoformat() == "2026-04-01T00:00:00"
    with pytest.raises(ValueError, match="must be after"):
        Period.parse("2026-04-01", "2026-01-01")
    with pytest.raises(ValueError, match="bad period"):
        Period.parse("2026-13-01", "2027-01-01")


def test_previous_periods():
    today = date(2026, 11, 25)
    assert previous_period("day", today).label == "2026-11-24..2026-11-25"
    assert previous_period("month", today).label == "2026-10"
    assert previous_period("quarter", today).label == "2026-Q3"
    assert previous_period("half", today).label == "2026-H1"
    assert previous_period("year", today).label == "2025"
    assert previous_period("week", today).start == date(2026, 11, 16)
    assert previous_period("year_to_date", date(2026, 12, 15)) == Period(date(2026, 1, 1), date(2026, 12, 15))
    # The annual summary started on New Year's Day: the year just ended (1 January to itself
    # was no period: the run failed and was retried before any alert).
    assert previous_period("year_to_date", date(2027, 1, 1)) == Period(date(2026, 1, 1), date(2027, 1, 1))


def test_calendar_rows_number_working_days_and_point_weekends_forward():
    from bdcwatch.dates.workdays import calendar_rows

    rows = {r["day"]: r for r in calendar_rows(WorkCalendar(), date(2025, 9, 29), date(2025, 10, 12))}
    assert rows[date(2025, 9, 30)]["seq"] == 2 and rows[date(2025, 9, 30)]["is_workday"] == 1
    assert rows[date(2025, 10, 1)]["is_workday"] == 0 and rows[date(2025, 10, 1)]["next_seq"] == 3
    assert rows[date(2025, 10, 9)]["seq"] == 3  # first working day after the National Day holidays
    assert rows[date(2025, 10, 11)]["is_workday"] == 1 and rows[date(2025, 10, 11)]["seq"] == 5  # makeup Saturday
    assert rows[date(2025, 10, 12)]["next_seq"] == 6  # past the table's end: the next, unwritten one
    assert {r["source"] for r in rows.values()} == {"chinese-calendar"}
