"""Calendar arithmetic: examples worked by hand, then properties over random calendars."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goodwill.errors import ConfigError
from goodwill.model.calendar import WorkingCalendar, add_months, end_of_local_day

UTC = dt.UTC
ZONES = ["UTC", "Europe/London", "America/New_York", "America/Sao_Paulo", "Australia/Lord_Howe"]


def t(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s)


LONDON = WorkingCalendar.from_dict(
    {
        "timezone": "Europe/London",
        "hours": {"weekdays": ["09:00-12:30", "13:30-17:30"]},
        "holidays": ["2017-12-25", "2017-12-26"],
    }
)


def test_working_seconds_by_hand() -> None:
    # Fri 16:00 -> Mon 10:00 London (winter, UTC+0): 1.5 h Friday + 1 h Monday
    assert (
        LONDON.working_seconds(t("2017-11-24T16:00+00:00"), t("2017-11-27T10:00+00:00"))
        == 2.5 * 3600
    )
    # the lunch break does not count
    assert LONDON.working_seconds(t("2017-11-27T12:00+00:00"), t("2017-11-27T14:00+00:00")) == 3600
    # Christmas and Boxing Day are holidays
    assert LONDON.working_seconds(t("2017-12-25T00:00+00:00"), t("2017-12-27T00:00+00:00")) == 0


def test_dst_day_counts_wall_clock_hours() -> None:
    ny = WorkingCalendar.from_dict({"timezone": "America/New_York", "hours": "always"})
    # 12 March 2017: clocks go forward, the local day has 23 hours
    day = ny.working_seconds(t("2017-03-12T05:00+00:00"), t("2017-03-13T04:00+00:00"))
    assert day == 23 * 3600
    nine_to_five = WorkingCalendar.business("America/New_York")
    # Friday 9:00-17:00 EST is 14:00-22:00 UTC; the Monday after DST, 13:00-21:00 UTC
    assert nine_to_five.add_working_seconds(t("2017-03-10T21:00+00:00"), 2 * 3600) == t(
        "2017-03-13T14:00+00:00"
    )


def test_add_business_days_skips_weekend_and_holidays() -> None:
    assert LONDON.add_business_days(dt.date(2017, 12, 22), 1) == dt.date(2017, 12, 27)
    assert LONDON.add_business_days(dt.date(2017, 11, 24), 5) == dt.date(2017, 12, 1)
    assert LONDON.add_business_days(dt.date(2017, 11, 25), 0) == dt.date(2017, 11, 25)


def test_add_months_clamps_to_month_end() -> None:
    assert add_months(dt.date(2017, 1, 31), 1) == dt.date(2017, 2, 28)
    assert add_months(dt.date(2016, 1, 31), 1) == dt.date(2016, 2, 29)
    assert add_months(dt.date(2017, 11, 15), 2) == dt.date(2018, 1, 15)


def test_end_of_local_day() -> None:
    # 2017-10-26 01:00 UTC is still 25 Oct in São Paulo (UTC-2 in summer time)
    assert end_of_local_day(t("2017-10-26T01:00+00:00"), "America/Sao_Paulo") == t(
        "2017-10-26T02:00+00:00"
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"hours": {"weekdays": "17:00-09:00"}},
            "Working hours '17:00-09:00' end before they start.",
        ),
        (
            {"hours": {"funday": "09:00-17:00"}},
            "Unknown weekday(s) ['funday'] in calendar 'calendar'.",
        ),
        ({"timezone": "Mars/Olympus"}, "'Mars/Olympus' is not a known time zone."),
        (
            {"hours": {"weekdays": ["09:00-13:00", "12:00-17:00"]}},
            "Working hours ['09:00-13:00', '12:00-17:00'] overlap.",
        ),
    ],
)
def test_bad_calendars_say_how_to_fix(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        WorkingCalendar.from_dict(data)
    assert err.value.message == message
    assert err.value.hint


# -- properties --------------------------------------------------------------------------


@st.composite
def calendars(draw: st.DrawFn) -> WorkingCalendar:
    tz = draw(st.sampled_from(ZONES))
    days: dict[str, list[str]] = {}
    for name in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"):
        cuts = sorted(draw(st.sets(st.integers(0, 48), max_size=4)))
        if len(cuts) % 2:
            cuts = cuts[:-1]
        spans = [
            f"{a * 30 // 60:02d}:{a * 30 % 60:02d}-{b * 30 // 60:02d}:{b * 30 % 60:02d}"
            for a, b in zip(cuts[::2], cuts[1::2], strict=True)
        ]
        if spans:
            days[name] = spans
    if not days:
        days["monday"] = ["09:00-17:00"]
    holidays = draw(st.lists(st.dates(dt.date(2017, 1, 1), dt.date(2017, 12, 31)), max_size=10))
    return WorkingCalendar.from_dict({"timezone": tz, "hours": days, "holidays": holidays})


moments = st.datetimes(dt.datetime(2017, 1, 1), dt.datetime(2017, 12, 31), timezones=st.just(UTC))
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(calendars(), moments, moments, moments)
def test_working_time_is_additive(
    cal: WorkingCalendar, a: dt.datetime, b: dt.datetime, c: dt.datetime
) -> None:
    a, b, c = sorted([a, b, c])
    whole = cal.working_seconds(a, c)
    assert abs(whole - (cal.working_seconds(a, b) + cal.working_seconds(b, c))) < 1e-6


@SETTINGS
@given(calendars(), moments, moments)
def test_working_time_is_bounded_by_elapsed(
    cal: WorkingCalendar, a: dt.datetime, b: dt.datetime
) -> None:
    a, b = sorted([a, b])
    w = cal.working_seconds(a, b)
    assert 0 <= w <= (b - a).total_seconds()
    assert cal.working_seconds(b, a) == 0


@SETTINGS
@given(calendars(), moments, st.floats(0, 400 * 3600))
def test_add_is_the_inverse_of_measure(cal: WorkingCalendar, a: dt.datetime, secs: float) -> None:
    end = cal.add_working_seconds(a, secs)
    assert end >= a
    assert abs(cal.working_seconds(a, end) - secs) < 1e-3
    # the deadline falls inside working time: a moment earlier, less work had passed
    if secs > 1:
        assert cal.working_seconds(a, end - dt.timedelta(seconds=1)) < secs


@SETTINGS
@given(calendars(), moments, moments)
def test_monotone_in_end(cal: WorkingCalendar, a: dt.datetime, b: dt.datetime) -> None:
    lo, hi = sorted([a, b])
    assert cal.working_seconds(a, lo) <= cal.working_seconds(a, hi)


@SETTINGS
@given(calendars(), st.dates(dt.date(2017, 1, 1), dt.date(2017, 12, 31)))
def test_holidays_and_closed_days_hold_no_working_time(cal: WorkingCalendar, day: dt.date) -> None:
    start = dt.datetime(day.year, day.month, day.day, tzinfo=cal.tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=cal.tz)
    if not cal.is_business_day(day):
        assert cal.working_seconds(start, end) == 0


@SETTINGS
@given(calendars(), st.dates(dt.date(2017, 1, 1), dt.date(2017, 12, 31)), st.integers(0, 30))
def test_add_business_days_counts_business_days(cal: WorkingCalendar, day: dt.date, n: int) -> None:
    after = cal.add_business_days(day, n)
    between = [day + dt.timedelta(days=i) for i in range(1, (after - day).days + 1)]
    assert sum(cal.is_business_day(d) for d in between) == n
    assert n == 0 or cal.is_business_day(after)


@SETTINGS
@given(st.sampled_from(ZONES), moments, moments)
def test_always_open_calendar_is_elapsed_time(tz: str, a: dt.datetime, b: dt.datetime) -> None:
    a, b = sorted([a, b])
    assert abs(WorkingCalendar.always(tz).working_seconds(a, b) - (b - a).total_seconds()) < 1e-6
