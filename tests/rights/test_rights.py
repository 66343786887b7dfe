from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from pathlib import Path

import pyarrow as pa
import pytest
from tests.rights.helpers import SECRET_EMAIL, SECRET_ID, SECRET_TEXT, T0, build

from goodwill.errors import ConfigError, NotFoundError
from goodwill.ingest.suppression import suppressed, suppressed_identifiers
from goodwill.model import Column, Table, register_table
from goodwill.rights import (
    RequestStateError,
    collect,
    complete_request,
    consent_history,
    consent_states,
    create_request,
    current_consent,
    events_for,
    extend_request,
    fulfil_request,
    get_request,
    give_consent,
    list_requests,
    may_contact,
    object_to,
    rectification_history,
    rectify,
    refuse_request,
    register_personal_table,
    resolve_person,
    verify_identity,
    withdraw_consent,
)
from goodwill.store import Store

EMBEDDINGS = register_table(
    Table(
        "test_rights_embeddings",
        (Column("interaction_id", "text", False), Column("vector", "text")),
        ("interaction_id",),
        customer_column=None,
    )
)
register_personal_table("test_rights_embeddings", via=("interaction_id", "interactions", "interaction_id"))


def _with_embeddings(store: Store) -> None:
    store.ensure_table(EMBEDDINGS)
    rows = [{"interaction_id": f"p{i}", "vector": f"[{SECRET_TEXT}-vec]"} for i in range(20)]
    rows += [{"interaction_id": "o1", "vector": "[0.1]"}]
    store.append(EMBEDDINGS, pa.Table.from_pylist(rows))


def test_person_spans_linked_records(store: Store) -> None:
    build(store)
    p = resolve_person(store, "TW-99")
    assert p.person_id == SECRET_ID and p.customer_ids == ("PLINKETT-7731", "TW-99")
    with pytest.raises(NotFoundError, match="holds nothing"):
        resolve_person(store, "nobody")


def test_request_lifecycle_and_audit(store: Store) -> None:
    build(store)
    req = create_request(store, "TW-99", "access", received_at=dt.datetime(2024, 1, 31, 10, tzinfo=dt.UTC), channel="email")
    assert req.person_id == SECRET_ID and req.status == "received"
    assert req.due_on == dt.date(2024, 2, 29)
    assert req.days_left(dt.date(2024, 2, 19)) == 10
    assert not req.overdue(dt.date(2024, 2, 29)) and req.overdue(dt.date(2024, 3, 1))
    with pytest.raises(RequestStateError, match="before the requester's identity is verified"):
        complete_request(store, req.request_id)
    verify_identity(store, req.request_id, "account login")
    ext = extend_request(store, req.request_id, 2, "complex: three systems", today=dt.date(2024, 2, 20))
    assert ext.status == "extended" and ext.extended_due_on == dt.date(2024, 4, 30)
    assert ext.deadline == dt.date(2024, 4, 30) and not ext.overdue(dt.date(2024, 3, 15))
    done = complete_request(store, req.request_id, summary={"rows": 3})
    assert done.status == "completed" and done.completed_at is not None
    kinds = [e["kind"] for e in events_for(store, req.request_id)]
    assert kinds == ["received", "verified", "extended", "completed"]
    with pytest.raises(RequestStateError, match="is completed"):
        refuse_request(store, req.request_id, "too late")


def test_extension_must_come_before_the_first_deadline(store: Store) -> None:
    build(store)
    req = create_request(store, SECRET_ID, "erasure", received_at=dt.datetime(2024, 1, 10, tzinfo=dt.UTC))
    with pytest.raises(RequestStateError, match="must be recorded before then"):
        extend_request(store, req.request_id, 1, "busy", today=dt.date(2024, 2, 13))
    with pytest.raises(ConfigError, match="one or two further months"):
        extend_request(store, req.request_id, 3, "busy", today=dt.date(2024, 2, 1))


