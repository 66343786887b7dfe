"""The one-pass rewrite of runaround and the goodwill ledger writes exactly the rows the old
SQL wrote (kept verbatim in reference_old.py), on a generated store with the awkward cases:
ties in time, missing channels, functions, teams and case ids, threads, closed and open
cases, contacts after the as-of date, consents by channel, reviews, sentiment and prices."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from goodwill.measure import goodwill_ledger as gl
from goodwill.measure import runaround as ra
from goodwill.measure.fair_value import build_fair_value
from goodwill.store import Store

from . import reference_old as old
from .helpers import day, put

AS_OF = day(200)
COPY = [
    "Your bill for this month is ready.",
    "Only 2 left! Hurry, offer ends tonight.",
    "We have fixed the fault on your line.",
    "No thanks, I prefer paying full price.",
]


def _maybe(rng: random.Random, values: list[Any], none: float = 0.2) -> Any:
    return None if rng.random() < none else rng.choice(values)


def generate(store: Store, seed: int = 11, people: int = 40, contacts: int = 900) -> None:
    rng = random.Random(seed)
    cids = [f"c{n}" for n in range(people)]
    put(store, "customers", [{"customer_id": c, "segment": _maybe(rng, ["a", "b"])} for c in cids])
    put(
        store,
        "customer_links",
        [{"customer_id": c, "person_id": "c0", "rule": "test"} for c in ("c0", "c1", "c2")],
    )
    outcomes = [
        "Closed with monetary relief",
        "Closed with explanation",
        "Closed without relief",
        "Closed",
        "Other",
    ]
    cases = []
    for n in range(60):
        opened = day(rng.uniform(-20, 210))
        closed = opened + dt.timedelta(days=rng.uniform(0, 80)) if rng.random() < 0.7 else None
        if closed is not None and rng.random() < 0.5:
            closed = day(rng.randint(0, 220))  # on a whole day, so a contact can fall on it exactly
        cases.append(
            {
                "case_id": f"k{n}",
                "customer_id": None if n == 7 else rng.choice(cids),
                "kind": rng.choice(["complaint", "complaint", "request"]),
                "opened_at": opened,
                "closed_at": closed,
                "status": _maybe(rng, ["open", "closed"]),
                "outcome": _maybe(rng, outcomes),
                "issue": _maybe(rng, ["billing", "fault"]),
                "product": _maybe(rng, ["broadband", "mobile"]),
            }
        )
    put(store, "cases", cases)
    rows = []
    for n in range(contacts):
        # Whole days only for some, so contacts tie in time and the id breaks the tie.
        at = day(rng.randint(0, 220)) if rng.random() < 0.3 else day(rng.uniform(0, 220))
        direction = rng.choice(["inbound", "inbound", "outbound", "outbound", "internal", None])
        rows.append(
            {
                "interaction_id": f"i{n:04d}",
                "customer_id": None if rng.random() < 0.03 else rng.choice(cids),
                "occurred_at": at,
                "direction": direction,
                "channel": _maybe(rng, ["phone", "email", "chat"], 0.1),
                "function": _maybe(rng, ["service", "billing", "marketing"], 0.15),
                "team": _maybe(rng, ["t1", "t2", "t3"], 0.4),
                "case_id": _maybe(rng, [f"k{k}" for k in range(65)], 0.4),
                "thread_id": _maybe(rng, ["th1", "th2", "th3", "th4"], 0.6),
                "product": _maybe(rng, ["broadband", "mobile"]),
                "text": rng.choice(COPY)
                if direction == "outbound" and rng.random() < 0.8
                else None,
            }
        )
    # Contacts exactly at a case's closing (a reopen only if in touch before), some with no earlier one.
    for n, c in enumerate(cases):
        if c["closed_at"] is not None and c["closed_at"] <= AS_OF:
            at = c["closed_at"]
            rows.append(
                {
                    "interaction_id": f"tie{n}",
                    "customer_id": c["customer_id"] or "c3",
                    "occurred_at": at,
                    "direction": "inbound",
                    "channel": "chat",
                    "case_id": c["case_id"],
                }
            )
            rows.append(
                {
                    "interaction_id": f"late{n}",
                    "customer_id": c["customer_id"] or "c3",
                    "occurred_at": at + dt.timedelta(hours=1),
                    "direction": "inbound",
                    "case_id": c["case_id"],
                }
            )
    put(store, "interactions", rows)
    put(
        store,
        "enrichments",
        [
            {
                "interaction_id": r["interaction_id"],
                "customer_id": r["customer_id"],
                "occurred_at": r["occurred_at"],
                "sentiment_score": _maybe(rng, [-0.9, -0.5, -0.3, -0.05, 0.0, 0.5, 0.7], 0.1),
                "sentiment_model": _maybe(rng, ["test"]),
                "reason_id": _maybe(rng, [1, 2, 3], 0.5),
                "enriched_at": AS_OF,
            }
            for r in rows
            if rng.random() < 0.6
        ],
    )
    put(
        store,
        "events",
        [
            {
                "event_id": f"e{n}",
                "customer_id": _maybe(rng, cids, 0.05),
                "kind": rng.choice(["reviewed", "reviewed", "purchase"]),
                "occurred_at": day(rng.uniform(0, 220)),
                "case_id": _maybe(rng, [f"k{k}" for k in range(60)]),
                "value": _maybe(rng, [1.0, 2.0, 3.0, 4.0, 5.0], 0.1),
            }
            for n in range(80)
        ],
    )
    put(
        store,
        "consents",
        [
            {
                "consent_id": f"q{n}",
                "customer_id": rng.choice(cids),
                "purpose": rng.choice(["marketing", "marketing", "profiling"]),
                "channel": _maybe(rng, ["any", "email", "phone"]),
                "state": rng.choice(["granted", "withdrawn", "objected"]),
                "recorded_at": day(rng.randint(-10, 150)),
            }
            for n in range(70)
        ],
    )
    put(
        store,
        "subscriptions",
        [
            {
                "subscription_id": f"s{n}",
                "customer_id": rng.choice(cids),
                "plan_id": f"p{n % 3}",
                "channel": "web",
                "price": round(rng.uniform(20, 40), 2),
                "period": "month",
                "status": "active",
                "attrs": f'{{"tenure": "{rng.randint(1, 12)}"}}',
            }
            for n in range(60)
        ],
    )


def _norm(rows: list[dict[str, Any]], drop: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    out = [{k: v for k, v in r.items() if k not in drop} for r in gl.clean(rows)]
    return sorted(out, key=lambda r: str(r.get("case_key") or r.get("entry_id")))


def test_runaround_rows_and_paths_are_as_before(store: Store) -> None:
    generate(store)
    before = _norm(old.runaround_rows_old(store, as_of=AS_OF))
    assert (
        len(before) > 50
        and any(r["reopens"] for r in before)
        and any(r["handoffs"] for r in before)
    )
    ra.build_runaround(store, as_of=AS_OF)
    # The generated copy holds one answer ("fixed") and no customer texts: no conflicting answers
    # (counted since the rewrite), so every other column must be as before.
    after = _norm(store.rows("SELECT * FROM runaround_cases"))
    assert all(r.pop("conflicts") == 0 for r in after)
    paths = ra.case_paths(store, [r["case_key"] for r in after])
    for r in after:
        r["path"] = paths[r["case_key"]]
    assert after == before
    # What people see: the worst cases and one person's cases, each with its path.
    worst = ra.worst_cases(store, limit=10)
    by_key = {r["case_key"]: r for r in before}
    for c in worst:
        assert c.pop("conflicts") == 0 and c.pop("conflicting_answers") == []
        assert {k: v for k, v in c.items()} == {
            k: v for k, v in by_key[c["case_key"]].items() if k != "as_of"
        }
    assert [c["effort"] for c in worst] == sorted((r["effort"] for r in before), reverse=True)[:10]
    mine = ra.customer_effort(store, "c0")
    assert mine["cases"] and all(c["path"] == by_key[c["case_key"]]["path"] for c in mine["cases"])


def test_goodwill_entries_are_as_before(store: Store) -> None:
    generate(store)
    build_fair_value(store, as_of=AS_OF)
    old_rep = old.build_goodwill_old(store, as_of=AS_OF)
    before = _norm(store.rows("SELECT * FROM goodwill_entries"), drop=("built_at",))
    assert {k for k, n in old_rep.by_kind.items() if n} >= {
        "complaint_made",
        "complaint_resolved",
        "complaint_open",
        "review_bad",
        "repeat_contact",
        "strongly_negative_contact",
        "positive_contact",
        "unwanted_contact",
        "dark_pattern",
    }
    rep = gl.build_goodwill(store, as_of=AS_OF)
    after = _norm(store.rows("SELECT * FROM goodwill_entries"), drop=("built_at",))
    assert after == before
    assert rep.by_kind == old_rep.by_kind and list(rep.by_kind) == list(old_rep.by_kind)
    assert rep.missing == old_rep.missing
