"""First-response and resolution timers over working-hours calendars, with pauses and reopening.

A helpdesk times only its own replies; goodwill times every case it knows of, by
the calendar of the team that owns it. The rules, chosen to match how Zendesk and
Zammad document their SLA clocks and to avoid the bugs filed against them:

- the resolution clock runs only in working time, while the case is open and not
  paused (waiting on the customer); it stops at resolution and, when the case is
  reopened, continues from where it stopped rather than starting again;
- the first-response clock runs from opening to the first reply from the company,
  in working time, and pauses do not stop it (a customer cannot be "waited on"
  before anyone has answered them);
- events are applied in time order; a pause while paused, a resume while running
  or a reopen of an open case changes nothing, so duplicated or out-of-order
  status feeds cannot count the same hour twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from goodwill.config import load_yaml
from goodwill.errors import ConfigError
from goodwill.model.calendar import WorkingCalendar, load_calendars
from goodwill.store import Store

EVENT_KINDS = ("opened", "responded", "paused", "resumed", "resolved", "reopened")


@dataclass(frozen=True)
class TimerEvent:
    at: dt.datetime
    kind: str  # one of EVENT_KINDS

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise ConfigError(
                f"{self.kind!r} is not a timer event.",
                hint=f"Use one of: {', '.join(EVENT_KINDS)}.",
            )


@dataclass(frozen=True)
class TimerPolicy:
    """Targets in working hours on one calendar (``None``: no target)."""

    calendar: WorkingCalendar
    first_response_hours: float | None = None
    resolution_hours: float | None = None
    name: str = "default"


@dataclass(frozen=True)
class TimerResult:
    opened_at: dt.datetime
    state: str  # open, paused, resolved
    first_response_seconds: float | None  # working seconds; None while unanswered
    resolution_seconds: float  # working seconds the clock ran (so far, if not resolved)
    paused_seconds: float  # working seconds spent paused
    reopened: int
    resolved_at: dt.datetime | None
    first_response_due: dt.datetime | None
    first_response_breached: bool | None  # None: no target, or unanswered and not yet due
    resolution_breached: bool | None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def run_timers(
    events: Iterable[TimerEvent], policy: TimerPolicy, *, as_of: dt.datetime | None = None
) -> TimerResult:
    """Apply a case's status events in time order and read its two clocks."""
    ordered = sorted(events, key=lambda e: _utc(e.at))
    opened = next((e for e in ordered if e.kind == "opened"), None)
    if opened is None:
        raise ConfigError(
            "A case timeline needs an 'opened' event.", hint="Add the case's opening time."
        )
    cal = policy.calendar
    start = _utc(opened.at)
    now = _utc(as_of) if as_of is not None else (_utc(ordered[-1].at) if ordered else start)
    state = "open"
    since = start  # when the current state began
    running = paused = 0.0
    reopened = 0
    first_reply: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    for e in ordered:
        at = _utc(e.at)
        if at < start:
            continue  # facts before the case opened cannot run its clocks
        if e.kind == "responded" and first_reply is None:
            first_reply = at
        new_state = _transition(state, e.kind)
        if new_state == state:
            continue
        spent = cal.working_seconds(since, at)
        if state == "open":
            running += spent
        elif state == "paused":
            paused += spent
        if new_state == "open" and state == "resolved":
            reopened += 1
        state, since = new_state, at
        resolved_at = at if state == "resolved" else None
    if now > since:
        if state == "open":
            running += cal.working_seconds(since, now)
        elif state == "paused":
            paused += cal.working_seconds(since, now)
    frt = cal.working_seconds(start, first_reply) if first_reply is not None else None
    frt_due = (
        cal.add_working_seconds(start, policy.first_response_hours * 3600)
        if policy.first_response_hours is not None
        else None
    )
    frt_breached: bool | None = None
    if policy.first_response_hours is not None:
        limit = policy.first_response_hours * 3600
        if frt is not None:
            frt_breached = frt > limit
        elif cal.working_seconds(start, now) > limit:
            frt_breached = True
    res_breached: bool | None = None
    if policy.resolution_hours is not None:
        limit = policy.resolution_hours * 3600
        res_breached = running > limit if (state == "resolved" or running > limit) else None
    return TimerResult(
        opened_at=start,
        state=state,
        first_response_seconds=frt,
        resolution_seconds=running,
        paused_seconds=paused,
        reopened=reopened,
        resolved_at=resolved_at,
        first_response_due=frt_due,
        first_response_breached=frt_breached,
        resolution_breached=res_breached,
    )


def _transition(state: str, kind: str) -> str:
    if kind == "paused" and state == "open":
        return "paused"
    if kind == "resumed" and state == "paused":
        return "open"
    if kind == "resolved" and state in ("open", "paused"):
        return "resolved"
    if kind == "reopened" and state == "resolved":
        return "open"
    return state


def _utc(moment: dt.datetime) -> dt.datetime:
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


# -- policies from YAML ---------------------------------------------------------

DEFAULT_TIMERS = "timer_policies.yaml"


