from __future__ import annotations

import calendar
import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from goodwill.rights.deadlines import (
    add_months,
    days_left,
    due_date,
    extended_due_date,
    next_working_day,
)

days = st.dates(min_value=dt.date(1999, 1, 1), max_value=dt.date(2100, 12, 31))


def test_month_ends_and_leap_years() -> None:
    assert add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)
    assert add_months(dt.date(2023, 1, 31), 1) == dt.date(2023, 2, 28)
    assert add_months(dt.date(2100, 1, 29), 1) == dt.date(2100, 2, 28)  # 2100 is not a leap year
    assert add_months(dt.date(2000, 1, 30), 1) == dt.date(2000, 2, 29)  # 2000 is
    assert add_months(dt.date(2024, 3, 31), 1) == dt.date(2024, 4, 30)
    assert add_months(dt.date(2024, 12, 15), 1) == dt.date(2025, 1, 15)
    assert add_months(dt.date(2023, 11, 30), 3) == dt.date(2024, 2, 29)


def test_weekend_moves_to_next_working_day() -> None:
    # 2024-06-29 is a Saturday: a request of 29 May is due on Monday 1 July.
    assert due_date(dt.date(2024, 5, 29)) == dt.date(2024, 7, 1)
    assert due_date(dt.date(2024, 5, 29), working_day=False) == dt.date(2024, 6, 29)
    assert next_working_day(dt.date(2024, 12, 25), {dt.date(2024, 12, 25), dt.date(2024, 12, 26)}) == dt.date(2024, 12, 27)


@given(days)
def test_one_month_is_the_corresponding_day_or_the_last(received: dt.date) -> None:
    due = add_months(received, 1)
    expected_month = received.month % 12 + 1
    assert due.month == expected_month
    assert due.year == received.year + (1 if received.month == 12 else 0)
    last = calendar.monthrange(due.year, due.month)[1]
    assert due.day == min(received.day, last)
    assert 28 <= (due - received).days <= 31


@given(days)
def test_due_is_a_working_day_within_three_days(received: dt.date) -> None:
    due = due_date(received)
    assert due.weekday() < 5
    assert 0 <= (due - add_months(received, 1)).days <= 2


@given(days, st.sampled_from([1, 2]))
def test_extension_is_at_most_three_months(received: dt.date, months: int) -> None:
    ext = extended_due_date(received, months, working_day=False)
    assert ext == add_months(received, 1 + months)
    assert ext > due_date(received, working_day=False)
    assert (ext - received).days <= 92


@given(days, st.integers(-40, 40))
def test_days_left(due: dt.date, offset: int) -> None:
    today = due - dt.timedelta(days=offset)
    assert days_left(due, today) == offset
