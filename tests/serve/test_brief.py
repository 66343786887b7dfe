"""The brief reads the person once and derives the rest; each derived part matches the layer that owns it."""

from __future__ import annotations

import datetime as dt

import pytest
from tests.serve.conftest import ALICE, BOB, NOW, Served, auth

from goodwill.guard import Guard
from goodwill.guard.facts import campaign_facts
from goodwill.guard.facts import person_facts as guard_person_facts
from goodwill.measure.fair_value import build_fair_value
from goodwill.measure.goodwill_ledger import build_goodwill, customer_ledger
from goodwill.serve.brief import BRIEF_TABLES, BriefContext, build_brief, guard_facts
from goodwill.store import Store


def _people(store: Store, n: int = 12) -> list[str]:
    # Alice and Bob (built in the test), then real CFPB and Telco records with promises, cases and prices.
    rows = store.rows(
        "SELECT customer_id FROM customers WHERE customer_id IN (SELECT customer_id FROM cases) "
        "OR customer_id IN (SELECT customer_id FROM subscriptions) ORDER BY customer_id LIMIT ?",
        [n],
    )
    return [ALICE, BOB, *(r["customer_id"] for r in rows)]


def test_guard_facts_from_the_brief_rows_equal_the_guards_set_based_facts(built: Store) -> None:
    # The per-person read (brief and single vet) and the campaign's joins are two independent
    # readings of the same facts.
    guard = Guard(built)
    ctx = BriefContext(built, guard)
    people = _people(built)
    assert len(people) > 8
    joined = campaign_facts(built, people, as_of=NOW, contact_days=guard.contact_days)
    for cid in people:
        ids, facts = built.person_facts(cid, ctx.tables())
        mine = guard_facts(ctx, cid, ids, facts, NOW)
        assert mine == guard_person_facts(built, cid, as_of=NOW, contact_days=guard.contact_days), cid
        theirs = joined[cid]
        theirs.contacts.sort(key=lambda c: (c.at, c.channel or "", c.function or ""))
        mine.contacts.sort(key=lambda c: (c.at, c.channel or "", c.function or ""))
        assert mine == theirs, cid


def test_do_not_equals_the_guards_what_if_verdicts(built: Store) -> None:
    guard = Guard(built)
    ctx = BriefContext(built, guard)
    for cid in _people(built, 6):
        brief = build_brief(ctx, cid, now=NOW)
        expected = {}
        for kind, channel in (("upsell", "email"), ("cross_sell", "phone"), ("offer", "sms"), ("message", "email")):
            d = guard.vet({"customer_id": cid, "kind": kind, "channel": channel, "purpose": "marketing"}, record=False, as_of=NOW)
            if d.verdict != "allow":
                expected[kind] = (d.verdict, [h.rule_id for h in d.hits])
        got = {x["kind"]: (x["verdict"], [r["rule"] for r in x["reasons"]]) for x in brief["do_not"]}
        assert got == expected, cid
    alice = build_brief(ctx, ALICE, now=NOW)
    assert {x["kind"] for x in alice["do_not"]} >= {"upsell", "cross_sell"}, "Alice has an open complaint"


def test_person_facts_reads_only_the_tables_asked_for(built: Store) -> None:
    ids, every = built.person_facts(ALICE)
    assert {"customers", "interactions", "cases", "promises", "subscriptions", "consents"} <= set(every)
    ids2, some = built.person_facts(ALICE, ["customers", "cases"])
    assert ids2 == ids
    assert set(some) - {"customer_links"} == {"customers", "cases"}
    assert some["cases"] == every["cases"]
    assert built.person_facts(ALICE, [])[1] == {} or set(built.person_facts(ALICE, [])[1]) == {"customer_links"}


def test_brief_reads_no_table_it_does_not_show(built: Store) -> None:
    ctx = BriefContext(built, Guard(built))
    assert "decisions" in built.person_facts(ALICE)[1], "the guard campaign decided about Alice"
    assert set(ctx.tables()) <= set(BRIEF_TABLES)
    assert "decisions" not in ctx.tables()


