"""Numbers read the same in the goodwill ledger on every engine: a review's score (DuckDB wrote
5.0 where PostgreSQL wrote 5) and a rounded sentiment (DuckDB rounded twice: 0.2549 gave 0.26,
0.25 on PostgreSQL)."""

from __future__ import annotations

from goodwill.measure import goodwill_ledger as gl
from goodwill.store import Store

from .helpers import contact, day, put, unhappy

SCORES = {"e1": 5.0, "e2": 4.5, "e3": 1.0, "e4": 2.0, "e5": 1.1, "e6": 1.9999999999999998, "e7": 4.0}


def test_review_scores_are_written_alike_on_every_engine(store: Store) -> None:
    put(
        store,
        "events",
        [
            {"event_id": eid, "customer_id": f"c{i}", "kind": "reviewed", "occurred_at": day(i), "value": v}
            for i, (eid, v) in enumerate(SCORES.items())
        ],
    )
    gl.build_goodwill(store, as_of=day(30))
    rows = store.rows(
        "SELECT fact_id, kind, reason, detail FROM goodwill_entries WHERE fact_table = 'events' ORDER BY fact_id"
    )
    text = {"e1": "5", "e2": "4.5", "e3": "1", "e4": "2", "e5": "1.1", "e6": "1.9999999999999998", "e7": "4"}
    assert {r["fact_id"]: r["detail"] for r in rows} == {k: f"score {t}" for k, t in text.items()}
    assert all(r["reason"].endswith(f" ({text[r['fact_id']]})") for r in rows)
    assert {r["fact_id"] for r in rows if r["kind"] == "review_good"} == {"e1", "e2", "e7"}


def test_number_text_keeps_what_is_not_a_whole_number(store: Store) -> None:
    sql = ", ".join(
        f"{gl.number_text(f'CAST({v} AS DOUBLE PRECISION)')} AS v{i}"
        for i, v in enumerate(["-0.0", "-3.0", "0.25", "123456789.0", "123456789.5", "1e-07", "999999999999999.0"])
    )
    got = list(store.rows(f"SELECT {sql}")[0].values())
    assert got == ["0", "-3", "0.25", "123456789", "123456789.5", "1e-07", "999999999999999"]


def test_sentiment_is_rounded_once_on_every_engine(store: Store) -> None:
    # Each is a little under a half-hundredth: rounded to three places first, it rounds up.
    scores = {"i1": -0.9548741438888229, "i2": -0.1449, "i3": 0.5549, "i4": -0.6}
    put(store, "interactions", [contact(iid, f"c{n}", day(n)) for n, iid in enumerate(scores)])
    put(store, "enrichments", [unhappy(iid, f"c{n}", day(n), score=v) for n, (iid, v) in enumerate(scores.items())])
    gl.build_goodwill(store, as_of=day(30))
    rows = store.rows("SELECT fact_id, detail FROM goodwill_entries WHERE fact_table = 'interactions'")
    assert {r["fact_id"]: r["detail"] for r in rows} == {
        "i1": "sentiment -0.95 by test",
        "i2": "sentiment -0.14 by test",
        "i3": "sentiment 0.55 by test",
        "i4": "sentiment -0.60 by test",
    }


def test_decimal_text_rounds_a_double_once(store: Store) -> None:
    cases = [("0.2549", 2, "0.25"), ("0.04999", 1, "0.0"), ("12.0", 2, "12.00"), ("-0.014871466378840514", 2, "-0.01"), ("1234.565", 2, "1234.57")]
    sql = ", ".join(f"{gl.decimal_text(f'CAST({v} AS DOUBLE PRECISION)', n)} AS v{i}" for i, (v, n, _) in enumerate(cases))
    assert list(store.rows(f"SELECT {sql}")[0].values()) == [want for _, _, want in cases]
