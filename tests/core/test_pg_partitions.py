"""PostgreSQL's partitioned layout: keys stay unique across partitions, whatever writes the rows."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pyarrow as pa
import pytest
from tests.conftest import _PG_REASON, PG_URL

from goodwill.errors import ConfigError, StoreError
from goodwill.store import open_store
from goodwill.store.pg import PostgresStore

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(_PG_REASON is not None, reason=str(_PG_REASON))]

T0 = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)


@pytest.fixture
def pg() -> Iterator[PostgresStore]:
    s = open_store(f"{PG_URL}?schema=gw_test_{uuid.uuid4().hex[:12]}&partitions=4")
    assert isinstance(s, PostgresStore)
    try:
        yield s
    finally:
        s.drop_schema()
        s.close()


def _rows(*pairs: tuple[str, str | None]) -> pa.Table:
    return pa.Table.from_pylist(
        [{"interaction_id": i, "customer_id": c, "occurred_at": T0, "text": f"message {i}"} for i, c in pairs]
    )


def _ids(pg: PostgresStore) -> list[tuple[str, str | None]]:
    return [(r["interaction_id"], r["customer_id"]) for r in pg.rows("SELECT interaction_id, customer_id FROM interactions ORDER BY 1")]


def test_layouts_and_partitions(pg: PostgresStore) -> None:
    pg.append("interactions", _rows(("a", "c1")))
    pg.append("customers", pa.Table.from_pylist([{"customer_id": "c1"}]))
    pg.append("plans", pa.Table.from_pylist([{"plan_id": "p1"}]))
    assert (pg.layout("interactions"), pg.layout("customers"), pg.layout("plans")) == ("keyed", "partitioned", "flat")
    n = pg.scalar("SELECT count(*) FROM pg_inherits WHERE inhparent = CAST('interactions' AS regclass)")
    assert n == 4


def test_a_stored_key_is_not_added_again_whichever_customer(pg: PostgresStore) -> None:
    assert pg.append("interactions", _rows(("a", "c1"), ("b", "c2"), ("n", None))) == 3
    # Same id under another customer (another partition), and again with no customer.
    assert pg.append("interactions", _rows(("a", "c9"), ("n", None), ("d", "c1"))) == 1
    assert pg.append("interactions", _rows(("e", "c1"), ("e", "c3"), ("b", "c2"))) == 1
    assert _ids(pg) == [("a", "c1"), ("b", "c2"), ("d", "c1"), ("e", "c1"), ("n", None)]


def test_deleted_rows_come_back_and_moved_rows_stay_known(pg: PostgresStore) -> None:
    pg.append("interactions", _rows(("a", "c1"), ("r", None)))
    pg.execute("DELETE FROM interactions WHERE interaction_id = 'a'")
    assert pg.append("interactions", _rows(("a", "c2"))) == 1
    # A reply whose customer is filled in moves partition; its key still holds.
    pg.execute("UPDATE interactions SET customer_id = 'c2' WHERE interaction_id = 'r'")
    assert pg.append("interactions", _rows(("r", None))) == 0
    assert _ids(pg) == [("a", "c2"), ("r", "c2")]


def test_rows_written_by_sql_are_known_and_repeats_fail(pg: PostgresStore) -> None:
    pg.append("interactions", _rows(("a", "c1")))
    pg.execute("INSERT INTO interactions (interaction_id, customer_id, occurred_at) VALUES ('s', 'c5', ?)", [T0])
    assert pg.append("interactions", _rows(("s", "c6"))) == 0
    with pytest.raises(StoreError, match="duplicate key"):
        pg.execute("INSERT INTO interactions (interaction_id, customer_id, occurred_at) VALUES ('a', 'c7', ?)", [T0])
    with pytest.raises(StoreError, match="duplicate key"):
        pg.append("interactions", _rows(("z", "c1"), ("z", "c2")), dedupe=False)
    assert _ids(pg) == [("a", "c1"), ("s", "c5")]


def test_truncate_forgets_and_rebuild_keys(pg: PostgresStore) -> None:
    pg.append("interactions", _rows(("a", "c1"), ("b", "c2")))
    pg.execute("TRUNCATE interactions")
    assert pg.append("interactions", _rows(("a", "c1"))) == 1
    pg.execute("TRUNCATE _gw_keys_interactions")  # as a restore with triggers off leaves it
    assert pg.rebuild_keys("interactions") == 1
    assert pg.append("interactions", _rows(("a", "c3"))) == 0
    with pytest.raises(StoreError, match="not a keyed"):
        pg.rebuild_keys("customers")


def test_plain_tables_on_request_and_a_bad_count() -> None:
    s = open_store(f"{PG_URL}?schema=gw_test_{uuid.uuid4().hex[:12]}&partitions=0")
    assert isinstance(s, PostgresStore)
    try:
        s.append("interactions", _rows(("a", "c1")))
        assert s.layout("interactions") == "flat"
        assert s.append("interactions", _rows(("a", "c2"), ("b", "c2"))) == 1
    finally:
        s.drop_schema()
        s.close()
    with pytest.raises(ConfigError, match="partitions"):
        open_store(f"{PG_URL}?schema=gw_x&partitions=many")
