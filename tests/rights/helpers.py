"""A small store built in the test: two people, one of whom has two linked records."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from goodwill.store import Store

SECRET_TEXT = "Quorblinsky"  # appears only in the erased person's messages
SECRET_EMAIL = "zyx.plinkett@example.org"
SECRET_ID = "PLINKETT-7731"

T0 = dt.datetime(2024, 1, 31, 9, 0, tzinfo=dt.UTC)


def build(store: Store, *, others: int = 50) -> None:
    customers = [
        {"customer_id": SECRET_ID, "display_name": "Zyx Plinkett", "source": "crm", "first_seen_at": T0},
        {"customer_id": "TW-99", "display_name": "@plinkett99", "source": "twitter", "first_seen_at": T0},
    ] + [{"customer_id": f"C{i:04d}", "display_name": f"Other {i}", "source": "crm", "first_seen_at": T0} for i in range(others)]
    store.append("customers", pa.Table.from_pylist(customers))
    store.append(
        "identifiers",
        pa.Table.from_pylist(
            [
                {"customer_id": SECRET_ID, "kind": "email", "value": SECRET_EMAIL, "raw_value": SECRET_EMAIL},
                {"customer_id": "TW-99", "kind": "twitter", "value": "plinkett99"},
            ]
            + [{"customer_id": f"C{i:04d}", "kind": "email", "value": f"other{i}@example.com"} for i in range(others)]
        ),
    )
    store.append(
        "customer_links",
        pa.Table.from_pylist(
            [
                {"customer_id": SECRET_ID, "person_id": SECRET_ID, "rule": "manual"},
                {"customer_id": "TW-99", "person_id": SECRET_ID, "rule": "manual"},
            ]
        ),
    )
    inter = []
    for i in range(20):
        cid = SECRET_ID if i % 2 else "TW-99"
        inter.append(
            {
                "interaction_id": f"p{i}",
                "customer_id": cid,
                "occurred_at": T0 + dt.timedelta(days=i),
                "channel": "chat",
                "direction": "inbound",
                "text": f"This is {SECRET_TEXT} again, message {i}, my parcel is late",
            }
        )
    for i in range(others * 4):
        inter.append(
            {
                "interaction_id": f"o{i}",
                "customer_id": f"C{i % others:04d}",
                "occurred_at": T0 + dt.timedelta(hours=i),
                "channel": "email",
                "direction": "inbound",
                "text": f"ordinary message {i} about a refund",
            }
        )
    store.append("interactions", pa.Table.from_pylist(inter))
    store.append(
        "promises",
        pa.Table.from_pylist(
            [
                {"promise_id": "pr1", "customer_id": SECRET_ID, "action": "refund", "description": "refund the late parcel",
                 "made_at": T0, "due_at": T0 + dt.timedelta(days=5), "made_by": "agent 7"},
                {"promise_id": "pr2", "customer_id": "TW-99", "action": "call_back", "description": "call back about the parcel",
                 "made_at": T0, "due_at": T0 + dt.timedelta(days=2), "made_by": "agent 9"},
                {"promise_id": "pr3", "customer_id": "C0001", "action": "reply", "made_at": T0},
            ]
        ),
    )
    store.append(
        "events",
        pa.Table.from_pylist(
            [{"event_id": "e1", "customer_id": SECRET_ID, "kind": "refunded", "occurred_at": T0 + dt.timedelta(days=3), "ref": "pr1"}]
        ),
    )
    store.append(
        "consents",
        pa.Table.from_pylist(
            [{"consent_id": "k1", "customer_id": SECRET_ID, "purpose": "marketing", "channel": "email", "state": "granted",
              "recorded_at": T0, "source": "web form"}]
        ),
    )
    store.append(
        "decisions",
        pa.Table.from_pylist(
            [{"decision_id": "d1", "customer_id": "TW-99", "verdict": "deny", "reasons": '["open complaint"]', "decided_at": T0}]
        ),
    )
    store.append(
        "quarantine",
        pa.Table.from_pylist(
            [{"quarantine_id": "q1", "row": f'{{"customer": "{SECRET_ID}", "note": "bad date"}}', "reason": "bad date"},
             {"quarantine_id": "q2", "row": '{"customer": "C0001"}', "reason": "bad date"}]
        ),
    )
