"""One person across two systems: ingest two files under different keys, see one timeline."""

from __future__ import annotations

from pathlib import Path

from goodwill.ingest import ingest_file, parse_mapping
from goodwill.store import Store
from goodwill.store.timeline import timeline

BILLING = {
    "name": "billing",
    "source": "billing",
    "records": [
        {"table": "customers", "fields": {"customer_id": {"template": "bill:{acct}"}, "source": {"value": "billing"}}},
        {
            "table": "identifiers",
            "fields": {"customer_id": {"template": "bill:{acct}"}, "kind": {"value": "account"}, "value": "acct"},
        },
        {
            "table": "subscriptions",
            "fields": {
                "subscription_id": {"template": "bill:{acct}:sub"},
                "customer_id": {"template": "bill:{acct}"},
                "product": "plan",
                "price": {"column": "price", "type": "money"},
                "started_at": {"column": "since", "type": "timestamp"},
            },
        },
    ],
}
SERVICE = {
    "name": "service",
    "source": "service",
    "records": [
        {"table": "customers", "fields": {"customer_id": {"template": "svc:{ticket_user}"}, "source": {"value": "service"}}},
        {
            "table": "identifiers",
            "fields": {"customer_id": {"template": "svc:{ticket_user}"}, "kind": {"value": "account"}, "value": "account_no"},
        },
        {
            "table": "interactions",
            "fields": {
                "interaction_id": {"template": "svc:{ticket}"},
                "customer_id": {"template": "svc:{ticket_user}"},
                "occurred_at": {"column": "at", "type": "timestamp"},
                "channel": {"value": "phone"},
                "function": {"value": "service"},
                "direction": {"value": "inbound"},
                "text": "note",
            },
        },
    ],
}


def _load(store: Store, tmp_path: Path) -> None:
    (tmp_path / "billing.csv").write_text(
        "acct,plan,price,since\nA-100,Broadband 500,£42.00,2023-02-01\nA-200,Broadband 100,£25.00,2024-05-01\n",
        encoding="utf-8",
    )
    # the service desk writes account numbers with spaces and lower case
    (tmp_path / "service.csv").write_text(
        "ticket,ticket_user,account_no,at,note\n"
        "T1,u-77,a-100 ,2024-06-01T09:00:00Z,My bill went up again\n"
        "T2,u-88,A-200,2024-06-02T10:00:00Z,Router keeps dropping\n",
        encoding="utf-8",
    )
    ingest_file(store, tmp_path / "billing.csv", parse_mapping(BILLING))
    ingest_file(store, tmp_path / "service.csv", parse_mapping(SERVICE))


def test_two_files_under_different_keys_show_as_one_timeline(store: Store, tmp_path: Path) -> None:
    _load(store, tmp_path)
    tl = timeline(store, "svc:u-77")
    assert tl.customer_ids == ["bill:A-100", "svc:u-77"]
    kinds = [e.kind for e in tl.entries]
    assert "subscription" in kinds and "interaction" in kinds
    assert [e.at for e in tl.entries if e.at] == sorted(e.at for e in tl.entries if e.at)
    # the merge is explained: which rule, on which identifier
    joined = [link for link in tl.links if link["customer_id"] != tl.person_id]
    assert joined and joined[0]["rule"] == "same_account"
    assert "A-100" in str(joined[0]["evidence"])
    # the other person stays apart
    assert timeline(store, "bill:A-200").customer_ids == ["bill:A-200", "svc:u-88"]


def test_unmerge_restores_both_timelines_exactly(store: Store, tmp_path: Path) -> None:
    from goodwill.ingest.identity import unmerge

    _load(store, tmp_path)
    before_billing = store.rows("SELECT * FROM subscriptions ORDER BY subscription_id")
    unmerge(store, "svc:u-77", by="test", reason="two people")
    assert timeline(store, "svc:u-77").customer_ids == ["svc:u-77"]
    assert timeline(store, "bill:A-100").customer_ids == ["bill:A-100"]
    assert store.rows("SELECT * FROM subscriptions ORDER BY subscription_id") == before_billing
    assert [e.kind for e in timeline(store, "svc:u-77").entries] == ["interaction"]
