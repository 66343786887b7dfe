"""The set-based campaign path gives exactly the per-action path's decisions."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from tests.guard.helpers import NOW, add, build_company, consent, contact, days

from goodwill.guard import Action, Guard, audit
from goodwill.guard.batch import batchable
from goodwill.guard.engine import CampaignReport, DecisionList
from goodwill.store import Store

KINDS = ["upsell", "offer", "cross_sell", "message", "renewal", "price_change", "notice"]
CHANNELS = ["email", "sms", "post", "phone", None]
TEXTS = [None, "See what it costs before you decide.", "Hurry, only 2 left! Offer ends tonight."]
FULL = {"contract_end_date": 1, "services": 1, "price_until_end": 1, "price_after_end": 1, "how_to_end_or_change": 1,
        "best_tariffs": 1}


def simulated_book(store: Store, n: int = 160, seed: int = 8) -> list[str]:
    """A generated book with every rule's triggers at random (consents on many purposes and channels)."""
    rng = random.Random(seed)
    ids = [f"g{i:03d}" for i in range(n)]
    add(store, "customers", [{"customer_id": c, "vulnerable": rng.random() < 0.08, "age_band": "35-44"} for c in ids])
    cons, inter, cases, proms, events, subs = [], [], [], [], [], []
    for k, c in enumerate(ids):
        for m in range(rng.randint(0, 4)):
            at = NOW - days(rng.choice([1, 5, 5, 40, 200]))
            cons.append(consent(c, rng.choice(["granted", "granted", "withdrawn", "objected", "not_provided"]), at,
                                channel=rng.choice(["email", "sms", "any", "post"]),
                                purpose=rng.choice(["marketing", "marketing", "all", "service", "direct_marketing"]), n=m))
        for m in range(rng.choice([0, 0, 1, 3, 5, 7])):
            inter.append(contact(c, NOW - days(rng.uniform(0, 120)), m, channel=rng.choice(["email", "sms", "post"]),
                                 outcome=rng.choice([None, "rejected", "declined", "opened"])))
        if rng.random() < 0.15:
            cases.append({"case_id": f"case-{c}", "customer_id": c, "kind": "complaint",
                          "status": rng.choice(["open", "closed"]), "opened_at": NOW - days(3)})
        if rng.random() < 0.15:
            proms.append({"promise_id": f"pr-{c}", "customer_id": c, "action": "refund", "made_at": NOW - days(20),
                          "due_at": NOW + days(rng.choice([-6, 6]))})
            if rng.random() < 0.3:
                events.append({"event_id": f"ev-{c}", "customer_id": c, "kind": "refunded", "occurred_at": NOW - days(1),
                               "ref": f"pr-{c}"})
        if rng.random() < 0.5:
            subs.append({"subscription_id": f"sub-{c}", "customer_id": c, "plan_id": rng.choice(["fibre-100", "fibre-500", "x"]),
                         "channel": rng.choice(["web", "phone"]), "price": rng.choice([20.0, 35.0, 50.0]), "status": "active",
                         "ends_at": NOW + days(rng.choice([-3, 5, 25, 60]))})
        if k % 23 == 0 and k:
            add(store, "customer_links", [{"customer_id": c, "person_id": ids[k - 1], "rule": "manual"},
                                          {"customer_id": ids[k - 1], "person_id": ids[k - 1], "rule": "manual"}])
    for table, rows in (("consents", cons), ("interactions", inter), ("cases", cases), ("promises", proms),
                        ("events", events), ("subscriptions", subs)):
        if rows:
            add(store, table, rows)
    return ids


def generated_actions(ids: list[str], seed: int = 8) -> list[Action]:
    rng = random.Random(seed)
    out = []
    for k, c in enumerate([*ids, "nobody", "ana", "ben", "cai", "dee", "eli", "fay", "gus", "hal", "ivy-a", "tom", "una", "val"]):
        kind = rng.choice(KINDS + ["upsell"] * 4)
        d: dict[str, Any] = {"action_id": f"a{k}", "customer_id": c, "kind": kind, "channel": rng.choice(CHANNELS),
                             "purpose": rng.choice(["marketing", "marketing", None, "service", "direct_marketing"]),
                             "text": rng.choice(TEXTS), "planned_at": (NOW + days(rng.choice([0, 1, 3]))).isoformat()}
        if kind in ("renewal", "price_change"):
            d["price"] = rng.choice([25.0, 40.0, None])
            d["attrs"] = {"subscription_id": f"sub-{c}"} if rng.random() < 0.5 else {}
        if kind == "notice":
            content = dict(FULL)
            if rng.random() < 0.3:
                content.pop("best_tariffs")
            d["attrs"] = {"notice": "end_of_contract", "subscription_id": f"sub-{c}", "content": content}
        out.append(Action.from_dict(d))
    # A person with several actions (their own sends count towards their caps), and a linked pair.
    out += [Action.from_dict({"action_id": f"ana-{i}", "customer_id": "ana", "kind": "upsell", "purpose": "marketing",
                              "channel": "email", "planned_at": (NOW + days(i)).isoformat()}) for i in range(5)]
    out.append(Action.from_dict({"action_id": "ivy-b-1", "customer_id": "ivy-b", "kind": "offer", "channel": "email"}))
    return out


