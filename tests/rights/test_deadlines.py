from __future__ import annotations

import calendar
import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goodwill.rights import (
    RequestStateError,
    create_request,
    extend_request,
    get_request,
    list_requests,
    refuse_request,
)
from goodwill.rights._tables import ensure_rights_tables
from goodwill.rights.deadlines import (
    add_months,
    days_left,
    due_date,
    extended_due_date,
    may_extend,
    next_working_day,
    receipt_day,
)
from goodwill.store import Store, open_store

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


# -- the rules through the request API: receipt day, extension, overdue -------------------------

offsets = st.integers(-12 * 60, 14 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
moments = st.builds(
    lambda day, secs, tz: dt.datetime.combine(day, dt.time()).replace(tzinfo=tz) + dt.timedelta(seconds=secs),
    st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31)),
    st.integers(0, 86_399),
    offsets,
)


def _store() -> Store:
    s = open_store(":memory:")
    s.append("customers", pa.Table.from_pylist([{"customer_id": "C1", "display_name": "Someone"}]))
    return s


@settings(max_examples=30, deadline=None)
@given(moments, st.sampled_from([1, 2]), st.integers(-40, 40))
def test_extension_counts_from_the_day_received_where_it_arrived(at: dt.datetime, months: int, offset: int) -> None:
    # The day of receipt is the local date of the timestamp, though the store keeps the instant
    # in UTC: a request of 23:30 on 31 January in New York is due on 29 February, and its
    # extension by two months on 30 April, not 1 May.
    local_day = at.date()
    with _store() as s:
        req = create_request(s, "C1", "access", received_at=at)
        assert req.received_on == local_day
        assert req.due_on == due_date(local_day)
        today = req.due_on - dt.timedelta(days=offset)
        if may_extend(req.due_on, today):
            ext = extend_request(s, req.request_id, months, "complex", today=today)
            assert ext.extended_due_on == next_working_day(add_months(local_day, 1 + months))
            assert ext.deadline == ext.extended_due_on
        else:
            assert today > req.due_on
            with pytest.raises(RequestStateError, match="before then"):
                extend_request(s, req.request_id, months, "complex", today=today)


@settings(max_examples=25, deadline=None)
@given(moments, st.integers(-60, 60))
def test_days_left_and_overdue_flag(at: dt.datetime, offset: int) -> None:
    with _store() as s:
        req = create_request(s, "C1", "erasure", received_at=at)
        today = req.deadline + dt.timedelta(days=offset)
        d = req.to_dict(today)
        assert d["days_left"] == -offset == req.days_left(today)
        assert d["overdue"] is (offset > 0)
        assert [r.request_id for r in list_requests(s, overdue_only=True, today=today)] == ([req.request_id] if offset > 0 else [])
        # A closed request is never overdue, and shows no days left.
        done = refuse_request(s, req.request_id, "identity could not be verified")
        assert not done.overdue(today) and done.to_dict(today)["days_left"] is None


@given(moments)
def test_receipt_day_of_a_request_stored_without_it(at: dt.datetime) -> None:
    # Stores made before the day was kept: it is recovered from the instant and the due date,
    # exactly unless two days of receipt share a due date at a month's end.
    local_day = at.date()
    due = due_date(local_day)
    got = receipt_day(at.astimezone(dt.UTC), due)
    assert due_date(got) == due and abs((got - local_day).days) <= 1
    if at.utcoffset() == dt.timedelta(0) or all(due_date(local_day + dt.timedelta(days=k)) != due for k in (-1, 1)):
        assert got == local_day


def test_store_made_before_the_receipt_day_was_kept(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    with open_store(path) as s:
        ensure_rights_tables(s)
        s.execute("ALTER TABLE rights_requests DROP COLUMN received_on")
        ny = dt.timezone(dt.timedelta(hours=-5))
        s.append("customers", pa.Table.from_pylist([{"customer_id": "C1"}]))
        s.execute(
            "INSERT INTO rights_requests (request_id, person_id, kind, status, received_at, due_on, updated_at) "
            "VALUES ('rq_old', 'C1', 'access', 'received', ?, ?, ?)",
            [dt.datetime(2024, 1, 31, 23, 30, tzinfo=ny), dt.date(2024, 2, 29), dt.datetime(2024, 2, 1, tzinfo=dt.UTC)],
        )
    with open_store(path) as s:
        req = get_request(s, "rq_old")
        assert req.received_on is None
        ext = extend_request(s, "rq_old", 2, "complex", today=dt.date(2024, 2, 20))
        assert ext.extended_due_on == dt.date(2024, 4, 30)
        new = create_request(s, "C1", "access", received_at=dt.datetime(2024, 3, 1, 9, tzinfo=dt.UTC))
        assert new.received_on == dt.date(2024, 3, 1)