def test_refusal_needs_a_reason_and_overdue_listing(store: Store) -> None:
    build(store)
    a = create_request(store, SECRET_ID, "objection", received_at=dt.datetime(2024, 1, 10, tzinfo=dt.UTC))
    b = create_request(store, "C0001", "access", received_at=dt.datetime(2024, 3, 1, tzinfo=dt.UTC))
    with pytest.raises(ConfigError, match="needs its reason"):
        refuse_request(store, a.request_id, " ")
    overdue = list_requests(store, overdue_only=True, today=dt.date(2024, 3, 5))
    assert [r.request_id for r in overdue] == [a.request_id]
    refused = refuse_request(store, a.request_id, "identity could not be verified")
    assert refused.refusal_reason == "identity could not be verified"
    assert list_requests(store, overdue_only=True, today=dt.date(2024, 3, 5)) == []
    assert get_request(store, b.request_id).status == "received"


def test_access_package_holds_everything(store: Store, tmp_path: Path) -> None:
    build(store)
    _with_embeddings(store)
    req = create_request(store, "TW-99", "access")
    verify_identity(store, req.request_id, "photo ID")
    done, summary = fulfil_request(store, req.request_id, out=tmp_path)
    assert done.status == "completed"
    with zipfile.ZipFile(summary["path"]) as z:
        names = set(z.namelist())
        manifest = json.loads(z.read("manifest.json"))
        interactions = json.loads(z.read("json/interactions.json"))
        text = z.read("summary.md").decode()
        csv_rows = list(csv.DictReader(io.StringIO(z.read("csv/promises.csv").decode())))
    for t in ("customers", "identifiers", "interactions", "promises", "events", "consents", "decisions",
              "customer_links", "quarantine", "test_rights_embeddings", "rights_requests", "rights_events"):
        assert f"json/{t}.json" in names and f"csv/{t}.csv" in names, t
    assert manifest["tables"]["interactions"] == 20 and manifest["tables"]["test_rights_embeddings"] == 20
    assert manifest["tables"]["quarantine"] == 1
    assert {r["customer_id"] for r in interactions} == {SECRET_ID, "TW-99"}
    assert {r["promise_id"] for r in csv_rows} == {"pr1", "pr2"}
    assert "refund the late parcel (promised 2024-01-31 by agent 7): done (refunded on 2024-02-03)" in text
    assert "call back about the parcel (promised 2024-01-31 by agent 9): NOT KEPT: due 2024-02-02" in text
    assert "marketing by email: granted since 2024-01-31 (source: web form)" in text
    assert "deny" in text


def test_rectification_keeps_history(store: Store) -> None:
    build(store)
    rec = rectify(store, "TW-99", "customers", {"customer_id": SECRET_ID}, "display_name", "Zyx Plinkett-Smith", reason="married name")
    assert rec["old_value"] == "Zyx Plinkett" and rec["new_value"] == "Zyx Plinkett-Smith"
    rectify(store, SECRET_ID, "customers", {"customer_id": SECRET_ID}, "vulnerable", True, reason="told us of illness")
    row = store.rows("SELECT display_name, vulnerable FROM customers WHERE customer_id = ?", [SECRET_ID])[0]
    assert row == {"display_name": "Zyx Plinkett-Smith", "vulnerable": True}
    hist = rectification_history(store, "TW-99")
    assert [(h["column_name"], h["old_value"], h["reason"]) for h in hist] == [
        ("display_name", "Zyx Plinkett", "married name"),
        ("vulnerable", None, "told us of illness"),
    ]
    with pytest.raises(NotFoundError, match="belongs to customer"):
        rectify(store, SECRET_ID, "customers", {"customer_id": "C0001"}, "display_name", "x", reason="r")
    with pytest.raises(ConfigError, match="cannot be rectified"):
        rectify(store, SECRET_ID, "customers", {"customer_id": SECRET_ID}, "customer_id", "x", reason="r")


def test_consent_history_withdrawal_objection(store: Store) -> None:
    build(store)
    assert current_consent(store, "TW-99", "marketing", "email").state == "granted"
    assert may_contact(store, "TW-99", "marketing", "email")
    assert not may_contact(store, "TW-99", "marketing", "sms")
    withdraw_consent(store, "TW-99", "marketing", channel="email", source="unsubscribe link")
    assert current_consent(store, SECRET_ID, "marketing", "email").state == "withdrawn"
    give_consent(store, SECRET_ID, "marketing", channel="sms", source="app settings")
    assert may_contact(store, SECRET_ID, "marketing", "sms")
    object_to(store, "TW-99", "marketing", source="phone call")
    assert current_consent(store, SECRET_ID, "marketing", "sms").state == "objected"
    hist = consent_history(store, SECRET_ID, "marketing")
    assert [h["state"] for h in hist] == ["granted", "withdrawn", "granted", "objected"]
    assert [h["source"] for h in hist][-1] == "phone call"
    give_consent(store, "C0001", "marketing", channel="email", source="web form")
    states = consent_states(store, ["C0001", "TW-99", "C0002"], "marketing", "email")
    assert states == {"C0001": "granted", "TW-99": "objected", "C0002": "not_provided"}


