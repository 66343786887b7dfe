from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from goodwill.errors import ConfigError, SchemaVersionError, StoreError, StoreLockedError
from goodwill.model import SCHEMA_VERSION, TABLES
from goodwill.store import Store, open_store

UTC = dt.UTC


def _interactions(ids: list[str], customer: str = "c1") -> pa.Table:
    return pa.table(
        {
            "interaction_id": ids,
            "customer_id": [customer] * len(ids),
            "occurred_at": pa.array([dt.datetime(2024, 1, i + 1, tzinfo=UTC) for i in range(len(ids))]),
            "text": [f"text {i}" for i in ids],
        }
    )


def test_every_table_exists(store: Store) -> None:
    assert set(store.counts()) >= set(TABLES)
    assert store.schema_version == SCHEMA_VERSION


def test_append_dedupes_on_natural_key(store: Store) -> None:
    assert store.append("interactions", _interactions(["a", "b", "a"])) == 2
    assert store.append("interactions", _interactions(["a", "b", "c"])) == 1
    assert store.count("interactions") == 3
    rows = store.rows("SELECT interaction_id, text FROM interactions ORDER BY interaction_id")
    assert [r["interaction_id"] for r in rows] == ["a", "b", "c"]


def test_append_without_dedupe_keeps_every_row(store: Store) -> None:
    t = pa.table(
        {"quarantine_id": ["q1", "q2"], "reason": ["x", "y"], "row": ['{"a": 1}', "{}"]}
    )
    assert store.append("quarantine", t, dedupe=False) == 2


def test_append_rejects_unknown_column(store: Store) -> None:
    with pytest.raises(ConfigError, match="has no column"):
        store.append("interactions", pa.table({"interaction_id": ["a"], "nope": [1]}))


def test_append_rejects_missing_required_value(store: Store) -> None:
    t = pa.table({"interaction_id": ["a"], "customer_id": ["c"]})  # occurred_at is required
    with pytest.raises(StoreError, match="occurred_at may not be empty"):
        store.append("interactions", t)
    assert store.count("interactions") == 0


def test_types_round_trip(store: Store) -> None:
    when = dt.datetime(2023, 3, 26, 1, 30, 15, 123456, tzinfo=UTC)
    store.append(
        "subscriptions",
        pa.table(
            {
                "subscription_id": ["s1"],
                "customer_id": ["c1"],
                "price": [29.85],
                "started_at": pa.array([when]),
                "attrs": ['{"tenure": "1", "quote": "it\'s \\"fine\\", really"}'],
            }
        ),
    )
    r = store.rows("SELECT price, started_at, attrs FROM subscriptions")[0]
    assert r["price"] == pytest.approx(29.85)
    assert r["started_at"] == when
    assert "really" in r["attrs"]


def test_query_placeholders_and_literal_question_mark(store: Store) -> None:
    store.append("interactions", _interactions(["a", "b"]))
    n = store.scalar("SELECT count(*) FROM interactions WHERE interaction_id = ? AND 'what?' <> ?", ["a", "x"])
    assert n == 1


def test_scan_streams_in_batches(store: Store) -> None:
    store.append("interactions", _interactions([f"i{i:03d}" for i in range(25)]))
    batches = list(store.scan("SELECT interaction_id FROM interactions ORDER BY interaction_id", batch_size=10))
    assert sum(b.num_rows for b in batches) == 25
    assert len(batches) >= 3


def test_customer_facts_reads_one_customer(store: Store) -> None:
    store.append("interactions", _interactions(["a", "b"], "c1"))
    store.append("interactions", _interactions(["x"], "c2"))
    facts = store.customer_facts(["c1"])
    assert facts["interactions"].column("interaction_id").to_pylist() == ["a", "b"]


def test_optimize_keeps_every_row(store: Store) -> None:
    store.append("interactions", _interactions(["b", "a"], "z"))
    store.append("interactions", _interactions(["c"], "a"))
    store.optimize()
    assert store.count("interactions") == 3
    assert store.append("interactions", _interactions(["a"], "z")) == 0


def test_a_batch_mixing_stored_and_new_keys_adds_only_the_new(store: Store) -> None:
    # PostgreSQL copies a batch of new keys straight into the table and falls back to the
    # de-duplicating path when one is already stored; both must add exactly the new rows.
    assert store.append("interactions", _interactions(["a", "b"], "c1")) == 2
    assert store.append("interactions", _interactions(["b", "c"], "c1")) == 1
    with store.transaction():
        assert store.append("interactions", _interactions(["c", "d"], "c1")) == 1
        assert store.append("interactions", _interactions(["e"], "c1")) == 1
    assert sorted(r["interaction_id"] for r in store.rows("SELECT interaction_id FROM interactions")) == ["a", "b", "c", "d", "e"]


