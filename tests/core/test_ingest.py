from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from goodwill.errors import MappingError, SourceError
from goodwill.ingest import ingest_file, load_mapping, parse_mapping
from goodwill.store import Store

DATA = Path(__file__).resolve().parent.parent / "data" / "core"
UTC = dt.UTC

EVENTS_MAPPING = {
    "name": "test-events",
    "source": "t",
    "timezone": "Europe/London",
    "records": [
        {
            "table": "customers",
            "fields": {"customer_id": {"template": "t:{cust}"}, "source": {"value": "t"}},
        },
        {
            "table": "subscriptions",
            "when": {"column": "price", "not_empty": True},
            "fields": {
                "subscription_id": {"template": "t:{id}"},
                "customer_id": {"template": "t:{cust}"},
                "price": {"column": "price", "type": "money"},
                "started_at": {"column": "start", "type": "timestamp"},
                "status": {"column": "active", "type": "bool", "map": {"y": "active", "n": "ended"}},
            },
        },
    ],
}


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_cfpb_sample_on_both_engines(store: Store) -> None:
    r = ingest_file(store, DATA / "cfpb-150.csv.gz", "cfpb")
    assert r.rows_read == 150
    assert r.rows_quarantined == 0
    assert r.rows_written["customers"] == 150
    assert r.rows_written["cases"] == 150
    # each of these complaints has a narrative; some also a company public response
    assert r.rows_written["interactions"] >= 150
    assert store.count("cases") == 150
    row = store.rows("SELECT kind, status, timely, opened_at FROM cases ORDER BY case_id LIMIT 1")[0]
    assert row["kind"] == "complaint"
    assert row["status"] in ("open", "closed")
    assert isinstance(row["timely"], bool)
    # a date with no time is midnight in the mapping's zone (New York), stored in UTC
    assert row["opened_at"].astimezone(UTC).hour in (4, 5)


def test_reingest_adds_nothing_twice(store: Store) -> None:
    first = ingest_file(store, DATA / "cfpb-150.csv.gz", "cfpb")
    before = store.counts()
    second = ingest_file(store, DATA / "cfpb-150.csv.gz", "cfpb")
    after = store.counts()
    assert second.previously_ingested and not first.previously_ingested
    assert sum(second.rows_written.values()) == 0
    assert {k: v for k, v in after.items() if k != "ingest_log"} == {k: v for k, v in before.items() if k != "ingest_log"}
    assert after["ingest_log"] == 2


def test_telco_prices_and_identifiers(store: Store) -> None:
    r = ingest_file(store, DATA / "telco-200.csv", "telco")
    assert r.rows_quarantined == 0
    assert store.count("subscriptions") == 200
    first = store.rows("SELECT price, status, attrs FROM subscriptions WHERE subscription_id = 'telco:7590-VHVEG'")[0]
    assert first["price"] == pytest.approx(29.85)
    assert first["status"] == "active"
    assert json.loads(first["attrs"])["tenure"] == "1"
    ident = store.rows("SELECT kind, value, raw_value FROM identifiers WHERE customer_id = 'telco:7590-VHVEG'")
    assert ident and ident[0]["kind"] == "account"


def test_bad_rows_go_to_quarantine_and_good_rows_go_on(store: Store, tmp_path: Path) -> None:
    src = write(
        tmp_path / "subs.csv",
        "id,cust,price,start,active\n"
        '2,b,"£1,234.50",2024-01-05 10:00,y\n'
        "3,c,12.5,2024-13-45,n\n"  # month 13: not a date
        "4,d,abc,2024-01-05,n\n"  # not money
        "5,e,(12.00),2024-07-01T09:30:00+02:00,maybe\n"  # not in the map
        "6,f,7,2024-07-01,n\n",
    )
    m = parse_mapping(EVENTS_MAPPING)
    r = ingest_file(store, src, m)
    assert r.rows_quarantined == 3
    stored = store.rows("SELECT subscription_id, price, started_at, status FROM subscriptions ORDER BY subscription_id")
    assert [s["subscription_id"] for s in stored] == ["t:2", "t:6"]
    assert stored[0]["price"] == pytest.approx(1234.5)
    # naive times are in the mapping's zone (London: GMT in January, BST in July)
    assert stored[0]["started_at"] == dt.datetime(2024, 1, 5, 10, 0, tzinfo=UTC)
    assert stored[1]["started_at"] == dt.datetime(2024, 6, 30, 23, 0, tzinfo=UTC)
    q = {x["line"]: x for x in store.rows("SELECT line, reason, row FROM quarantine")}
    assert q[3]["reason"] == "started_at: not a valid timestamp (got '2024-13-45')"
    assert "2024-13-45" in q[3]["row"]
    assert q[4]["reason"] == "price: not a valid money (got 'abc')"
    assert q[5]["reason"].startswith("status: value not in its map (y, n) (got 'maybe')")
    assert store.count("customers") == 2