def test_restriction_and_objection_requests(store: Store) -> None:
    build(store)
    r = create_request(store, SECRET_ID, "restriction")
    verify_identity(store, r.request_id, "account login")
    fulfil_request(store, r.request_id)
    assert current_consent(store, "TW-99", "marketing", "email").state == "restricted"
    o = create_request(store, "C0001", "objection", details={"purposes": ["profiling"]})
    verify_identity(store, o.request_id, "account login")
    give_consent(store, "C0001", "profiling", source="web form", at=T0)
    fulfil_request(store, o.request_id)
    assert current_consent(store, "C0001", "profiling", "email").state == "objected"


def test_rectification_request(store: Store) -> None:
    build(store)
    r = create_request(store, SECRET_ID, "rectification", details={
        "table": "identifiers", "key": {"customer_id": SECRET_ID, "kind": "email", "value": SECRET_EMAIL},
        "column": "raw_value", "value": "Zyx.Plinkett@example.org", "reason": "typo"})
    verify_identity(store, r.request_id, "account login")
    done, rec = fulfil_request(store, r.request_id)
    assert done.status == "completed" and rec["old_value"] == SECRET_EMAIL


def test_erasure_removes_every_row_and_suppresses(store: Store) -> None:
    build(store)
    _with_embeddings(store)
    req = create_request(store, "TW-99", "erasure")
    verify_identity(store, req.request_id, "account login")
    before = {t: store.count(t) for t in ("interactions", "customers", "identifiers", "quarantine")}
    done, summary = fulfil_request(store, req.request_id)
    assert done.status == "completed" and done.person_id.startswith("erased:")
    assert summary["rows"]["interactions"] == 20 and summary["rows"]["test_rights_embeddings"] == 20
    after = {t: store.count(t) for t in ("interactions", "customers", "identifiers", "quarantine")}
    assert {t: before[t] - after[t] for t in before} == {"interactions": 20, "customers": 2, "identifiers": 2, "quarantine": 1}
    assert store.count("test_rights_embeddings") == 1
    for ids in ([SECRET_ID], ["TW-99"]):
        with pytest.raises(NotFoundError):
            resolve_person(store, ids[0])
    assert collect(store, resolve_person(store, "C0001"))["interactions"].num_rows == 4
    # Nothing held anywhere names them.
    for t in store.counts():
        for r in store.rows(f"SELECT * FROM {t}"):
            blob = json.dumps(r, default=str)
            assert SECRET_ID not in blob and SECRET_TEXT not in blob and SECRET_EMAIL not in blob, t
    flags = suppressed(store, pa.array(["TW-99", "C0001", None, SECRET_ID]))
    assert flags.to_pylist() == [True, False, False, True]
    idf = suppressed_identifiers(store, pa.array(["email", "email", "twitter"]), pa.array([SECRET_EMAIL, "other1@example.com", "plinkett99"]))
    assert idf.to_pylist() == [True, False, True]
    kinds = [e["kind"] for e in events_for(store, req.request_id)]
    assert kinds[:3] == ["received", "verified", "in_progress"] and kinds[-2:] == ["erased", "completed"]


def test_erasure_can_keep_anonymous_counts(store: Store) -> None:
    build(store)
    from goodwill.rights import erase_person

    res = erase_person(store, SECRET_ID, keep_counts=True)
    assert res.aggregates == "anonymous monthly counts kept"
    rows = {(r["table_name"], str(r["month_start"])[:7]): r["row_count"] for r in store.rows("SELECT * FROM erased_counts")}
    assert rows[("interactions", "2024-01")] + rows[("interactions", "2024-02")] == 20
    assert sum(v for (t, _), v in rows.items() if t == "interactions") == 20
