"""Service timers: pauses, reopening and working hours, by hand and as properties."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.promises.helpers import table

from goodwill.errors import ConfigError
from goodwill.measure.timers import (
    TimerEvent,
    TimerPolicy,
    case_timers,
    load_policies,
    parse_policies,
    reply_timers,
    run_timers,
)
from goodwill.model.calendar import WorkingCalendar
from goodwill.store import Store

UTC = dt.UTC
H = 3600.0


def t(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s)


BUSINESS = TimerPolicy(WorkingCalendar.business("UTC"), first_response_hours=2, resolution_hours=8)
ALWAYS = TimerPolicy(WorkingCalendar.always(), first_response_hours=1, resolution_hours=24)


def test_pause_is_excluded_and_reopen_continues() -> None:
    ev = [
        TimerEvent(t("2017-11-27T09:00+00:00"), "opened"),  # Monday
        TimerEvent(t("2017-11-27T10:00+00:00"), "responded"),
        TimerEvent(t("2017-11-27T11:00+00:00"), "paused"),
        TimerEvent(t("2017-11-27T15:00+00:00"), "resumed"),
        TimerEvent(t("2017-11-27T16:00+00:00"), "resolved"),
        TimerEvent(t("2017-11-28T09:00+00:00"), "reopened"),
        TimerEvent(t("2017-11-28T12:00+00:00"), "resolved"),
    ]
    r = run_timers(ev, BUSINESS)
    assert r.first_response_seconds == 1 * H
    assert r.paused_seconds == 4 * H
    # 2 h before the pause + 1 h after it + 3 h after reopening
    assert r.resolution_seconds == 6 * H
    assert r.reopened == 1
    assert r.state == "resolved"
    assert r.resolution_breached is False
    assert r.first_response_breached is False
    assert r.first_response_due == t("2017-11-27T11:00+00:00")


def test_clock_stops_outside_working_hours() -> None:
    ev = [
        TimerEvent(t("2017-11-24T16:00+00:00"), "opened"),  # Friday 16:00
        TimerEvent(t("2017-11-27T10:30+00:00"), "responded"),  # Monday 10:30
    ]
    r = run_timers(ev, BUSINESS, as_of=t("2017-11-27T10:30+00:00"))
    assert r.first_response_seconds == 2.5 * H
    assert r.first_response_breached is True
    assert r.state == "open"
    assert r.resolution_breached is None  # not resolved and not yet past 8 working hours


def test_duplicate_and_out_of_order_status_events_count_once() -> None:
    base = [
        TimerEvent(t("2017-11-27T09:00+00:00"), "opened"),
        TimerEvent(t("2017-11-27T10:00+00:00"), "paused"),
        TimerEvent(t("2017-11-27T12:00+00:00"), "resumed"),
        TimerEvent(t("2017-11-27T13:00+00:00"), "resolved"),
    ]
    noisy = [*reversed(base), base[1], base[3], TimerEvent(t("2017-11-27T11:00+00:00"), "paused")]
    assert run_timers(noisy, BUSINESS) == run_timers(base, BUSINESS)


def test_unanswered_case_breaches_once_past_target() -> None:
    ev = [TimerEvent(t("2017-11-27T09:00+00:00"), "opened")]
    assert run_timers(ev, ALWAYS, as_of=t("2017-11-27T09:30+00:00")).first_response_breached is None
    assert run_timers(ev, ALWAYS, as_of=t("2017-11-27T10:30+00:00")).first_response_breached is True


def test_needs_an_opening() -> None:
    with pytest.raises(ConfigError) as err:
        run_timers([TimerEvent(t("2017-11-27T09:00+00:00"), "resolved")], ALWAYS)
    assert err.value.message == "A case timeline needs an 'opened' event."
    with pytest.raises(ConfigError):
        TimerEvent(t("2017-11-27T09:00+00:00"), "snoozed")


def test_packaged_policies_load() -> None:
    policies = load_policies()
    assert {"social_24x7", "service_business_hours", "uk_complaints"} <= set(policies)
    uk = policies["uk_complaints"].calendar
    assert uk.timezone == "Europe/London"
    assert not uk.is_business_day(dt.date(2017, 12, 25))


def test_policy_naming_missing_calendar(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        parse_policies({"calendars": {"a": {}}, "policies": {"p": {"calendar": "b"}}})
    assert (
        err.value.message
        == "Policy 'p' in timer policies names calendar 'b', which is not defined."
    )
    bad = tmp_path / "t.yaml"
    bad.write_text("policies: [", "utf-8")
    with pytest.raises(ConfigError):
        load_policies(bad)


def test_case_and_reply_timers_over_the_store(store: Store) -> None:
    store.append(
        "cases",
        table(
            "cases",
            [
                {
                    "case_id": "c1",
                    "customer_id": "p1",
                    "opened_at": t("2017-11-27T09:00+00:00"),
                    "closed_at": t("2017-11-27T17:00+00:00"),
                    "source": "test",
                },
                {
                    "case_id": "c2",
                    "customer_id": "p2",
                    "opened_at": t("2017-11-27T09:00+00:00"),
                    "source": "test",
                },
            ],
        ),
    )
    store.append(
        "events",
        table(
            "events",
            [
                {
                    "event_id": "e1",
                    "kind": "case_paused",
                    "occurred_at": t("2017-11-27T10:00+00:00"),
                    "case_id": "c1",
                },
                {
                    "event_id": "e2",
                    "kind": "case_resumed",
                    "occurred_at": t("2017-11-27T16:00+00:00"),
                    "case_id": "c1",
                },
            ],
        ),
    )
    store.append(
        "interactions",
        table(
            "interactions",
            [
                {
                    "interaction_id": "q1",
                    "customer_id": "p1",
                    "occurred_at": t("2017-11-27T09:00+00:00"),
                    "direction": "inbound",
                    "case_id": "c1",
                },
                {
                    "interaction_id": "a1",
                    "customer_id": "p1",
                    "occurred_at": t("2017-11-27T09:45+00:00"),
                    "direction": "outbound",
                    "case_id": "c1",
                    "in_reply_to": "q1",
                    "author": "Acme",
                },
                {
                    "interaction_id": "q2",
                    "customer_id": "p2",
                    "occurred_at": t("2017-11-27T09:00+00:00"),
                    "direction": "inbound",
                },
            ],
        ),
    )
    rows = {
        r["case_id"]: r for r in case_timers(store, BUSINESS, as_of=t("2017-11-27T12:00+00:00"))
    }
    assert rows["c1"]["first_response_seconds"] == 0.75 * H
    assert rows["c1"]["resolution_seconds"] == 2 * H  # 9-10 and 16-17
    assert rows["c1"]["paused_seconds"] == 6 * H
    assert rows["c2"]["state"] == "open" and rows["c2"]["resolution_seconds"] == 3 * H
    replies = {r["interaction_id"]: r for r in reply_timers(store, ALWAYS)}
    assert (
        replies["q1"]["first_response_seconds"] == 0.75 * H
        and replies["q1"]["answered_by"] == "Acme"
    )
    assert replies["q2"]["first_response_seconds"] is None


# -- properties --------------------------------------------------------------------------

moments = st.datetimes(dt.datetime(2017, 1, 1), dt.datetime(2017, 3, 1), timezones=st.just(UTC))
kinds = st.sampled_from(["responded", "paused", "resumed", "resolved", "reopened"])
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
POLICIES = [BUSINESS, ALWAYS, TimerPolicy(WorkingCalendar.business("America/New_York"), 4, 16)]


@SETTINGS
@given(st.sampled_from(POLICIES), moments, st.lists(st.tuples(moments, kinds), max_size=12))
def test_clocks_partition_working_time(
    policy: TimerPolicy, opened: dt.datetime, rest: list[tuple[dt.datetime, str]]
) -> None:
    events = [TimerEvent(opened, "opened"), *(TimerEvent(a, k) for a, k in rest)]
    as_of = max([opened, *(a for a, _ in rest)]) + dt.timedelta(hours=1)
    r = run_timers(events, policy, as_of=as_of)
    total = policy.calendar.working_seconds(opened, as_of)
    # running + paused never exceed the working time since opening, and never go negative
    assert r.resolution_seconds >= 0 and r.paused_seconds >= 0
    assert r.resolution_seconds + r.paused_seconds <= total + 1e-6
    # with no pauses and no resolution, the clock ran the whole working time
    if not any(k in ("paused", "resolved") for a, k in rest if a >= opened):
        assert abs(r.resolution_seconds - total) < 1e-6
    if r.first_response_seconds is not None:
        assert 0 <= r.first_response_seconds <= total + 1e-6


@SETTINGS
@given(
    st.sampled_from(POLICIES),
    moments,
    st.lists(st.tuples(moments, kinds), max_size=12),
    st.randoms(),
)
def test_order_of_the_feed_does_not_matter(
    policy: TimerPolicy, opened: dt.datetime, rest: list[tuple[dt.datetime, str]], rnd: object
) -> None:
    # distinct instants: simultaneous events have no order to recover
    seen: set[dt.datetime] = {opened}
    uniq = []
    for a, k in rest:
        if a not in seen:
            seen.add(a)
            uniq.append(TimerEvent(a, k))
    events = [TimerEvent(opened, "opened"), *uniq]
    shuffled = list(events)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    as_of = max(seen) + dt.timedelta(hours=1)
    assert run_timers(shuffled, policy, as_of=as_of) == run_timers(events, policy, as_of=as_of)


@SETTINGS
@given(moments, st.floats(0.1, 40), st.floats(0.1, 40), st.floats(0.1, 40))
def test_reopen_continues_the_clock(opened: dt.datetime, a: float, gap: float, b: float) -> None:
    cal = WorkingCalendar.always()
    resolved = opened + dt.timedelta(hours=a)
    reopened = resolved + dt.timedelta(hours=gap)
    again = reopened + dt.timedelta(hours=b)
    r = run_timers(
        [
            TimerEvent(opened, "opened"),
            TimerEvent(resolved, "resolved"),
            TimerEvent(reopened, "reopened"),
            TimerEvent(again, "resolved"),
        ],
        TimerPolicy(cal, resolution_hours=a + b - 0.05),
        as_of=again + dt.timedelta(days=3),
    )
    assert abs(r.resolution_seconds - (a + b) * H) < 1e-3
    assert r.reopened == 1 and r.resolution_breached is True