def same(a: CampaignReport, b: CampaignReport) -> None:
    assert len(a.decisions) == len(b.decisions)
    for x, y in zip(a.decisions, b.decisions, strict=True):
        assert x.action.action_id == y.action.action_id
        assert (x.verdict, x.reasons, x.changes, x.route, x.facts) == (y.verdict, y.reasons, y.changes, y.route, y.facts), (
            x.action.action_id
        )
    assert (a.counts, a.by_rule, a.routed) == (b.counts, b.by_rule, b.routed)


def test_set_based_campaign_matches_the_per_action_path(store: Store) -> None:
    build_company(store)
    actions = generated_actions(simulated_book(store))
    g = Guard(store)
    assert batchable(g)
    batch = g.vet_campaign(actions, as_of=NOW, record=False)
    assert isinstance(batch.decisions, DecisionList)
    rows = g.vet_campaign(actions, as_of=NOW, record=False, batch=False)
    same(batch, rows)
    # Every rule fired somewhere, so every rule's set-based form was checked.
    assert set(rows.by_rule) == {b.ctx.spec.id for b in g.pack.bound}
    # And each decision is what vetting the action alone says (for people with one action).
    for a, d in zip(actions, batch.decisions, strict=True):
        if sum(x.customer_id == a.customer_id for x in actions) == 1 and a.customer_id not in ("ivy-a", "ivy-b"):
            one = g.vet(a, as_of=NOW, record=False)
            assert (one.verdict, one.reasons, one.changes) == (d.verdict, d.reasons, d.changes)


def test_set_based_campaign_with_a_promise_ledger(store: Store) -> None:
    from goodwill.measure.promises import PROMISE_STATUS

    build_company(store)
    store.ensure_table(PROMISE_STATUS)
    add(store, "promise_status", [{"promise_id": "pr-cai-1", "status": "kept", "rule": "refund"},
                                  {"promise_id": "pr-ana-1", "status": "overdue", "rule": "refund"}])
    actions = [Action.from_dict({"action_id": f"a-{c}", "customer_id": c, "kind": "upsell", "channel": "email"})
               for c in ("ana", "ben", "cai", "dee")]
    g = Guard(store)
    batch = g.vet_campaign(actions, as_of=NOW, record=False)
    same(batch, g.vet_campaign(actions, as_of=NOW, record=False, batch=False))
    assert [d.verdict for d in batch.decisions] == ["deny", "deny", "allow", "deny"]


def test_recorded_set_based_campaign_chains_like_the_per_action_one(store: Store) -> None:
    build_company(store)
    actions = generated_actions(simulated_book(store, n=40))
    g = Guard(store)
    report = g.vet_campaign(actions, as_of=NOW)
    assert audit.verify(store).ok
    stored = store.rows("SELECT action_id, verdict, reasons FROM decisions ORDER BY decision_id")
    assert [r["action_id"] for r in stored] == [a.action_id for a in actions]
    assert [r["verdict"] for r in stored] == [d.verdict for d in report.decisions]
    assert [json.loads(r["reasons"]) for r in stored] == [json.loads(audit.to_json(d.reasons)) for d in report.decisions]


def test_a_rule_without_a_batch_form_sends_every_action_through_the_per_action_path(store: Store, tmp_path: Path) -> None:
    from tests.guard.test_audit_pack import NoLateNight

    from goodwill.guard import load_pack, register_rule
    from goodwill.guard.registry import unregister_rule

    build_company(store)
    register_rule(NoLateNight)
    try:
        g = Guard(store, load_pack())
        assert not batchable(g)
        report = g.vet_campaign(generated_actions([]), as_of=NOW, record=False)
        assert isinstance(report.decisions, list)
    finally:
        unregister_rule("no_late_night")


@pytest.mark.parametrize("what_if", [True, False])
def test_demo_campaign_set_based_equals_per_action(tmp_path: Path, what_if: bool) -> None:
    from goodwill.guard import read_campaign
    from goodwill.guard.simulate import AS_OF, CAMPAIGN_FILE, load_demo_data, simulate_company
    from goodwill.store import open_store

    with open_store(tmp_path / "demo.duckdb") as s:
        load_demo_data(s)
        simulate_company(s)
        actions = read_campaign(CAMPAIGN_FILE)
        g = Guard(s)
        rows = g.vet_campaign(actions, as_of=AS_OF, record=False, batch=False)
        batch = g.vet_campaign(actions, as_of=AS_OF, record=not what_if)
        same(batch, rows)
        changed = [(d.action.action_id, d.changes.get("price")) for d in batch.decisions if d.verdict == "change"]
        assert changed and changed == [(d.action.action_id, d.changes.get("price")) for d in rows.decisions if d.verdict == "change"]
        if not what_if:
            assert audit.verify(s).ok and s.count("decisions") == len(actions)
