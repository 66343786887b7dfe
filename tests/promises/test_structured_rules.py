"""Structured promises the company's own systems record: call backs booked in a slot, engineer
visits booked in a window, refunds promised "within N days", and the regulators' deadlines; and
a workspace declaring its own rules.

Every case here is CONSTRUCTED for the test (no public data set holds booked call backs, visit
windows or refund promises with their times; see benchmarks/results/promises.md). Times are
chosen so each status and each lateness can be worked out by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.promises.helpers import t, table
from typer.testing import CliRunner

from goodwill.errors import ConfigError
from goodwill.measure import promises as ledger
from goodwill.store import Store

# Friday 10 Nov 2017, the day after the last booking below
AS_OF = t("2017-11-10T12:00+00:00")


def _event(eid: str, customer: str, kind: str, at: str, **attrs: Any) -> dict[str, Any]:
    case = attrs.pop("case_id", None)
    return {
        "event_id": eid,
        "customer_id": customer,
        "kind": kind,
        "occurred_at": t(at),
        "case_id": case,
        "source": "crm",
        "attrs": json.dumps(attrs) if attrs else None,
    }


def _call(iid: str, customer: str, at: str, channel: str = "phone") -> dict[str, Any]:
    return {
        "interaction_id": iid,
        "customer_id": customer,
        "occurred_at": t(at),
        "channel": channel,
        "direction": "outbound",
        "author": "agent",
        "source": "crm",
    }


def _status(store: Store) -> dict[str, dict[str, Any]]:
    return {r["promise_id"]: r for r in store.rows("SELECT * FROM promise_status")}


# -- call backs booked in a slot ----------------------------------------------------------------


def _callbacks(store: Store) -> None:
    slot = {"window_start": "2017-11-06T14:00:00+00:00", "window_end": "2017-11-06T15:00:00+00:00"}
    store.append(
        "events",
        table(
            "events",
            [
                # booked on Monday morning for 14:00-15:00, called at 14:20: kept
                _event(
                    "cb1",
                    "a1",
                    "callback_booked",
                    "2017-11-06T09:00+00:00",
                    **slot,
                    agent="Ana",
                    team="billing desk",
                ),
                # called at 13:00 (before the slot: the customer was told 14:00) and at 16:30
                _event("cb2", "a2", "callback_booked", "2017-11-06T09:00+00:00", **slot),
                # only a tweet after the slot, no call: broken 3 days after the slot
                _event("cb3", "a3", "callback_booked", "2017-11-06T09:00+00:00", **slot),
                # booked for next week: open
                _event(
                    "cb4",
                    "a4",
                    "callback_booked",
                    "2017-11-09T09:00+00:00",
                    scheduled_for="2017-11-13T10:00:00+00:00",
                ),
                # a slot yesterday, no call yet: overdue
                _event(
                    "cb5",
                    "a5",
                    "callback_booked",
                    "2017-11-08T09:00+00:00",
                    scheduled_for="2017-11-09T10:00:00+00:00",
                ),
                # booked, missed, booked again, missed, booked a third time and kept: one
                # broken promise, made three times
                _event(
                    "cb6",
                    "a6",
                    "callback_booked",
                    "2017-11-01T09:00+00:00",
                    window_start="2017-11-01T10:00:00+00:00",
                    window_end="2017-11-01T12:00:00+00:00",
                ),
                _event(
                    "cb7",
                    "a6",
                    "callback_booked",
                    "2017-11-02T09:00+00:00",
                    window_start="2017-11-02T10:00:00+00:00",
                    window_end="2017-11-02T12:00:00+00:00",
                ),
                _event(
                    "cb8",
                    "a6",
                    "callback_booked",
                    "2017-11-03T09:00+00:00",
                    window_start="2017-11-03T10:00:00+00:00",
                    window_end="2017-11-03T12:00:00+00:00",
                ),
                # moved by the customer before the slot came: one promise, kept in the new slot
                _event(
                    "cb9",
                    "a7",
                    "callback_booked",
                    "2017-11-01T09:00+00:00",
                    window_start="2017-11-02T10:00:00+00:00",
                    window_end="2017-11-02T11:00:00+00:00",
                ),
                _event(
                    "cb10",
                    "a7",
                    "callback_booked",
                    "2017-11-01T17:00+00:00",
                    window_start="2017-11-03T10:00:00+00:00",
                    window_end="2017-11-03T11:00:00+00:00",
                ),
            ],
        ),
    )
    store.append(
        "interactions",
        table(
            "interactions",
            [
                _call("call1", "a1", "2017-11-06T14:20+00:00"),
                _call("call2a", "a2", "2017-11-06T13:00+00:00"),
                _call("call2b", "a2", "2017-11-06T16:30+00:00"),
                _call("tweet3", "a3", "2017-11-06T16:00+00:00", channel="twitter"),
                # a call to someone else keeps nobody's promise to a5
                _call("call_other", "zz", "2017-11-09T10:10+00:00"),
                _call("call6", "a6", "2017-11-03T11:00+00:00"),
                _call("call7", "a7", "2017-11-03T10:30+00:00"),
            ],
        ),
    )


def test_callback_slots(store: Store) -> None:
    _callbacks(store)
    rep = ledger.build_ledger(store, as_of=AS_OF, heard=False)
    assert rep.derived["callback_appointment"] == 10
    p = {r["promise_id"]: r for r in store.rows("SELECT * FROM promises")}
    cb1 = p["callback_appointment:cb1"]
    assert (
        cb1["action"],
        cb1["kind"],
        cb1["made_by"],
        cb1["team"],
        cb1["function"],
        cb1["channel"],
    ) == (
        "call_back",
        "structured",
        "Ana",
        "billing desk",
        "service",
        "phone",
    )
    assert cb1["due_at"] == t("2017-11-06T15:00+00:00")
    assert json.loads(cb1["attrs"])["window_start"] == "2017-11-06T14:00:00+00:00"
    # scheduled_for alone: the slot is that hour
    assert p["callback_appointment:cb4"]["due_at"] == t("2017-11-13T11:00+00:00")

    s = _status(store)
    got = {
        k.removeprefix("callback_appointment:"): (v["status"], v["evidence_id"])
        for k, v in s.items()
    }
    assert got["cb1"] == ("kept", "call1")
    assert got["cb2"] == ("kept_late", "call2b")  # the 13:00 call was before the slot
    assert s["callback_appointment:cb2"]["late_hours"] == pytest.approx(1.5)
    assert got["cb3"] == ("broken", None)  # a tweet is not a call back
    assert got["cb4"] == ("open", None)
    assert got["cb5"] == ("overdue", None)
    assert all(v["rule"] == "callback_appointment" for v in s.values())

    head = s["callback_appointment:cb6"]
    assert (head["status"], head["repeats"], head["evidence_id"]) == ("broken", 2, "call6")
    assert [s[f"callback_appointment:{k}"]["status"] for k in ("cb7", "cb8")] == [
        "repeat",
        "repeat",
    ]
    assert s["callback_appointment:cb8"]["chain_id"] == "callback_appointment:cb6"
    moved = s["callback_appointment:cb9"]
    assert (moved["status"], moved["repeats"], moved["evidence_id"]) == ("kept", 1, "call7")

    whole = ledger.gap(store, "all")[0]
    # decided: cb1 kept, cb2 late, cb3 broken, cb5 overdue, cb6 chain broken, cb9 chain kept
    assert (
        whole["decided"],
        whole["kept"],
        whole["kept_late"],
        whole["broken"],
        whole["overdue"],
        whole["open"],
    ) == (
        6,
        2,
        1,
        2,
        1,
        1,
    )
    assert whole["repeats"] == 3


# -- engineer visits booked in a window ------------------------------------------------------------


def test_engineer_visit_windows(store: Store) -> None:
    win = {"window_start": "2017-11-07T08:00:00+00:00", "window_end": "2017-11-07T12:00:00+00:00"}
    store.append(
        "events",
        table(
            "events",
            [
                _event(
                    "vb1",
                    "b1",
                    "visit_booked",
                    "2017-11-01T09:00+00:00",
                    case_id="k1",
                    engineer="E17",
                    **win,
                ),
                _event("v1", "b1", "visited", "2017-11-07T10:30+00:00", case_id="k1"),
                _event("vb2", "b2", "visit_booked", "2017-11-01T09:00+00:00", case_id="k2", **win),
                _event("v2", "b2", "engineer_arrived", "2017-11-07T13:15+00:00", case_id="k2"),
                # came the day before the window, when nobody was told to be in: does not keep it
                _event("vb3", "b3", "visit_booked", "2017-11-01T09:00+00:00", case_id="k3", **win),
                _event("v3", "b3", "visited", "2017-11-06T09:00+00:00", case_id="k3"),
                # a window that has not come yet
                _event(
                    "vb4",
                    "b4",
                    "visit_booked",
                    "2017-11-08T09:00+00:00",
                    case_id="k4",
                    window_start="2017-11-14T08:00:00+00:00",
                    window_end="2017-11-14T12:00:00+00:00",
                ),
                # a visit for another case of the same customer keeps it too (matched on customer)
                _event("vb5", "b5", "visit_booked", "2017-11-01T09:00+00:00", case_id="k5", **win),
                _event("v5", "b5", "visited", "2017-11-07T09:00+00:00", case_id="k5b"),
            ],
        ),
    )
    ledger.build_ledger(store, as_of=AS_OF, heard=False)
    p = {r["promise_id"]: r for r in store.rows("SELECT * FROM promises")}
    vb1 = p["engineer_visit_window:vb1"]
    assert (vb1["action"], vb1["made_by"], vb1["function"], vb1["due_at"]) == (
        "visit",
        "E17",
        "field",
        t("2017-11-07T12:00+00:00"),
    )
    s = {k.removeprefix("engineer_visit_window:"): v for k, v in _status(store).items()}
    assert (s["vb1"]["status"], s["vb1"]["evidence_id"], s["vb1"]["evidence_kind"]) == (
        "kept",
        "v1",
        "visited",
    )
    assert (s["vb2"]["status"], s["vb2"]["evidence_id"]) == ("kept_late", "v2")
    assert s["vb2"]["late_hours"] == pytest.approx(1.25)
    assert s["vb2"]["late_days"] == 0  # same day, after the window
    assert (s["vb3"]["status"], s["vb3"]["evidence_id"]) == (
        "overdue",
        None,
    )  # 3 days past, give up at 7
    assert s["vb4"]["status"] == "open"
    assert (s["vb5"]["status"], s["vb5"]["evidence_id"]) == ("kept", "v5")
    ledger.reconcile(store, as_of=t("2017-11-20T00:00+00:00"))
    assert _status(store)["engineer_visit_window:vb3"]["status"] == "broken"


# -- refunds within N days -------------------------------------------------------------------------


def test_refunds_within_n_days(store: Store) -> None:
    store.append(
        "events",
        table(
            "events",
            [
                # Wednesday 1 Nov: within 5 days, refunded on the 4th
                _event(
                    "rp1",
                    "r1",
                    "refund_promised",
                    "2017-11-01T10:00+00:00",
                    case_id="o1",
                    within_days=5,
                    agent="JS",
                ),
                _event("rf1", "r1", "refunded", "2017-11-04T08:00+00:00", case_id="o1"),
                # Friday 3 Nov 11:00 in New York: within 3 working days -> Wednesday 8 Nov 11:00
                # there, which is 16:00 UTC (summer time ended on the 5th)
                _event(
                    "rp2",
                    "r2",
                    "refund_promised",
                    "2017-11-03T15:00+00:00",
                    case_id="o2",
                    within_business_days=3,
                ),
                _event("rf2", "r2", "refunded", "2017-11-08T17:00+00:00", case_id="o2"),
                # within 5 days, refunded three days late
                _event(
                    "rp3",
                    "r3",
                    "refund_promised",
                    "2017-10-20T10:00+00:00",
                    case_id="o3",
                    within_days=5,
                ),
                _event("rf3", "r3", "refunded", "2017-10-28T10:00+00:00", case_id="o3"),
                # no number given: the rule's implied 14 days
                _event("rp4", "r4", "refund_promised", "2017-11-01T10:00+00:00", case_id="o4"),
                # promised, not done by the deadline, promised again: one broken promise repeated
                _event(
                    "rp5",
                    "r5",
                    "refund_promised",
                    "2017-10-01T10:00+00:00",
                    case_id="o5",
                    within_days=3,
                ),
                _event(
                    "rp6",
                    "r5",
                    "refund_promised",
                    "2017-10-10T10:00+00:00",
                    case_id="o5",
                    within_days=3,
                ),
                _event("rf5", "r5", "refunded", "2017-10-12T10:00+00:00", case_id="o5"),
            ],
        ),
    )
    rep = ledger.build_ledger(store, as_of=AS_OF, heard=False)
    assert (
        rep.derived["refund_within_days"] == 5 and rep.derived["refund_within_business_days"] == 1
    )
    p = {r["promise_id"]: r for r in store.rows("SELECT * FROM promises")}
    assert p["refund_within_days:rp1"]["due_at"] == t("2017-11-06T10:00+00:00")
    assert p["refund_within_days:rp1"]["function"] == "billing"
    assert p["refund_within_business_days:rp2"]["due_at"] == t("2017-11-08T16:00+00:00")
    assert p["refund_within_days:rp4"]["due_at"] is None
    s = _status(store)
    assert (s["refund_within_days:rp1"]["status"], s["refund_within_days:rp1"]["evidence_id"]) == (
        "kept",
        "rf1",
    )
    # refunded an hour after the deadline
    r2 = s["refund_within_business_days:rp2"]
    assert (r2["status"], r2["late_hours"]) == ("kept_late", pytest.approx(1.0))
    r3 = s["refund_within_days:rp3"]
    assert (r3["status"], r3["late_hours"], r3["late_days"]) == (
        "kept_late",
        pytest.approx(72.0),
        3,
    )
    r4 = s["refund_within_days:rp4"]
    assert (r4["status"], r4["due_implied"], r4["deadline"]) == (
        "open",
        True,
        t("2017-11-15T10:00+00:00"),
    )
    r5 = s["refund_within_days:rp5"]
    assert (r5["status"], r5["repeats"], r5["evidence_id"]) == ("broken", 1, "rf5")
    assert s["refund_within_days:rp6"]["status"] == "repeat"


# -- regulators' deadlines -------------------------------------------------------------------------


def test_fca_eight_weeks(store: Store) -> None:
    store.append(
        "customers",
        table(
            "customers",
            [
                {"customer_id": "g1", "region": "GB"},
                {"customer_id": "g2", "region": "uk"},
                {"customer_id": "g3", "region": "GB"},
                {"customer_id": "u1", "region": "NY"},
            ],
        ),
    )
    opened = t("2017-09-04T09:00+00:00")  # a Monday; 8 weeks -> Monday 30 Oct
    store.append(
        "cases",
        table(
            "cases",
            [
                {
                    "case_id": "f1",
                    "customer_id": "g1",
                    "kind": "complaint",
                    "opened_at": opened,
                    "closed_at": t("2017-10-30T16:00+00:00"),
                    "source": "crm",
                },
                # no source recorded: still a complaint under the FCA's rule
                {
                    "case_id": "f2",
                    "customer_id": "g2",
                    "kind": "complaint",
                    "opened_at": opened,
                    "closed_at": t("2017-11-01T10:00+00:00"),
                },
                {
                    "case_id": "f3",
                    "customer_id": "g3",
                    "kind": "complaint",
                    "opened_at": opened,
                    "status": "open",
                },
                {"case_id": "f4", "customer_id": "u1", "kind": "complaint", "opened_at": opened},
            ],
        ),
    )
    ledger.build_ledger(store, as_of=AS_OF, heard=False)
    ids = {r["promise_id"] for r in store.rows("SELECT promise_id FROM promises")}
    assert ids == {f"fca_8_week_final_response:f{i}" for i in (1, 2, 3)}  # not the New York one
    s = {k.removeprefix("fca_8_week_final_response:"): v for k, v in _status(store).items()}
    assert (s["f1"]["status"], s["f1"]["evidence_id"]) == ("kept", "f1")  # answered on the due date
    assert (s["f2"]["status"], s["f2"]["late_days"]) == ("kept_late", 2)
    assert s["f3"]["status"] == "overdue"  # 11 days past, broken after 30
    assert {v["rule"] for v in s.values()} == {"statutory_response_by_date"}


# -- a workspace's own rules -----------------------------------------------------------------------


def _crm_callbacks(store: Store) -> None:
    # This company's CRM logs a booked call back as an interaction, not an event
    store.append(
        "interactions",
        table(
            "interactions",
            [
                {
                    "interaction_id": "n1",
                    "customer_id": "w1",
                    "occurred_at": t("2017-11-06T09:00+00:00"),
                    "channel": "phone",
                    "direction": "internal",
                    "team": "retentions",
                    "source": "crm",
                    "attrs": json.dumps(
                        {"note": "callback", "slot_start": "2017-11-06T14:00:00+00:00"}
                    ),
                },
                _call("n2", "w1", "2017-11-06T14:45+00:00"),
            ],
        ),
    )


WORKSPACE_PROMISES = """\
version: acme-1
rules:
  - id: crm_callback_note
    description: "Call back in the half hour noted in the CRM"
    kind: structured
    action: call_back
    from: "interactions i"
    where: "i.direction = 'internal' AND CAST(i.attrs AS JSON) ->> 'note' = 'callback'"
    key: i.interaction_id
    customer_id: i.customer_id
    made_at: i.occurred_at
    team: i.team
    function: "'sales'"
    window_start: "CAST(CAST(i.attrs AS JSON) ->> 'slot_start' AS TIMESTAMPTZ)"
    due: {at: "CAST(CAST(i.attrs AS JSON) ->> 'slot_start' AS TIMESTAMPTZ) + INTERVAL '30 minutes'"}
  - id: cfpb_15_day_response
    due: {days: 10}
  - id: fca_8_week_final_response
    enabled: false
