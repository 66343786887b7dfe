"""PostgreSQL erasure: one partition per table rewritten, and no row kept for an older transaction."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from tests.conftest import _PG_REASON, PG_URL
from tests.rights.helpers import SECRET_ID, build
from tests.rights.test_erasure_bytes import TABLES_PG, _add_long_message, _found, _pg_files

from goodwill.errors import StoreError
from goodwill.rights import erase_person, resume_jobs
from goodwill.store import open_store
from goodwill.store.pg import PostgresStore

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(_PG_REASON is not None, reason=str(_PG_REASON)),
]


@pytest.fixture
def pg() -> Iterator[PostgresStore]:
    s = open_store(f"{PG_URL}?schema=gw_test_{uuid.uuid4().hex[:12]}&partitions=8")
    assert isinstance(s, PostgresStore)
    try:
        build(s, others=400)
        _add_long_message(s)
        s.execute("CHECKPOINT")
        yield s
    finally:
        s.drop_schema()
        s.close()


def _filenodes(store: PostgresStore, table: str) -> dict[str, int]:
    rows = store.rows(
        "SELECT CAST(relid AS TEXT) AS r, pg_relation_filenode(relid) AS f FROM pg_partition_tree(?) WHERE isleaf", [table]
    )
    return {str(r["r"]): int(r["f"]) for r in rows}


def test_only_the_persons_partitions_are_rewritten(pg: PostgresStore) -> None:
    assert pg.layout("interactions") == "keyed" and pg.layout("customers") == "partitioned"
    before = _filenodes(pg, "interactions")
    assert len(before) == 8
    holding = set(pg.relations_of("interactions", "customer_id IN (?, ?)", [SECRET_ID, "TW-99"]))
    assert 1 <= len(holding) <= 2
    erase_person(pg, "TW-99")
    after = _filenodes(pg, "interactions")
    changed = {r for r in before if before[r] != after[r]}
    assert changed == holding
    assert _found(_pg_files(pg, TABLES_PG)) == []


def _hold_old_transaction() -> psycopg.Connection:
    """Another session with a transaction open since before the erasure (on another table)."""
    con = psycopg.connect(PG_URL)
    con.execute("SELECT txid_current()")
    return con


def test_compaction_waits_for_an_older_transaction(pg: PostgresStore) -> None:
    holder = _hold_old_transaction()
    done: list[object] = []
    t = threading.Thread(target=lambda: done.append(erase_person(pg, "TW-99")))
    t.start()
    time.sleep(1.0)
    # Still waiting: without the wait, VACUUM FULL would copy the rows into the new files.
    assert not done
    holder.rollback()
    holder.close()
    t.join(60)
    assert done
    assert _found(_pg_files(pg, TABLES_PG)) == []


def test_compaction_gives_up_clearly_and_resumes(pg: PostgresStore) -> None:
    pg.compact_wait_s = 0.3
    holder = _hold_old_transaction()
    try:
        with pytest.raises(StoreError, match="rights resume") as err:
            erase_person(pg, "TW-99")
        assert "pid" in str(err.value)
        # The rows are gone from every query already; only their files wait.
        assert pg.count("interactions") == 400 * 4
    finally:
        holder.rollback()
        holder.close()
    [result] = resume_jobs(pg)
    assert result.rows["interactions"] == 21
    assert _found(_pg_files(pg, TABLES_PG)) == []