def test_malformed_csv_rows_are_quarantined_with_their_text(store: Store, tmp_path: Path) -> None:
    src = write(
        tmp_path / "subs.csv",
        "id,cust,price,start,active\n"
        "1,a,£1,234.50,2024-01-05 10:00,y\n"  # unquoted comma: six fields
        "2,b,3,2024-01-05 10:00,y\n",
    )
    r = ingest_file(store, src, parse_mapping(EVENTS_MAPPING))
    assert r.rows_quarantined == 1
    q = store.rows("SELECT reason, row FROM quarantine")[0]
    assert q["reason"] == "unreadable row: expected 5 fields, found 6"
    assert "1,a,£1,234.50" in q["row"]
    assert store.scalar("SELECT subscription_id FROM subscriptions") == "t:2"


def test_missing_column_fails_before_anything_is_written(store: Store, tmp_path: Path) -> None:
    src = write(tmp_path / "x.csv", "id,customer,price\n1,a,3\n")
    with pytest.raises(MappingError) as exc:
        ingest_file(store, src, parse_mapping(EVENTS_MAPPING))
    assert "'cust'" in exc.value.message and "'start'" in exc.value.message
    assert "'id', 'customer', 'price'" in (exc.value.hint or "")
    assert store.count("customers") == 0
    assert store.count("ingest_log") == 0


def test_jsonl_with_nested_keys_and_a_broken_line(store: Store, tmp_path: Path) -> None:
    lines = [
        {"id": 1, "who": {"id": "p1"}, "at": "2024-02-01T10:00:00Z", "msg": "Where is my refund?"},
        "this is not json",
        {"id": 2, "who": {"id": "p2"}, "at": "2024-02-02T11:00:00Z", "msg": "Thanks!"},
    ]
    src = tmp_path / "chat.jsonl.gz"
    with gzip.open(src, "wt", encoding="utf-8") as fh:
        for line in lines:
            fh.write((line if isinstance(line, str) else json.dumps(line)) + "\n")
    m = parse_mapping(
        {
            "name": "chat",
            "records": [
                {
                    "table": "interactions",
                    "fields": {
                        "interaction_id": {"template": "chat:{id}"},
                        "customer_id": {"template": "chat:{who.id}"},
                        "occurred_at": {"column": "at", "type": "timestamp"},
                        "text": "msg",
                        "channel": {"value": "chat"},
                    },
                }
            ],
        }
    )
    r = ingest_file(store, src, m, redact=False)
    assert r.rows_read == 2
    assert r.rows_quarantined == 1
    assert store.rows("SELECT line, reason FROM quarantine")[0] == {"line": 2, "reason": "unreadable row: not JSON: Expecting value"}
    assert store.scalar("SELECT customer_id FROM interactions WHERE interaction_id = 'chat:2'") == "chat:p2"