def test_transaction_rolls_back(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.append("interactions", _interactions(["a"]))
        raise RuntimeError("boom")
    assert store.count("interactions") == 0


def test_newer_schema_is_refused(store: Store) -> None:
    store.set_meta("schema_version", str(SCHEMA_VERSION + 1))
    from goodwill.store.migrations import check_and_migrate

    with pytest.raises(SchemaVersionError, match="newer goodwill"):
        check_and_migrate(store)


def test_older_schema_without_migration_is_refused(store: Store) -> None:
    store.set_meta("schema_version", "0")
    from goodwill.store.migrations import check_and_migrate

    with pytest.raises(SchemaVersionError, match="no migration"):
        check_and_migrate(store)


def test_older_schema_is_migrated(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from goodwill.store import migrations

    store.set_meta("schema_version", str(SCHEMA_VERSION - 1))
    calls: list[int] = []
    monkeypatch.setitem(migrations.MIGRATIONS, SCHEMA_VERSION - 1, lambda s: calls.append(1))
    migrations.check_and_migrate(store)
    assert calls == [1]
    assert store.schema_version == SCHEMA_VERSION


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "other.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE customers (x INT)")
    con.close()
    with pytest.raises(SchemaVersionError, match="not made by goodwill"):
        open_store(path)


def test_second_process_gets_a_clear_lock_error(tmp_path: Path) -> None:
    path = tmp_path / "held.duckdb"
    s = open_store(path)
    try:
        code = (
            "import sys\n"
            "from goodwill.store import open_store\n"
            "from goodwill.errors import StoreLockedError\n"
            f"try:\n    open_store({str(path)!r})\nexcept StoreLockedError as e:\n    print(e.message); sys.exit(3)\n"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert out.returncode == 3, out.stderr
        assert "open in another process" in out.stdout
    finally:
        s.close()


def test_lock_error_translation() -> None:
    import duckdb

    from goodwill.store.duck import _translate

    err = _translate(duckdb.IOException('Could not set lock on file "x": Conflicting lock is held in python (PID 42)'), "x")
    assert isinstance(err, StoreLockedError)
    assert "(process 42)" in err.message


def test_unknown_url_scheme() -> None:
    with pytest.raises(ConfigError, match="cannot open a store"):
        open_store("mysql://localhost/x")


def test_missing_folder_is_explained(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="There is no store"):
        open_store(tmp_path / "nope" / "x.duckdb", read_only=True)


@pytest.mark.postgres
def test_postgres_unreachable_is_explained() -> None:
    pytest.importorskip("psycopg")
    with pytest.raises(StoreError, match="Cannot reach PostgreSQL"):
        open_store("postgresql://127.0.0.1:1/nothing")


def test_optimize_keeps_a_table_whose_stored_columns_differ(duck_store: Store) -> None:
    # a table written by an older version of its package has a column the schema no longer has
    duck_store.execute("DROP TABLE consents")
    duck_store.execute(
        "CREATE TABLE consents (consent_id VARCHAR, customer_id VARCHAR, purpose VARCHAR, channel VARCHAR, "
        "state VARCHAR, recorded_at TIMESTAMPTZ, source VARCHAR, evidence VARCHAR, legacy VARCHAR)"
    )
    duck_store.execute(
        "INSERT INTO consents VALUES ('k2', 'c2', 'marketing', 'email', 'granted', now(), 's', 'e', 'old'), "
        "('k1', 'c1', 'marketing', 'email', 'withdrawn', now(), 's', 'e', 'old')"
    )
    duck_store.optimize(["consents"])
    rows = duck_store.rows("SELECT customer_id, legacy FROM consents")
    assert rows == [{"customer_id": "c1", "legacy": "old"}, {"customer_id": "c2", "legacy": "old"}]


def test_person_facts_survive_optimize_and_compact(store: Store) -> None:
    # the DuckDB engine prepares the person query once; table rewrites must not break it
    store.append("interactions", _interactions(["a", "b"], "c1"))
    store.append("interactions", _interactions(["x"], "c2"))
    first = store.person_facts("c1")
    store.optimize()
    assert store.person_facts("c1") == first
    store.compact()
    assert store.person_facts("c1") == first
    store.append("interactions", _interactions(["c"], "c1"))
    ids, facts = store.person_facts("c1")
    assert ids == ["c1"] and sorted(r["interaction_id"] for r in facts["interactions"]) == ["a", "b", "c"]
    # a quote in an id is data, not SQL
    assert store.person_facts("o'brien") == (["o'brien"], {})
