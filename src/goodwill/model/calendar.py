"""Calendar arithmetic: business days, working hours, holidays and time zones.

Pure standard library, at the lowest layer, because both the promise extractor
(understand: "within 5 working days") and the service timers (measure: "first
response within 8 business hours") need the same arithmetic, and two copies would
drift. Every duration is measured in absolute time (UTC seconds); working hours
are wall-clock times in the calendar's own time zone, so a day that loses an hour
to daylight saving has one hour less of work in it.
"""

from __future__ import annotations

import calendar
import datetime as dt
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from goodwill.errors import ConfigError

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY = 24 * 60

# (start minute, end minute) of wall-clock time; end may be 1440 (midnight next day).
Span = tuple[int, int]


def _parse_clock(text: str) -> int:
    try:
        hh, mm = str(text).strip().split(":")
        minutes = int(hh) * 60 + int(mm)
    except ValueError as exc:
        raise ConfigError(
            f"{text!r} is not a time of day.", hint="Write times as HH:MM, e.g. 09:00."
        ) from exc
    if not 0 <= minutes <= _DAY or int(mm) >= 60:
        raise ConfigError(f"{text!r} is not a time of day.", hint="Use 00:00 to 24:00.")
    return minutes


def _parse_spans(value: Any) -> tuple[Span, ...]:
    if value in (None, "closed", False, []):
        return ()
    items = value if isinstance(value, list) else [value]
    spans: list[Span] = []
    for item in items:
        try:
            start_s, end_s = str(item).split("-")
        except ValueError as exc:
            raise ConfigError(
                f"{item!r} is not a span of working hours.", hint="Write e.g. 09:00-17:30."
            ) from exc
        start, end = _parse_clock(start_s), _parse_clock(end_s)
        if end <= start:
            raise ConfigError(
                f"Working hours {item!r} end before they start.", hint="Write e.g. 09:00-17:30."
            )
        spans.append((start, end))
    spans.sort()
    for (_, a_end), (b_start, _) in itertools.pairwise(spans):
        if b_start < a_end:
            raise ConfigError(
                f"Working hours {value!r} overlap.",
                hint="List separate spans, e.g. [09:00-12:00, 13:00-17:00].",
            )
    return tuple(spans)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"{name!r} is not a known time zone.", hint="Use an IANA name such as Europe/London."
        ) from exc


