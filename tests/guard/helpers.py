"""A small company built in the test: realistic cases for every guard rule."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pyarrow as pa

from goodwill.store import Store

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


def days(n: float) -> dt.timedelta:
    return dt.timedelta(days=n)


def add(store: Store, table: str, rows: list[dict[str, Any]]) -> None:
    store.append(table, pa.Table.from_pylist(rows))


def consent(cid: str, state: str, at: dt.datetime, channel: str = "email", purpose: str = "marketing", n: int = 0) -> dict[str, Any]:
    return {"consent_id": f"c:{cid}:{state}:{channel}:{n}:{at.isoformat()}", "customer_id": cid, "purpose": purpose,
            "channel": channel, "state": state, "recorded_at": at, "source": "preference centre"}


def contact(cid: str, at: dt.datetime, n: int, channel: str = "email", outcome: str | None = None) -> dict[str, Any]:
    return {"interaction_id": f"i:{cid}:{n}", "customer_id": cid, "occurred_at": at, "channel": channel,
            "function": "marketing", "direction": "outbound", "attrs": json.dumps({"outcome": outcome}) if outcome else None}


def build_company(store: Store) -> None:
    """ana: consented, clean. ben: open complaint. cai: overdue promise. dee: vulnerable.
    eli: objected. fay: withdrew yesterday. gus: 4 e-mails this month. hal: 3 rejections.
    ivy: two records (ivy-a, ivy-b) of one person; ivy-b has an open complaint.
    tom: subscription priced above new business; una: below; val: no plan price."""
    people = ["ana", "ben", "cai", "dee", "eli", "fay", "gus", "hal", "ivy-a", "ivy-b", "tom", "una", "val"]
    add(store, "customers", [
        {"customer_id": p, "vulnerable": p == "dee", "age_band": "65+" if p in ("dee", "eli") else "35-44", "region": "north" if p < "h" else "south"}
        for p in people
    ])
    add(store, "consents", [consent(p, "granted", NOW - days(200)) for p in people])
    add(store, "consents", [
        consent("eli", "objected", NOW - days(10), channel="any"),
        consent("fay", "withdrawn", NOW - days(1)),
    ])
    add(store, "cases", [
        {"case_id": "case-ben-1", "customer_id": "ben", "kind": "complaint", "status": "open", "opened_at": NOW - days(1)},
        {"case_id": "case-ana-old", "customer_id": "ana", "kind": "complaint", "status": "closed", "opened_at": NOW - days(90)},
        {"case_id": "case-ivy-1", "customer_id": "ivy-b", "kind": "complaint", "status": "open", "opened_at": NOW - days(3)},
    ])
    add(store, "promises", [
        {"promise_id": "pr-cai-1", "customer_id": "cai", "action": "refund", "made_at": NOW - days(20), "due_at": NOW - days(6)},
        {"promise_id": "pr-ana-1", "customer_id": "ana", "action": "refund", "made_at": NOW - days(20), "due_at": NOW - days(6)},
    ])
    add(store, "events", [
        {"event_id": "ev-ana-refund", "customer_id": "ana", "kind": "refunded", "occurred_at": NOW - days(7), "ref": "pr-ana-1"},
    ])
    add(store, "interactions", [contact("gus", NOW - days(2 + i), i) for i in range(4)])
    add(store, "interactions", [contact("hal", NOW - days(5 + 10 * i), i, outcome="rejected") for i in range(3)])
    add(store, "customer_links", [
        {"customer_id": "ivy-a", "person_id": "ivy-a", "rule": "manual"},
        {"customer_id": "ivy-b", "person_id": "ivy-a", "rule": "manual"},
    ])
    add(store, "plans", [
        {"plan_id": "fibre-100", "name": "Fibre 100", "new_customer_price": 30.0, "period": "month", "channel": None},
        {"plan_id": "fibre-500", "name": "Fibre 500", "new_customer_price": 45.0, "period": "month", "channel": "phone"},
    ])
    add(store, "subscriptions", [
        {"subscription_id": "sub-tom", "customer_id": "tom", "plan_id": "fibre-100", "channel": "web", "price": 38.0,
         "status": "active", "ends_at": NOW + days(25)},
        {"subscription_id": "sub-una", "customer_id": "una", "plan_id": "fibre-100", "channel": "web", "price": 29.0,
         "status": "active", "ends_at": NOW + days(5)},
        {"subscription_id": "sub-val", "customer_id": "val", "plan_id": "legacy-10", "channel": "web", "price": 20.0,
         "status": "active", "ends_at": NOW - days(3)},
    ])
