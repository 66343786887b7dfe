"""Response deadlines for data-subject requests (UK and EU GDPR Art. 12(3)).

The ICO's reading, which goodwill follows: the clock starts on the day the request is
received; the deadline is the *corresponding calendar day* of the next month, or the
last day of that month when it has no such day (received 31 January: due 28 or 29
February). A deadline that falls on a weekend or a listed holiday moves to the next
working day. An extension adds up to two further months (counted the same way from
the day of receipt) and must be recorded before the first deadline has passed.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Collection

__all__ = ["add_months", "days_left", "due_date", "extended_due_date", "may_extend", "next_working_day", "receipt_day"]


def add_months(day: dt.date, months: int) -> dt.date:
    """The corresponding calendar day ``months`` later, or the last day of that month."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def next_working_day(day: dt.date, holidays: Collection[dt.date] = ()) -> dt.date:
    while day.weekday() >= 5 or day in holidays:
        day += dt.timedelta(days=1)
    return day


def due_date(
    received: dt.date, *, holidays: Collection[dt.date] = (), working_day: bool = True
) -> dt.date:
    """One month from receipt."""
    due = add_months(received, 1)
    return next_working_day(due, holidays) if working_day else due


def extended_due_date(
    received: dt.date, months: int, *, holidays: Collection[dt.date] = (), working_day: bool = True
) -> dt.date:
    """The deadline after extending by ``months`` (1 or 2) further months."""
    if months not in (1, 2):
        raise ValueError("an extension is by one or two further months")
    due = add_months(received, 1 + months)
    return next_working_day(due, holidays) if working_day else due


def receipt_day(received_at: dt.datetime, due_on: dt.date, *, holidays: Collection[dt.date] = ()) -> dt.date:
    """The day of receipt behind ``due_on`` for a request stored without it (older stores).

    The stored instant's UTC date if it gives ``due_on``, else the day before or after it (a
    request received late in the evening west of UTC, or early in the morning east of it)."""
    utc = (received_at if received_at.tzinfo else received_at.replace(tzinfo=dt.UTC)).astimezone(dt.UTC).date()
    for day in (utc, utc - dt.timedelta(days=1), utc + dt.timedelta(days=1)):
        if due_date(day, holidays=holidays) == due_on:
            return day
    return utc


def may_extend(due_on: dt.date, today: dt.date) -> bool:
    """An extension must be recorded by the first deadline (the day it falls due included)."""
    return today <= due_on


def days_left(due: dt.date, today: dt.date) -> int:
    """Days until the deadline: 0 on the day it falls due, negative once overdue."""
    return (due - today).days