@dataclass(frozen=True)
class WorkingCalendar:
    """When a team works: spans of wall-clock hours per weekday, holidays, a time zone."""

    timezone: str = "UTC"
    # weekday (0 = Monday) -> working spans that day
    hours: tuple[tuple[Span, ...], ...] = field(
        default_factory=lambda: tuple(((0, _DAY),) for _ in range(7))
    )
    holidays: frozenset[dt.date] = frozenset()
    name: str = "24x7"

    def __post_init__(self) -> None:
        if len(self.hours) != 7:
            raise ConfigError(
                "A working calendar needs hours for all seven weekdays.",
                hint="List monday … sunday.",
            )
        _zone(self.timezone)

    @property
    def tz(self) -> ZoneInfo:
        return _zone(self.timezone)

    # -- construction -----------------------------------------------------
    @classmethod
    def always(cls, timezone: str = "UTC") -> WorkingCalendar:
        return cls(timezone=timezone)

    @classmethod
    def business(
        cls,
        timezone: str = "UTC",
        start: str = "09:00",
        end: str = "17:00",
        holidays: Iterable[dt.date] = (),
        name: str = "business",
    ) -> WorkingCalendar:
        span = _parse_spans(f"{start}-{end}")
        return cls(
            timezone, tuple(span if d < 5 else () for d in range(7)), frozenset(holidays), name
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], name: str = "calendar") -> WorkingCalendar:
        """Build from YAML: ``{timezone, hours: {monday: "09:00-17:00", ...}, holidays: [dates]}``.

        A weekday left out of ``hours`` is closed; ``hours: always`` means 24x7.
        """
        tz = str(data.get("timezone", "UTC"))
        raw_hours = data.get("hours", "always")
        if raw_hours == "always":
            hours: tuple[tuple[Span, ...], ...] = tuple(((0, _DAY),) for _ in range(7))
        elif isinstance(raw_hours, Mapping):
            unknown = set(raw_hours) - set(WEEKDAYS) - {"weekdays"}
            if unknown:
                raise ConfigError(
                    f"Unknown weekday(s) {sorted(unknown)} in calendar {name!r}.",
                    hint="Use monday … sunday or weekdays.",
                )
            per_day: list[tuple[Span, ...]] = []
            for i, day in enumerate(WEEKDAYS):
                value = raw_hours.get(day, raw_hours.get("weekdays") if i < 5 else None)
                per_day.append(_parse_spans(value))
            hours = tuple(per_day)
        else:
            raise ConfigError(
                f"Calendar {name!r}: hours must be 'always' or a mapping of weekdays.",
                hint="e.g. hours: {weekdays: 09:00-17:00}",
            )
        holidays: set[dt.date] = set()
        for h in data.get("holidays", []) or []:
            try:
                holidays.add(h if isinstance(h, dt.date) else dt.date.fromisoformat(str(h)))
            except ValueError as exc:
                raise ConfigError(
                    f"Holiday {h!r} in calendar {name!r} is not a date.", hint="Write YYYY-MM-DD."
                ) from exc
        return cls(tz, hours, frozenset(holidays), name)

    # -- days ---------------------------------------------------------------
    def is_business_day(self, day: dt.date) -> bool:
        return bool(self.hours[day.weekday()]) and day not in self.holidays

    def add_business_days(self, day: dt.date, n: int) -> dt.date:
        """The n-th business day after ``day`` (n >= 0; n = 0 gives ``day`` itself)."""
        if n < 0:
            raise ValueError("n must not be negative")
        if not any(self.hours):
            raise ConfigError(
                f"Calendar {self.name!r} has no working day.", hint="Give it working hours."
            )
        current = day
        while n > 0:
            current += dt.timedelta(days=1)
            if self.is_business_day(current):
                n -= 1
        return current

    def local_date(self, moment: dt.datetime) -> dt.date:
        return _aware(moment).astimezone(self.tz).date()

    # -- working time -------------------------------------------------------
    def _day_spans(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        """The day's working spans as absolute UTC instants."""
        if day in self.holidays:
            return []
        out = []
        tz = self.tz
        for start, end in self.hours[day.weekday()]:
            a = _wall(day, start, tz)
            b = _wall(day, end, tz)
            if b > a:
                out.append((a, b))
        return out

    def working_seconds(self, start: dt.datetime, end: dt.datetime) -> float:
        """Working time between two instants, in seconds (0 when ``end`` <= ``start``)."""
        a, b = _aware(start).astimezone(dt.UTC), _aware(end).astimezone(dt.UTC)
        if b <= a:
            return 0.0
        total = 0.0
        tz = self.tz
        # one day of slack either side: a local day can begin before its UTC date does
        day = a.astimezone(tz).date() - dt.timedelta(days=1)
        last = b.astimezone(tz).date() + dt.timedelta(days=1)
        while day <= last:
            for s, e in self._day_spans(day):
                lo, hi = max(s, a), min(e, b)
                if hi > lo:
                    total += (hi - lo).total_seconds()
            day += dt.timedelta(days=1)
        return total

    def add_working_seconds(self, start: dt.datetime, seconds: float) -> dt.datetime:
        """The instant when ``seconds`` of working time have passed after ``start``.

        With ``seconds == 0`` the answer is the first working instant at or after ``start``.
        """
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        if not any(self.hours):
            raise ConfigError(
                f"Calendar {self.name!r} has no working hours.", hint="Give it working hours."
            )
        a = _aware(start).astimezone(dt.UTC)
        remaining = float(seconds)
        day = a.astimezone(self.tz).date() - dt.timedelta(days=1)
        idle_days = 0
        while True:
            spans = self._day_spans(day)
            for s, e in spans:
                lo = max(s, a)
                if e <= lo:
                    continue
                room = (e - lo).total_seconds()
                if remaining <= room:
                    return lo + dt.timedelta(seconds=remaining)
                remaining -= room
            idle_days = 0 if spans else idle_days + 1
            if idle_days > 3660:
                raise ConfigError(
                    f"Calendar {self.name!r} has no working time for ten years.",
                    hint="Check its holidays.",
                )
            day += dt.timedelta(days=1)

    def next_working_instant(self, moment: dt.datetime) -> dt.datetime:
        return self.add_working_seconds(moment, 0)


def _aware(moment: dt.datetime) -> dt.datetime:
    # A naive datetime is read as UTC: that is how the store hands timestamps back.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _wall(day: dt.date, minute: int, tz: ZoneInfo) -> dt.datetime:
    if minute >= _DAY:
        day, minute = day + dt.timedelta(days=1), minute - _DAY
    local = dt.datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=tz)
    return local.astimezone(dt.UTC)


def end_of_local_day(moment: dt.datetime, timezone: str) -> dt.datetime:
    """Midnight at the end of ``moment``'s local day: a day-level deadline's last instant."""
    tz = _zone(timezone)
    day = _aware(moment).astimezone(tz).date()
    return _wall(day, _DAY, tz)


def add_months(day: dt.date, months: int) -> dt.date:
    """Calendar months, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb),
    the reading the ICO and GDPR Art. 12(3) give to "one month"."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def load_calendars(data: Mapping[str, Any]) -> dict[str, WorkingCalendar]:
    """Named calendars from a YAML mapping ``{name: {timezone, hours, holidays}}``."""
    return {str(k): WorkingCalendar.from_dict(v or {}, name=str(k)) for k, v in data.items()}


__all__ = [
    "WEEKDAYS",
    "WorkingCalendar",
    "add_months",
    "end_of_local_day",
    "load_calendars",
]