def load_policies(path: str | Path | None = None) -> dict[str, TimerPolicy]:
    """Timer policies and their calendars: the packaged defaults, or a workspace file."""
    data, where = load_yaml("goodwill.measure", DEFAULT_TIMERS, path, what="timer policies")
    return parse_policies(data, where)


def parse_policies(
    data: Mapping[str, Any], where: str = "timer policies"
) -> dict[str, TimerPolicy]:
    calendars = load_calendars(data.get("calendars") or {"always": {"hours": "always"}})
    out: dict[str, TimerPolicy] = {}
    for name, spec in (data.get("policies") or {}).items():
        cal_name = str(spec.get("calendar", "always"))
        if cal_name not in calendars:
            raise ConfigError(
                f"Policy {name!r} in {where} names calendar {cal_name!r}, which is not defined.",
                hint=f"Define it under calendars: ({', '.join(sorted(calendars))} are).",
            )
        out[str(name)] = TimerPolicy(
            calendars[cal_name],
            _hours(spec.get("first_response_hours")),
            _hours(spec.get("resolution_hours")),
            str(name),
        )
    return out


def _hours(value: Any) -> float | None:
    return None if value is None else float(value)


# -- over the store -------------------------------------------------------------

_STATUS_EVENTS = {
    "case_paused": "paused",
    "case_resumed": "resumed",
    "case_closed": "resolved",
    "case_reopened": "reopened",
}


def case_timers(
    store: Store,
    policy: TimerPolicy,
    *,
    as_of: dt.datetime | None = None,
    source: str | None = None,
) -> list[dict[str, Any]]:
    """Both clocks for every case: opened_at, the first outbound interaction on the case,
    status events (``case_paused``/``case_resumed``/``case_closed``/``case_reopened``),
    and ``closed_at`` when no close event was recorded."""
    where, params = ("WHERE c.source = ?", [source]) if source else ("", [])
    cases = store.rows(
        f"SELECT c.case_id, c.opened_at, c.closed_at, c.status FROM cases c {where}", params
    )
    kinds = ", ".join(f"'{k}'" for k in _STATUS_EVENTS)
    evs: dict[str, list[TimerEvent]] = {}
    src = "AND c.source = ?" if source else ""
    for r in store.rows(
        "SELECT e.case_id, e.kind, e.occurred_at FROM events e JOIN cases c ON c.case_id = e.case_id "
        f"WHERE e.kind IN ({kinds}) {src}",
        params,
    ):
        evs.setdefault(r["case_id"], []).append(
            TimerEvent(r["occurred_at"], _STATUS_EVENTS[r["kind"]])
        )
    for r in store.rows(
        "SELECT i.case_id, min(i.occurred_at) AS at FROM interactions i JOIN cases c ON c.case_id = i.case_id "
        f"WHERE i.direction = 'outbound' {src} GROUP BY i.case_id",
        params,
    ):
        evs.setdefault(r["case_id"], []).append(TimerEvent(r["at"], "responded"))
    out = []
    for c in cases:
        if c["opened_at"] is None:
            continue
        timeline = [TimerEvent(c["opened_at"], "opened"), *evs.get(c["case_id"], [])]
        if c["closed_at"] is not None and not any(e.kind == "resolved" for e in timeline):
            timeline.append(TimerEvent(c["closed_at"], "resolved"))
        res = run_timers(timeline, policy, as_of=as_of)
        out.append({"case_id": c["case_id"], **res.to_dict()})
    return out


def reply_timers(
    store: Store, policy: TimerPolicy, *, source: str | None = None
) -> list[dict[str, Any]]:
    """First-response time for each conversation a customer starts (an inbound message that
    answers nothing): working time until the company's first reply to it."""
    params: list[Any] = []
    src = ""
    if source:
        src, params = "AND q.source = ?", [source]
    rows = store.rows(
        "SELECT q.interaction_id, q.customer_id, q.occurred_at AS asked_at, "
        "min(a.occurred_at) AS answered_at, min(a.author) AS answered_by "
        "FROM interactions q LEFT JOIN interactions a "
        "ON a.in_reply_to = q.interaction_id AND a.direction = 'outbound' "
        f"WHERE q.direction = 'inbound' AND q.in_reply_to IS NULL {src} "
        "GROUP BY q.interaction_id, q.customer_id, q.occurred_at",
        params,
    )
    out = []
    for r in rows:
        timeline = [TimerEvent(r["asked_at"], "opened")]
        if r["answered_at"] is not None:
            timeline.append(TimerEvent(r["answered_at"], "responded"))
        res = run_timers(timeline, policy, as_of=r["answered_at"] or r["asked_at"])
        out.append(
            {
                "interaction_id": r["interaction_id"],
                "customer_id": r["customer_id"],
                "answered_by": r["answered_by"],
                "first_response_seconds": res.first_response_seconds,
                "first_response_breached": res.first_response_breached,
            }
        )
    return out


__all__ = [
    "EVENT_KINDS",
    "TimerEvent",
    "TimerPolicy",
    "TimerResult",
    "case_timers",
    "load_policies",
    "parse_policies",
    "reply_timers",
    "run_timers",
]