def test_parquet_keeps_native_types(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "i.parquet"
    pq.write_table(
        pa.table(
            {
                "id": pa.array([1, 2], pa.int64()),
                "cust": ["a", "b"],
                "ts": pa.array([dt.datetime(2024, 5, 1, 12, 0), dt.datetime(2024, 5, 2, 12, 0)], pa.timestamp("ms")),
                "text": ["hello", None],
                "score": pa.array([1.5, 2.0]),
            }
        ),
        src,
    )
    m = parse_mapping(
        {
            "name": "pq",
            "timezone": "America/New_York",
            "records": [
                {
                    "table": "interactions",
                    "fields": {
                        "interaction_id": {"template": "pq:{id}"},
                        "customer_id": "cust",
                        "occurred_at": "ts",
                        "text": "text",
                    },
                },
                {
                    "table": "events",
                    "fields": {
                        "event_id": {"template": "pq:e{id}"},
                        "customer_id": "cust",
                        "kind": {"value": "scored"},
                        "occurred_at": "ts",
                        "value": "score",
                    },
                },
            ],
        }
    )
    r = ingest_file(store, src, m, redact=False)
    assert r.rows_quarantined == 0
    ts = store.scalar("SELECT occurred_at FROM interactions WHERE interaction_id = 'pq:1'")
    assert ts == dt.datetime(2024, 5, 1, 16, 0, tzinfo=UTC)
    assert store.scalar("SELECT sum(value) FROM events") == pytest.approx(3.5)


def test_float_written_ids_and_formats(store: Store, tmp_path: Path) -> None:
    src = write(
        tmp_path / "t.csv",
        "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n"
        "19,sprintcare,False,Tue Oct 31 22:10:10 +0000 2017,@115715 Please send us a private message,,20.0\n"
        "20,115715,True,Tue Oct 31 22:03:34 +0000 2017,@sprintcare my phone is broken,19,\n",
    )
    r = ingest_file(store, src, "twcs", redact=False, resolve_identities=False)
    assert r.rows_quarantined == 0
    rows = store.rows("SELECT interaction_id, customer_id, in_reply_to, occurred_at FROM interactions ORDER BY interaction_id")
    assert rows[0]["in_reply_to"] == "twcs:20"
    # the company's reply is linked to the customer it answers
    assert rows[0]["customer_id"] == "twcs:115715"
    assert rows[1]["occurred_at"] == dt.datetime(2017, 10, 31, 22, 3, 34, tzinfo=UTC)


def test_text_is_redacted_unless_raw_text_is_allowed(store: Store, tmp_path: Path) -> None:
    pytest.importorskip("goodwill.ingest.redact")
    src = write(
        tmp_path / "t.csv",
        "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n"
        "20,115715,True,Tue Oct 31 22:03:34 +0000 2017,mail me at jane.doe@example.com please,,\n",
    )
    ingest_file(store, src, "twcs", resolve_identities=False)
    text = store.scalar("SELECT text FROM interactions")
    assert "jane.doe@example.com" not in text and "<EMAIL>" in text


def test_mapping_errors_say_how_to_fix() -> None:
    with pytest.raises(MappingError, match="unknown table 'tickets'") as e1:
        parse_mapping({"name": "x", "records": [{"table": "tickets", "fields": {}}]})
    assert "interactions" in (e1.value.hint or "")
    with pytest.raises(MappingError, match="has no column 'body'"):
        parse_mapping({"name": "x", "records": [{"table": "interactions", "fields": {"body": "b"}}]})
    with pytest.raises(MappingError, match="unknown key"):
        parse_mapping({"name": "x", "records": [{"table": "interactions", "fields": {"text": {"colum": "b"}}}]})
    with pytest.raises(MappingError, match="no field for required column"):
        parse_mapping({"name": "x", "records": [{"table": "interactions", "fields": {"text": "b"}}]})
    with pytest.raises(MappingError, match="There is no built-in mapping named 'nope'") as e2:
        load_mapping("nope")
    assert "cfpb" in (e2.value.hint or "")


def test_bad_yaml_is_explained(tmp_path: Path) -> None:
    p = write(tmp_path / "m.yaml", "name: x\nrecords: [\n")
    with pytest.raises(MappingError, match="not valid YAML"):
        load_mapping(p)


def test_wrong_encoding_hint(store: Store, tmp_path: Path) -> None:
    p = tmp_path / "latin.csv"
    p.write_bytes("id,cust,price,start,active\n1,Jos\xe9,1,2024-01-01,y\n".encode("latin-1"))
    with pytest.raises(SourceError) as exc:
        ingest_file(store, p, parse_mapping(EVENTS_MAPPING))
    assert "--encoding latin-1" in str(exc.value)
    r = ingest_file(store, p, parse_mapping(EVENTS_MAPPING), encoding="latin-1")
    assert r.rows_quarantined == 0
    assert store.scalar("SELECT customer_id FROM customers") == "t:José"


def test_missing_file_and_unknown_format(store: Store, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="There is no file"):
        ingest_file(store, tmp_path / "nope.csv", "cfpb")
    odd = write(tmp_path / "data.xlsx", "x")
    with pytest.raises(SourceError, match="Cannot tell the format"):
        ingest_file(store, odd, parse_mapping(EVENTS_MAPPING))


def test_builtin_mappings_are_valid() -> None:
    from goodwill.ingest import builtin_mappings

    names = builtin_mappings()
    assert {"cfpb", "twcs", "olist", "telco", "airline"} <= set(names)
    for n in names:
        assert load_mapping(n).records


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("path", "mapping", "rows"),
    [
        ("cfpb-complaints/complaints-with-narratives.csv.gz", "cfpb", 7293),
        ("cfpb-complaints/complaints-sample-1000.csv.gz", "cfpb", 1000),
        ("twcs/twcs-complete-threads.csv.gz", "twcs", 3555),
        ("olist/olist_classified_public_dataset.csv.gz", "olist", 3584),
        ("telco-churn/Telco-Customer-Churn.csv.gz", "telco", 7043),
        ("airline-sentiment/Tweets.csv.gz", "airline", 14640),
    ],
)
def test_real_data_sets_ingest_cleanly(duck_store: Store, shared_data: Path, path: str, mapping: str, rows: int) -> None:
    r = ingest_file(duck_store, shared_data / path, mapping)
    assert r.rows_read == rows
    # Only identifiers may be refused alone (a handle that is not a valid handle); no row is lost.
    row_reasons = {k: v for k, v in r.reasons.items() if not k.startswith("identifier:")}
    assert row_reasons == {}
    assert duck_store.count("quarantine") == sum(r.reasons.values())
    if mapping == "twcs":
        # every company reply lands on the timeline of the customer it answers
        assert duck_store.scalar("SELECT count(*) FROM interactions WHERE customer_id IS NULL") == 0
    if mapping == "olist":
        assert duck_store.count("promises") == 3584


