"""De-duplication on append when the store only looks at the batch's range of keys.

DuckDB's append compares a batch with the stored rows whose first key column lies between the
batch's lowest and highest key, so the edges of that range and the order strings sort in are
what can go wrong: a stored key missed there would be stored twice.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pyarrow as pa
import pytest

from goodwill.store import Store

UTC = dt.UTC

# Sorted as DuckDB compares strings (byte by byte): "a10" < "a100" < "a9", "B" < "a",
# "" first, multi-byte UTF-8 after ASCII.
ODD_KEYS = ["", "B", "a", "a10", "a100", "a9", "z", "é", "ä", "日本", "🙂"]


def _interactions(ids: list[str], tag: str = "first") -> pa.Table:
    return pa.table(
        {
            "interaction_id": ids,
            "customer_id": [f"c{i % 7}" for i in range(len(ids))],
            "occurred_at": pa.array([dt.datetime(2024, 1, 1, tzinfo=UTC) + dt.timedelta(minutes=i) for i in range(len(ids))]),
            "text": [tag] * len(ids),
        }
    )


def _ids(store: Store) -> list[str]:
    return [r["interaction_id"] for r in store.rows("SELECT interaction_id FROM interactions")]


def _texts(store: Store) -> dict[str, str]:
    return {r["interaction_id"]: r["text"] for r in store.rows("SELECT interaction_id, text FROM interactions")}


def test_stored_keys_at_the_edges_of_the_batch_range_are_not_added_again(store: Store) -> None:
    assert store.append("interactions", _interactions(["k05", "k10", "k15"])) == 3
    # The batch's lowest and highest keys are both stored: an exclusive range would miss them.
    assert store.append("interactions", _interactions(["k10", "k07", "k05"], "second")) == 1
    assert sorted(_ids(store)) == ["k05", "k07", "k10", "k15"]
    texts = _texts(store)
    assert texts["k05"] == texts["k10"] == "first"  # first write wins
    assert texts["k07"] == "second"


def test_range_is_the_batch_lowest_and_highest_not_its_first_and_last_row(store: Store) -> None:
    # In string order "a10" < "a11" < "a5" < "a9": bounds taken from the batch's first and last
    # rows ("a5", "a11") would select no stored row at all.
    assert store.append("interactions", _interactions(["a10", "a9"])) == 2
    assert store.append("interactions", _interactions(["a5", "a10", "a9", "a11"], "second")) == 2
    assert sorted(_ids(store)) == ["a10", "a11", "a5", "a9"]
    assert _texts(store)["a9"] == "first"


def test_range_compares_as_the_batch_bounds_were_found(store: Store) -> None:
    # Byte order: "B" < "Z" < "a"; ignoring case, "B" would sort after "a" and a range from
    # "B" to "a" would hold nothing.
    assert store.append("interactions", _interactions(["B", "a"])) == 2
    assert store.append("interactions", _interactions(["Z", "a", "B"], "second")) == 1
    assert sorted(_ids(store)) == ["B", "Z", "a"]
    assert _texts(store)["a"] == _texts(store)["B"] == "first"


@pytest.mark.parametrize("sort_first", [False, True], ids=["as appended", "after optimize"])
def test_keys_that_sort_oddly_as_strings_interleave_stored_ones(store: Store, sort_first: bool) -> None:
    stored, fresh = ODD_KEYS[::2], ODD_KEYS[1::2]
    assert store.append("interactions", _interactions(stored)) == len(stored)
    if sort_first:
        store.optimize()
    # Every key, stored or not, in an order that is not the sort order; each repeated once.
    batch = list(reversed(ODD_KEYS)) + ODD_KEYS[3:6]
    assert store.append("interactions", _interactions(batch, "second")) == len(fresh)
    assert sorted(_ids(store)) == sorted(ODD_KEYS)
    texts = _texts(store)
    assert {k for k, v in texts.items() if v == "first"} == set(stored)
    # Nothing more to add, from the same batch or from each key alone.
    assert store.append("interactions", _interactions(batch, "third")) == 0
    for k in ODD_KEYS:
        assert store.append("interactions", _interactions([k], "third")) == 0
    assert store.count("interactions") == len(ODD_KEYS)


@pytest.mark.parametrize("sort_first", [False, True], ids=["as appended", "after optimize"])
def test_batches_across_many_row_groups(store: Store, sort_first: bool) -> None:
    # Enough rows for several of DuckDB's row groups (16,384 rows), keys not zero-padded so
    # that their string order is not their numeric order.
    n = 60_000
    for start in range(0, n, 20_000):
        assert store.append("interactions", _interactions([f"i{i}" for i in range(start, start + 20_000)])) == 20_000
    if sort_first:
        store.optimize()
    # Stored keys from the first and the last row groups, around them new ones, and a key of
    # every length of number.
    old = [f"i{i}" for i in (0, 1, 9, 10, 99, 100, 999, 1000, 9999, 10000, 16383, 16384, 59999)]
    new = [f"i{i}" for i in (60000, 65536, 100000, 599990)] + ["i", "i-1", "i00", "h9", "j0"]
    batch = [x for pair in itertools.zip_longest(old, new) for x in pair if x is not None]
    assert store.append("interactions", _interactions(batch, "second")) == len(new)
    assert store.count("interactions") == n + len(new)
    texts = _texts(store)
    assert all(texts[k] == "first" for k in old)
    assert all(texts[k] == "second" for k in new)


def test_multi_column_key_is_ranged_on_its_first_column(store: Store) -> None:
    def idents(rows: list[tuple[str, str, str]], source: str) -> pa.Table:
        return pa.table(
            {
                "customer_id": [r[0] for r in rows],
                "kind": [r[1] for r in rows],
                "value": [r[2] for r in rows],
                "source": [source] * len(rows),
            }
        )

    stored = [("c1", "email", "a@x"), ("c5", "phone", "1"), ("c9", "email", "b@x")]
    assert store.append("identifiers", idents(stored, "first")) == 3
    batch = [
        ("c5", "phone", "1"),  # stored, inside the range
        ("c1", "email", "a@x"),  # stored, the range's lowest customer
        ("c9", "email", "b@x"),  # stored, the range's highest customer
        ("c5", "email", "1"),  # same customer and value, other kind: new
        ("c1", "email", "A@x"),  # same customer and kind, other value: new
        ("c10", "email", "a@x"),  # "c10" sorts between "c1" and "c5": new
        ("c10", "email", "a@x"),  # repeated within the batch
    ]
    assert store.append("identifiers", idents(batch, "second")) == 3
    rows = store.rows("SELECT customer_id, kind, value, source FROM identifiers")
    got = {(r["customer_id"], r["kind"], r["value"]): r["source"] for r in rows}
    assert len(rows) == 6
    assert {k for k, v in got.items() if v == "first"} == set(stored)
    assert {k for k, v in got.items() if v == "second"} == {("c5", "email", "1"), ("c1", "email", "A@x"), ("c10", "email", "a@x")}


def test_append_inside_a_transaction_sees_rows_written_earlier_in_it(store: Store) -> None:
    assert store.append("interactions", _interactions(["t1", "t3"])) == 2
    with store.transaction():
        assert store.append("interactions", _interactions(["t2", "t4"], "second")) == 2
        assert store.append("interactions", _interactions(["t4", "t3", "t2", "t5"], "third")) == 1
    assert sorted(_ids(store)) == ["t1", "t2", "t3", "t4", "t5"]
    assert _texts(store)["t4"] == "second"
