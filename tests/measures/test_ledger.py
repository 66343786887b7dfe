from __future__ import annotations

from pathlib import Path

import pytest

from goodwill.errors import ConfigError, NotFoundError
from goodwill.ingest import ingest_file
from goodwill.measure import goodwill_ledger as gl
from goodwill.measure.fair_value import build_fair_value
from goodwill.measure.promises import build_ledger
from goodwill.store import Store

from .helpers import CORE_DATA, PROMISE_DATA, contact, day, put, unhappy


def _real(store: Store) -> None:
    ingest_file(store, CORE_DATA / "cfpb-150.csv.gz", "cfpb")
    ingest_file(store, CORE_DATA / "telco-200.csv", "telco")
    ingest_file(store, PROMISE_DATA / "olist_sample.csv.gz", "olist")
    build_ledger(store, heard=False)
    build_fair_value(store)


def test_every_entry_traces_to_a_stored_fact_and_the_weights_version(store: Store) -> None:
    _real(store)
    rep = gl.build_goodwill(store)
    w = gl.load_weights()
    assert rep.rules_version == w.version
    kinds = rep.by_kind
    assert kinds["complaint_made"] > 0 and kinds["review_bad"] > 0 and kinds["promise_kept"] > 0
    keys = {
        "promises": "promise_id",
        "cases": "case_id",
        "events": "event_id",
        "interactions": "interaction_id",
        "fair_value": "subscription_id",
    }
    entries = store.rows("SELECT * FROM goodwill_entries")
    assert len(entries) == sum(kinds.values())
    for table, key in keys.items():
        ids = [e["fact_id"] for e in entries if e["fact_table"] == table]
        if not ids:
            continue
        found = store.scalar(
            f"SELECT count(DISTINCT {key}) FROM {table} WHERE {key} IN (SELECT fact_id FROM goodwill_entries WHERE fact_table = ?)",
            [table],
        )
        assert found == len(set(ids)), table
    for e in entries:
        assert e["rules_version"] == w.version
        base, _ = w.entries[e["kind"]]
        if e["kind"] == "loyalty_penalty":
            assert e["amount"] <= base < 0
        else:
            assert e["amount"] == base
    # Sentiment was never computed: said, not treated as neutral.
    assert any(m.startswith("sentiment:") for m in rep.missing)


def test_balance_is_the_sum_of_entries_and_rebuilds_identically(store: Store) -> None:
    _real(store)
    gl.build_goodwill(store)
    first = gl.balances(store, "customer", limit=20)
    cid = first[0]["grp"]
    led = gl.customer_ledger(store, cid)
    assert led["balance"] == pytest.approx(sum(e["amount"] for e in led["entries"]))
    assert led["balance"] == pytest.approx(first[0]["balance"])
    assert led["entries"][-1]["balance"] == pytest.approx(led["balance"])
    gl.build_goodwill(store)
    assert gl.balances(store, "customer", limit=20) == first
    company = gl.balances(store, "company")[0]
    assert company["balance"] == pytest.approx(
        store.scalar("SELECT sum(amount) FROM goodwill_entries")
    )
    series = gl.balance_series(store, "company")
    assert series[-1]["balance"] == pytest.approx(company["balance"])


def test_own_weights_change_amounts_and_version(store: Store, tmp_path: Path) -> None:
    _real(store)
    text = (Path(gl.__file__).parent / "goodwill_weights.yaml").read_text()
    text = text.replace("version: 2026-11-24.1", "version: acme-7").replace(
        "complaint_made: {amount: -2,", "complaint_made: {amount: -10,"
    )
    mine = tmp_path / "w.yaml"
    mine.write_text(text)
    gl.build_goodwill(store, weights=mine)
    rows = store.rows(
        "SELECT DISTINCT amount, rules_version FROM goodwill_entries WHERE kind = 'complaint_made'"
    )
    assert rows == [{"amount": -10.0, "rules_version": "acme-7"}]
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: x\nentries:\n  promise_kept: {amount: 1}\n")
    with pytest.raises(ConfigError, match="lacks weights for: promise_kept_late"):
        gl.load_weights(bad)