def test_erased_person_is_not_brought_back_by_reingesting(store: Store) -> None:
    from goodwill.rights import erase_person

    ingest_file(store, DATA / "telco-200.csv", "telco")
    assert store.count("subscriptions") == 200
    erase_person(store, "telco:7590-VHVEG")
    assert store.scalar("SELECT count(*) FROM subscriptions WHERE customer_id = 'telco:7590-VHVEG'") == 0
    again = ingest_file(store, DATA / "telco-200.csv", "telco")
    assert again.rows_suppressed >= 3  # customer, identifier, subscription
    assert store.scalar("SELECT count(*) FROM customers WHERE customer_id = 'telco:7590-VHVEG'") == 0
    assert store.count("subscriptions") == 199


def test_erased_identifier_under_a_new_customer_id_is_dropped(store: Store, tmp_path: Path) -> None:
    from goodwill.rights import erase_person

    ingest_file(store, DATA / "telco-200.csv", "telco")
    erase_person(store, "telco:7590-VHVEG")
    # another system knows the same account number under its own customer id
    src = write(tmp_path / "billing.csv", "cust,acct\nb-1,7590-VHVEG\nb-2,5575-GNVDE\n")
    m = parse_mapping(
        {
            "name": "billing",
            "records": [
                {"table": "customers", "fields": {"customer_id": {"template": "bill:{cust}"}}},
                {
                    "table": "identifiers",
                    "fields": {
                        "customer_id": {"template": "bill:{cust}"},
                        "kind": {"value": "account"},
                        "value": {"column": "acct"},
                    },
                },
            ],
        }
    )
    r = ingest_file(store, src, m)
    assert r.rows_suppressed == 2
    assert store.scalar("SELECT count(*) FROM customers WHERE customer_id LIKE 'bill:%'") == 1


def test_conditions_on_presence_treat_blank_as_empty() -> None:
    import pyarrow as pa

    from goodwill.ingest.mapping import Condition
    from goodwill.ingest.transform import _condition_mask

    batch = pa.RecordBatch.from_pydict({"x": [None, "", "  \t", "a", " b ", "\u00a0"], "n": [1, None, 3, 4, 5, 6]})
    present = _condition_mask(batch, (Condition("x", not_empty=True),)).to_pylist()
    empty = _condition_mask(batch, (Condition("x", empty=True),)).to_pylist()
    assert present == [False, False, False, True, True, False]
    assert empty == [not p for p in present]
    assert _condition_mask(batch, (Condition("n", not_empty=True),)).to_pylist() == [True, False, True, True, True, True]
    assert _condition_mask(batch, (Condition("x", equals="b"),)).to_pylist() == [False, False, False, False, True, False]