"""

WORKSPACE_RECONCILE = """\
rules:
  - id: callback_within_the_hour
    match: {action: [call_back], kind: [structured]}
    kept_by:
      interactions: {direction: outbound, channels: [phone], on: [customer_id]}
    deadline: {window: true}
    give_up_days: 1
  - id: refund
    give_up_days: 60
"""


def test_workspace_file_adds_to_and_changes_the_packaged_rules(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".goodwill").mkdir()
    (tmp_path / ".goodwill" / "promise_rules.yaml").write_text(WORKSPACE_PROMISES, "utf-8")
    (tmp_path / ".goodwill" / "reconcile_rules.yaml").write_text(WORKSPACE_RECONCILE, "utf-8")
    rules, version = ledger.load_promise_rules()
    by_id = {r.id: r for r in rules}
    assert version == "2026-11-24.3+acme-1"
    assert "fca_8_week_final_response" not in by_id
    assert by_id["cfpb_15_day_response"].due == {"days": 10}
    assert by_id["cfpb_15_day_response"].key == "c.case_id"  # the rest of the packaged rule stays
    assert [r.id for r in rules][-1] == "crm_callback_note"
    rec, _ = ledger.load_reconcile_rules()
    assert rec[0].id == "callback_within_the_hour"  # the workspace's own rule decides first
    refund = next(r for r in rec if r.id == "refund")
    assert (refund.give_up_days, refund.repeat_window_days) == (60.0, 30.0)

    _crm_callbacks(store)
    ledger.build_ledger(store, as_of=AS_OF, heard=False)
    row = store.rows("SELECT * FROM promises WHERE promise_id = 'crm_callback_note:n1'")[0]
    assert (row["team"], row["function"], row["due_at"]) == (
        "retentions",
        "sales",
        t("2017-11-06T14:30+00:00"),
    )
    st = _status(store)["crm_callback_note:n1"]
    assert (st["rule"], st["status"], st["evidence_id"]) == (
        "callback_within_the_hour",
        "kept_late",
        "n2",
    )
    assert st["late_hours"] == pytest.approx(0.25)
    assert ledger.ledger_is_fresh(store)
    # editing the workspace file makes the ledger stale, though no fact was added
    (tmp_path / ".goodwill" / "reconcile_rules.yaml").write_text(
        WORKSPACE_RECONCILE.replace("give_up_days: 60", "give_up_days: 45"), "utf-8"
    )
    assert not ledger.ledger_is_fresh(store)


def test_workspace_file_through_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from goodwill.cli.app import app
    from goodwill.store import open_store

    monkeypatch.chdir(tmp_path)
    (tmp_path / ".goodwill").mkdir()
    (tmp_path / ".goodwill" / "promise_rules.yaml").write_text(WORKSPACE_PROMISES, "utf-8")
    url = str(tmp_path / "cli.duckdb")
    with open_store(url) as s:
        _crm_callbacks(s)
    res = CliRunner().invoke(
        app, ["promises", "w1", "--store", url, "--json", "--as-of", "2017-11-10"]
    )
    assert res.exit_code == 0, res.output
    owed = json.loads(res.output)["promises"]
    # the packaged callback rule decides it (no workspace reconcile file here): the call at
    # 14:45 came after the half-hour slot
    assert [(o["promise_id"], o["status"], o["rule"]) for o in owed] == [
        ("crm_callback_note:n1", "kept_late", "callback_appointment")
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules:\n  - action: refund\n", "Rule 1 in {p} has no id."),
        (
            "rules:\n  - id: x\n    action: a\n    from: t\n    key: k\n    made_at: m\n    due: {days: 1, hours: 2}\n",
            "Promise rule 'x': due must be one of",
        ),
        (
            "rules:\n  - id: x\n    action: a\n    from: t\n    key: k\n    made_at: m\n    due: {days: 1, calendar: us_business}\n",
            "Promise rule 'x': due must be one of",
        ),
        ("rules:\n  - just text\n", "Rule 1 in {p} is not a mapping."),
    ],
)
def test_bad_workspace_promise_rules(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text, "utf-8")
    with pytest.raises(ConfigError) as err:
        ledger.load_promise_rules(path)
    assert err.value.message.startswith(message.format(p=path))
    assert err.value.hint


def test_a_broken_rule_says_which(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "rules:\n  - id: mine\n    action: refund\n    from: no_such_table t\n    key: t.id\n"
        "    made_at: t.at\n    due: {days: 1}\n",
        "utf-8",
    )
    with pytest.raises(ConfigError) as err:
        ledger.derive_promises(store, path)
    assert err.value.message.startswith("Promise rule 'mine' failed")


def test_calendar_days_ignore_daylight_saving(store: Store) -> None:
    # CONSTRUCTED: sent to the company at midnight New York time on Friday 30 Oct 2015 (EDT);
    # 15 calendar days later is midnight on 14 Nov, now EST: 05:00 UTC, not 04:00
    store.append(
        "cases",
        table(
            "cases",
            [
                {
                    "case_id": "d1",
                    "customer_id": "x",
                    "opened_at": t("2015-10-30T04:00+00:00"),
                    "source": "cfpb",
                    "timely": True,
                    "status": "closed",
                }
            ],
        ),
    )
    ledger.derive_promises(store)
    row = store.rows("SELECT due_at FROM promises WHERE promise_id = 'cfpb_15_day_response:d1'")[0]
    assert row["due_at"] == t("2015-11-14T05:00+00:00")


def test_a_rule_with_an_unknown_time_zone_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "rules:\n  - id: x\n    action: a\n    from: t\n    key: k\n    made_at: m\n"
        "    timezone: Mars/Olympus\n    due: {days: 1}\n",
        "utf-8",
    )
    with pytest.raises(ConfigError) as err:
        ledger.load_promise_rules(path)
    assert err.value.message == "Promise rule 'x': 'Mars/Olympus' is not a time zone."


def test_a_booked_and_a_heard_call_back_are_one_promise(store: Store) -> None:
    # CONSTRUCTED: a slot booked on Monday and missed; on Wednesday the social team says it again
    store.append(
        "events",
        table(
            "events",
            [
                _event(
                    "cbx",
                    "h1",
                    "callback_booked",
                    "2017-11-06T09:00+00:00",
                    window_start="2017-11-06T14:00:00+00:00",
                    window_end="2017-11-06T15:00:00+00:00",
                )
            ],
        ),
    )
    store.append(
        "interactions",
        table(
            "interactions",
            [
                {
                    "interaction_id": "tw1",
                    "customer_id": "h1",
                    "occurred_at": t("2017-11-08T10:00+00:00"),
                    "channel": "twitter",
                    "direction": "outbound",
                    "author": "AcmeHelp",
                    "text": "Sorry! We'll call you back tomorrow. ^AB",
                    "source": "crm",
                }
            ],
        ),
    )
    ledger.build_ledger(store, as_of=AS_OF)
    s = _status(store)
    head, again = s["callback_appointment:cbx"], s["heard:tw1:0"]
    assert (head["rule"], again["rule"]) == ("callback_appointment", "contact_again")
    assert (head["status"], head["repeats"]) == ("broken", 1)
    assert (again["status"], again["chain_id"]) == ("repeat", "callback_appointment:cbx")
