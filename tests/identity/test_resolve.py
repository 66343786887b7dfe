"""Resolution on both engines: rules, the strong-identifier law, incremental runs, review, unmerge."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pytest

from goodwill.errors import ConfigError, NotFoundError
from goodwill.ingest.identity import (
    IdentityConflictError,
    accept,
    explain,
    list_candidates,
    load_rules,
    merge,
    parse_rules,
    reject,
    resolve,
    unmerge,
    unmerge_merge,
)
from goodwill.store import Store

from .helpers import check_links, load, persons

T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


def test_a_customer_known_to_billing_by_account_and_to_service_by_email(store: Store) -> None:
    load(store, [("bill-1", "account", "ACC-001", True), ("bill-1", "email", "Ann.Lee@GMail.com", True)], source="billing")
    load(store, [("svc-9", "email", "annlee+help@gmail.com", True), ("svc-9", "phone", "07700 900123", False)], source="service")
    report = resolve(store, at=T0)
    assert report.merges == 1 and report.by_rule == {"same_verified_email": 1}
    assert persons(store) == {"bill-1": {"bill-1", "svc-9"}}
    link = store.rows("SELECT * FROM customer_links WHERE customer_id = 'svc-9'")[0]
    assert link["person_id"] == "bill-1"
    assert link["rule"] == "same_verified_email"
    assert link["rule_version"].startswith("2026-11-24.1#")
    assert link["linked_by"] == "goodwill resolve"
    assert link["linked_at"] == T0
    ev = json.loads(link["evidence"])
    assert ev["with"] == "bill-1"
    assert ev["evidence"]["matched"] == [{"kind": "email", "value": "annlee@gmail.com"}]
    check_links(store)


def test_shared_family_email_with_two_accounts_is_never_merged(store: Store) -> None:
    load(
        store,
        [
            ("b-2", "account", "ACC-2", True),
            ("b-2", "email", "family@example.org", True),
            ("b-3", "account", "ACC-3", True),
            ("b-3", "email", "family@example.org", True),
            ("mkt-7", "email", "family@example.org", True),
        ],
    )
    report = resolve(store)
    assert persons(store) == {}
    # mkt-7 could be either of them: that is a question for a person, not a guess.
    assert report.ambiguous == 2
    cands = list_candidates(store)
    assert {(c["customer_a"], c["customer_b"]) for c in cands} == {("b-2", "mkt-7"), ("b-3", "mkt-7")}
    assert all(c["reason"].startswith("ambiguous") and "account" in c["reason"] for c in cands)
    with pytest.raises(IdentityConflictError, match="one person holds one account"):
        merge(store, "b-2", "b-3", by="tester")


def test_phone_and_surname_rule_and_namesakes(store: Store) -> None:
    load(
        store,
        [
            ("f-1", "phone", "+44 20 7946 0018", False),
            ("f-1", "surname", "Patel", False),
            ("s-1", "phone", "020 7946 0018", False),
            ("s-1", "surname", "PATEL", False),
            # Same phone, another surname: only a candidate.
            ("s-2", "phone", "020 7946 0018", False),
            ("s-2", "surname", "Jones", False),
        ],
    )
    resolve(store)
    assert persons(store) == {"f-1": {"f-1", "s-1"}}
    cands = list_candidates(store)
    assert {(c["customer_a"], c["customer_b"]) for c in cands} == {("f-1", "s-2"), ("s-1", "s-2")}
    for c in cands:
        assert c["rule"] == "same_phone" and "below the automatic threshold" in c["reason"]
        assert [i["kind"] for i in c["b"]["identifiers"]] == ["phone", "surname"]
        assert c["b"]["identifiers"][1]["value"] == "jones"


def test_incremental_resolution_joins_new_records_to_existing_persons(store: Store) -> None:
    load(store, [("a1", "account", "A1", True), ("a1", "email", "x@example.com", True)])
    load(store, [("a2", "email", "x@example.com", True), ("a2", "phone", "07700 900001", False)])
    resolve(store)
    assert persons(store) == {"a1": {"a1", "a2"}}
    before = store.rows("SELECT * FROM customer_links ORDER BY customer_id")
    # A new record, under a smaller id, matching the person through a2's phone and a1's account.
    load(store, [("a0", "account", "a-1", True)])
    report = resolve(store, ["a0"])
    assert report.records == 1 and report.merges == 1
    assert persons(store) == {"a0": {"a0", "a1", "a2"}}
    check_links(store)
    # Records not given are not re-read: an unrelated pair stays unresolved until asked.
    load(store, [("z1", "account", "Z", True), ("z2", "account", "Z", True)])
    assert resolve(store, ["a0"]).merges == 0
    assert resolve(store, ["z2"]).merges == 1
    # Running again changes nothing.
    again = resolve(store)
    assert again.merges == 0 and again.candidates == 0
    assert len(before) == 2


def test_unmerge_restores_both_exactly_and_sticks(store: Store) -> None:
    load(store, [("p1", "account", "P1", True), ("p1", "email", "p@example.com", True)])
    load(store, [("p2", "email", "p@example.com", True)])
    load(store, [("q1", "customer_number", "Q-1", True)])
    store.append(
        "interactions",
        pa.table(
            {
                "interaction_id": ["i1", "i2"],
                "customer_id": ["p1", "p2"],
                "occurred_at": pa.array([T0, T0 + dt.timedelta(hours=1)], pa.timestamp("us", tz="UTC")),
                "channel": ["phone", "email"],
                "function": ["billing", "service"],
                "text": ["bill query", "router broken"],
            }
        ),
    )
    facts_before = {k: v.to_pylist() for k, v in store.customer_facts(["p1", "p2"]).items()}
    links_before = store.rows("SELECT * FROM customer_links ORDER BY customer_id")
    resolve(store)
    # A second merge into the same person, by hand, then undo only the first automatic one.
    m_manual = merge(store, "p1", "q1", by="agent-7", note="same caller", at=T0)
    assert persons(store) == {"p1": {"p1", "p2", "q1"}}
    links_with_manual = store.rows("SELECT * FROM customer_links WHERE customer_id IN ('p1', 'q1') ORDER BY customer_id")
    out = unmerge(store, "p2", by="agent-7", reason="different person")
    assert out["former_members"] == ["p1", "p2", "q1"]
    assert persons(store) == {"p1": {"p1", "q1"}}
    assert store.rows("SELECT * FROM customer_links WHERE customer_id IN ('p1', 'q1') ORDER BY customer_id") != []
    # Undo the manual merge too: both back to exactly what they were before any merge.
    unmerge_merge(store, m_manual, by="agent-7")
    assert store.rows("SELECT * FROM customer_links ORDER BY customer_id") == links_before == []
    assert {k: v.to_pylist() for k, v in store.customer_facts(["p1", "p2"]).items()} == facts_before
    # The history stays, and resolution does not redo what a person undid.
    assert store.scalar("SELECT count(*) FROM identity_merges WHERE undone_at IS NOT NULL") == 2
    assert resolve(store).merges == 0
    assert len(links_with_manual) == 2


def test_unmerge_of_a_three_record_person_restores_the_previous_state_exactly(store: Store) -> None:
    load(store, [("r1", "account", "R1", True), ("r2", "account", "r-1", True)])
    resolve(store, at=T0)
    two = store.rows("SELECT * FROM customer_links ORDER BY customer_id")
    load(store, [("r0", "account", "R 1", True)])
    resolve(store, ["r0"], at=T0 + dt.timedelta(days=1))
    assert persons(store) == {"r0": {"r0", "r1", "r2"}}
    unmerge(store, "r0", by="t")
    assert store.rows("SELECT * FROM customer_links ORDER BY customer_id") == two


def test_review_accept_and_reject(store: Store) -> None:
    load(
        store,
        [
            ("m1", "email", "same@example.net", False),
            ("m2", "email", "same@example.net", False),
            ("m3", "phone", "07700 900555", False),
            ("m4", "phone", "07700 900555", False),
        ],
    )
    resolve(store)
    cands = {c["rule"]: c for c in list_candidates(store)}
    assert set(cands) == {"same_email", "same_phone"}
    assert cands["same_email"]["score"] > cands["same_phone"]["score"]
    mid = accept(store, cands["same_email"]["candidate_id"], by="reviewer")
    assert persons(store) == {"m1": {"m1", "m2"}}
    assert store.rows("SELECT rule, decided_by FROM identity_merges WHERE merge_id = ?", [mid]) == [
        {"rule": "same_email", "decided_by": "reviewer"}
    ]
    reject(store, cands["same_phone"]["candidate_id"], by="reviewer", note="flatmates")
    assert list_candidates(store) == []
    assert resolve(store).candidates == 0
    with pytest.raises(IdentityConflictError, match="already rejected"):
        accept(store, cands["same_phone"]["candidate_id"], by="reviewer")
    with pytest.raises(NotFoundError):
        accept(store, "nope", by="reviewer")
    story = explain(store, "m2")
    assert story["person_id"] == "m1"
    assert [r["customer_id"] for r in story["records"]] == ["m1", "m2"]
    assert story["records"][1]["rule"] == "same_email"


def test_common_values_are_skipped(store: Store) -> None:
    rows = [(f"n{i:02d}", "email", "none@none.com", True) for i in range(25)]
    load(store, rows)
    report = resolve(store)
    assert report.merges == 0 and report.common_values_skipped == 1
    assert report.common_value_examples == ["email:none@none.com"]


def test_rules_file_and_errors(tmp_path: Path) -> None:
    rules = load_rules()
    assert [r.name for r in rules.automatic][:2] == ["same_account", "same_customer_number"]
    assert "surname" in rules.secondary_kinds
    p = tmp_path / "identity.yaml"
    p.write_text("rules: [{name: x, match: [{kind: email}], score: 2}]")
    with pytest.raises(ConfigError, match="score must be between 0 and 1"):
        load_rules(p)
    with pytest.raises(ConfigError, match="must be a non-empty list"):
        parse_rules({"rules": []}, "test")
    custom = parse_rules({"auto_threshold": 0.5, "rules": [{"name": "same_email", "score": 0.7, "match": ["email"]}]}, "t")
    assert [r.name for r in custom.automatic] == ["same_email"]


def test_workspace_rules_change_what_merges(store: Store) -> None:
    load(store, [("w1", "email", "w@example.com", False), ("w2", "email", "w@example.com", False)])
    custom = parse_rules({"auto_threshold": 0.5, "rules": [{"name": "same_email", "score": 0.7, "match": ["email"]}]}, "t")
    assert resolve(store, rules=custom).merges == 1
    assert persons(store) == {"w1": {"w1", "w2"}}