def test_contacts_sentiment_consent_and_dark_patterns(store: Store) -> None:
    put(store, "customers", [{"customer_id": "a"}, {"customer_id": "b"}])
    put(
        store,
        "interactions",
        [
            contact("a1", "a", day(0), case_id="k1", text="my bill is wrong"),
            contact("a2", "a", day(3), case_id="k1", text="still wrong, I am furious"),
            contact("a3", "a", day(50), case_id="k1", text="thanks"),
            contact(
                "m1",
                "a",
                day(5),
                direction="outbound",
                function="marketing",
                channel="email",
                text="Only 2 left! Hurry, offer ends tonight",
            ),
            contact(
                "m2",
                "b",
                day(5),
                direction="outbound",
                function="marketing",
                channel="email",
                text="Your new tariff is ready.",
            ),
        ],
    )
    put(
        store,
        "consents",
        [
            {
                "consent_id": "ca",
                "customer_id": "a",
                "purpose": "marketing",
                "channel": "email",
                "state": "withdrawn",
                "recorded_at": day(1),
            },
            {
                "consent_id": "cb",
                "customer_id": "b",
                "purpose": "marketing",
                "channel": "any",
                "state": "granted",
                "recorded_at": day(1),
            },
        ],
    )
    rep = gl.build_goodwill(store, as_of=day(100))
    assert any(m.startswith("sentiment:") for m in rep.missing)
    kinds = {
        (r["customer_id"], r["kind"])
        for r in store.rows("SELECT customer_id, kind FROM goodwill_entries")
    }
    assert ("a", "repeat_contact") in kinds  # a2 within 30 days of a1 on the same case; a3 is not
    assert store.scalar("SELECT count(*) FROM goodwill_entries WHERE kind = 'repeat_contact'") == 1
    assert ("a", "unwanted_contact") in kinds and ("b", "unwanted_contact") not in kinds
    assert ("a", "dark_pattern") in kinds and ("b", "dark_pattern") not in kinds
    dark = store.rows("SELECT detail, reason FROM goodwill_entries WHERE kind = 'dark_pattern'")[0]
    assert "scarcity" in dark["reason"] or "urgency" in dark["reason"]
    # Once texts are enriched, sentiment counts and the note goes.
    put(store, "enrichments", [unhappy("a2", "a", day(3), -0.9), unhappy("a3", "a", day(50), 0.8)])
    rep = gl.build_goodwill(store, as_of=day(100))
    assert not rep.missing
    assert rep.by_kind["strongly_negative_contact"] == 1 and rep.by_kind["positive_contact"] == 1
    # A fact after as_of is not counted.
    rep = gl.build_goodwill(store, as_of=day(10))
    assert rep.by_kind["positive_contact"] == 0


def test_errors_say_how_to_fix(store: Store) -> None:
    with pytest.raises(NotFoundError, match="goodwill goodwill --refresh"):
        gl.balances(store)
    gl.build_goodwill(store)
    with pytest.raises(NotFoundError, match="No customer 'nobody'"):
        gl.customer_ledger(store, "nobody")
    with pytest.raises(ConfigError, match="Use one of"):
        gl.balances(store, "planet")


def test_linked_records_are_one_account(store: Store) -> None:
    put(store, "customers", [{"customer_id": "x1"}, {"customer_id": "x2"}])
    put(
        store,
        "cases",
        [
            {
                "case_id": "c1",
                "customer_id": "x1",
                "kind": "complaint",
                "opened_at": day(0),
                "status": "closed",
                "closed_at": day(2),
                "outcome": "Closed with monetary relief",
            },
            {
                "case_id": "c2",
                "customer_id": "x2",
                "kind": "complaint",
                "opened_at": day(5),
                "status": "open",
            },
        ],
    )
    put(
        store,
        "customer_links",
        [{"customer_id": "x1", "person_id": "x1"}, {"customer_id": "x2", "person_id": "x1"}],
    )
    gl.build_goodwill(store, as_of=day(60))
    led = gl.customer_ledger(store, "x2")
    assert led["records"] == ["x1", "x2"]
    # -2 +3 (x1) and -2 -3 (x2, open over 30 days)
    assert led["balance"] == pytest.approx(-4.0)
    assert [e["kind"] for e in led["entries"]] == [
        "complaint_made",
        "complaint_resolved",
        "complaint_made",
        "complaint_open",
    ]