def test_goodwill_balance_and_trend_match_the_goodwill_ledger(bare: Store) -> None:
    built = bare
    ctx = BriefContext(built, Guard(built))
    assert build_brief(ctx, ALICE, now=NOW)["goodwill"] is None, "no ledger built yet: nothing invented"
    build_fair_value(built, as_of=NOW)
    build_goodwill(built, as_of=NOW)
    ctx = BriefContext(built, Guard(built))
    checked = 0
    for cid in _people(built):
        g = build_brief(ctx, cid, now=NOW)["goodwill"]
        ledger = customer_ledger(built, cid)
        assert g is not None
        assert g["balance"] == pytest.approx(ledger["balance"]), cid
        assert g["deposits"] == pytest.approx(ledger["deposits"])
        assert g["withdrawals"] == pytest.approx(ledger["withdrawals"])
        assert g["entries"] == len(ledger["entries"])
        assert [m["month"] for m in g["by_month"]] == [m["month"] for m in ledger["by_month"]]
        assert [m["balance"] for m in g["by_month"]] == pytest.approx([m["balance"] for m in ledger["by_month"]])
        recent = sum(e["amount"] for e in ledger["entries"] if e["occurred_at"] and e["occurred_at"] > NOW - dt.timedelta(days=90))
        assert g["trend_change"] == pytest.approx(recent)
        assert g["trend_direction"] == ("rising" if recent > 0 else "falling" if recent < 0 else "steady")
        checked += bool(ledger["entries"])
    assert checked >= 3
    alice = build_brief(ctx, ALICE, now=NOW)["goodwill"]
    # Alice: an overdue call-back, an open complaint, a loyalty penalty: her account is in the red.
    assert alice["balance"] < 0
    assert {e["fact_table"] for e in alice["latest"]} <= {"promises", "cases", "interactions", "fair_value", "events"}


def test_loyalty_in_the_brief_follows_fair_value(bare: Store) -> None:
    built = bare
    ctx = BriefContext(built, Guard(built))
    before = build_brief(ctx, ALICE, now=NOW)["loyalty_penalty"]
    assert [x["subscription_id"] for x in before] == ["s-a1"]
    assert before[0]["basis"].startswith("declared")
    build_fair_value(built, as_of=NOW)
    after = build_brief(BriefContext(built, Guard(built)), ALICE, now=NOW)["loyalty_penalty"]
    assert [(x["subscription_id"], x["new_customer_price"], x["over"]) for x in after] == [("s-a1", 30.0, 15.0)]
    assert after[0]["over_pct"] == pytest.approx(50.0)
    assert after[0]["basis"] == "declared: subscriptions.new_customer_price"


def test_brief_of_nobody_is_404_in_the_one_error_shape(served: Served) -> None:
    r = served.get("/customers/nobody:1/brief.json", headers=auth("agent"))
    assert r.status_code == 404
    assert r.json() == {"error": {"code": "not_found", "message": "goodwill holds nothing about a customer 'nobody:1'.",
                                  "hint": "Check the id (e.g. cfpb:1234567 or telco:0019-EFAEP)."}}


def test_brief_shows_promises_owed_from_the_ledger(served: Served) -> None:
    b = served.get(f"/customers/{ALICE}/brief.json", headers=auth("agent")).json()
    # The ledger chains the structured call-back (p-a1) and the one heard in the reply: the
    # heard one is broken, the structured one its repeat.
    assert b["promise_record"] == {"repeat": 1, "broken": 1}
    assert [p["promise_id"] for p in b["promises_owed"]] == ["heard:i-a2:0"]
    p = b["promises_owed"][0]
    assert (p["status"], p["days_overdue"], p["decided_by"]) == ("broken", 56, "contact_again")
    assert b["would_help"][0]["because"] == "heard:i-a2:0"
    assert [c["case_id"] for c in b["open_problems"]] == ["c-a1"]
    assert [(c["purpose"], c["channel"], c["state"]) for c in b["consents"]] == [("marketing", "email", "granted")]
