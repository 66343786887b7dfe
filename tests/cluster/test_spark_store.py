"""The Spark store keeps the Store interface's promises: de-duplicating appends, counted
DELETE and UPDATE, all-or-nothing transactions, clear errors."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from goodwill.errors import ConfigError, StoreError
from goodwill.store import Store

pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]
UTC = dt.UTC


def _interactions(ids: list[str], customer: str = "c1") -> pa.Table:
    return pa.table(
        {
            "interaction_id": ids,
            "customer_id": [customer] * len(ids),
            "occurred_at": pa.array(
                [dt.datetime(2024, 1, 1, 9, 30, 15, 123456, tzinfo=UTC) + dt.timedelta(days=i) for i in range(len(ids))]
            ),
            "text": [f"text {i}" for i in ids],
        }
    )


def test_appends_dedupe_on_the_natural_key_and_keep_microseconds(spark_store: Store) -> None:
    assert spark_store.engine == "spark"
    assert spark_store.append("interactions", _interactions(["a", "b", "a"])) == 2
    assert spark_store.append("interactions", _interactions(["a", "b", "c"])) == 1
    assert spark_store.append("interactions", _interactions(["c"]), dedupe=False) == 1
    rows = spark_store.rows("SELECT interaction_id, occurred_at FROM interactions ORDER BY interaction_id")
    assert [r["interaction_id"] for r in rows] == ["a", "b", "c", "c"]
    assert rows[0]["occurred_at"] == dt.datetime(2024, 1, 1, 9, 30, 15, 123456, tzinfo=UTC)


def test_delete_and_update_say_how_many_rows_they_changed(spark_store: Store) -> None:
    spark_store.append("interactions", _interactions(["a", "b", "c", "d"]))
    assert spark_store.execute("UPDATE interactions SET channel = ?, text = NULL WHERE interaction_id IN (?, ?)", ["chat", "a", "b"]) == 2
    assert spark_store.execute("DELETE FROM interactions WHERE interaction_id = ?", ["c"]) == 1
    assert spark_store.execute("DELETE FROM interactions WHERE interaction_id = ?", ["nobody"]) == 0
    rows = spark_store.rows("SELECT interaction_id, channel, text FROM interactions ORDER BY interaction_id")
    assert rows == [
        {"interaction_id": "a", "channel": "chat", "text": None},
        {"interaction_id": "b", "channel": "chat", "text": None},
        {"interaction_id": "d", "channel": None, "text": "text d"},
    ]


def test_a_failed_transaction_leaves_the_tables_as_they_were(spark_store: Store) -> None:
    spark_store.append("interactions", _interactions(["a", "b"]))
    before = spark_store.rows("SELECT * FROM interactions ORDER BY interaction_id")
    with pytest.raises(RuntimeError, match="stop here"), spark_store.transaction():
        spark_store.append("interactions", _interactions(["c"]))
        spark_store.execute("DELETE FROM interactions WHERE interaction_id = 'a'")
        spark_store.append("interactions", _interactions(["e"]))
        spark_store.execute("UPDATE interactions SET text = 'changed'")
        spark_store.set_meta("gw_test", "inside")
        assert spark_store.count("interactions") == 3
        assert spark_store.execute("DELETE FROM interactions") == 3
        assert spark_store.count("interactions") == 0
        raise RuntimeError("stop here")
    assert spark_store.rows("SELECT * FROM interactions ORDER BY interaction_id") == before
    assert spark_store.get_meta("gw_test") is None
    # A transaction that ends well keeps everything.
    with spark_store.transaction():
        spark_store.execute("DELETE FROM interactions WHERE interaction_id = 'a'")
        spark_store.append("interactions", _interactions(["f"]))
    assert [r["interaction_id"] for r in spark_store.rows("SELECT interaction_id FROM interactions ORDER BY 1")] == ["b", "f"]


def test_errors_name_the_problem_and_the_fix(spark_store: Store) -> None:
    with pytest.raises(ConfigError, match="has no column"):
        spark_store.append("interactions", pa.table({"interaction_id": ["a"], "nope": [1]}))
    with pytest.raises(StoreError, match="Spark error") as err:
        spark_store.query("SELECT no_such_column FROM interactions")
    assert err.value.hint and "compiled" in err.value.hint
    with pytest.raises(StoreError, match="cannot run DROP"):
        spark_store.execute("DROP TABLE interactions")
