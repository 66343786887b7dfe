"""The erased person's bytes are gone from the files themselves, not only from query results."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest
from tests.rights.helpers import SECRET_EMAIL, SECRET_ID, SECRET_TEXT, T0, build

from goodwill.errors import StoreError
from goodwill.model import TABLES
from goodwill.rights import (
    PERSONAL_TABLES,
    compact_store,
    create_request,
    erase_person,
    fulfil_request,
    get_request,
    register_personal_table,
    verify_identity,
)
from goodwill.store import Store, duck_erase, open_store

# Short values at the ends of a column are what DuckDB's min/max statistics keep (their first
# 12 bytes), so the person's whole short id, handle and name are needles too.
NEEDLES = (
    SECRET_TEXT,
    SECRET_EMAIL,
    SECRET_ID,
    SECRET_ID[:12],  # a statistic's prefix of the id
    "TW-99",  # their other record: the largest customer id of several tables
    "@plinkett99",  # the smallest display name
    "Zyx Plinkett",  # the largest display name
    "plinkett99",
    "Xylophonic",  # only in their long message, which DuckDB stores apart from short strings
)
LONG_TEXT = "Xylophonic " + "late parcel again, " * 1500


def _duck_files(store: Store) -> list[Path]:
    p = Path(store.path)  # type: ignore[attr-defined]
    return [f for f in (p, Path(str(p) + ".wal")) if f.exists()]


def _pg_files(store: Store, tables: list[str]) -> list[Path]:
    try:
        root = Path(str(store.scalar("SELECT current_setting('data_directory')")))
    except StoreError:
        pytest.skip("this PostgreSQL role may not read data_directory")
    files = []
    for t in tables:
        # A partitioned table has no files of its own: its partitions (and their indexes) do.
        # (pg_partition_tree lists nothing for a plain table: then the table is its own file.)
        rels = [str(r["r"]) for r in store.rows("SELECT CAST(relid AS TEXT) AS r FROM pg_partition_tree(?) WHERE isleaf", [t])] or [t]
        for rel_name in rels:
            rel = store.scalar("SELECT pg_relation_filepath(?)", [rel_name])
            # Its indexes, its TOAST table (long values) and the TOAST table's index.
            idx = store.rows(
                "SELECT pg_relation_filepath(i.indexrelid) AS f FROM pg_index i WHERE i.indrelid IN "
                "(SELECT CAST(? AS regclass) UNION SELECT reltoastrelid FROM pg_class WHERE oid = CAST(? AS regclass)) "
                "UNION SELECT pg_relation_filepath(reltoastrelid) FROM pg_class WHERE oid = CAST(? AS regclass) AND reltoastrelid <> 0",
                [rel_name, rel_name, rel_name],
            )
            for f in [rel, *(r["f"] for r in idx)]:
                base = root / str(f)
                files += [p for p in base.parent.glob(base.name + "*") if p.name == base.name or p.name.startswith(base.name + ".")]
    if not files or not all(f.exists() for f in files):
        pytest.skip(f"cannot read PostgreSQL's files under {root} from this process")
    try:
        files[0].read_bytes()
    except PermissionError:
        pytest.skip(f"no permission to read PostgreSQL's files under {root}")
    return files


def _found(files: list[Path], needles: tuple[str, ...] = NEEDLES) -> list[str]:
    hits = []
    for f in files:
        data = f.read_bytes()
        hits += [f"{f.name}: {n}" for n in needles if n.encode() in data]
    return hits


def _add_long_message(store: Store) -> None:
    store.append(
        "interactions",
        pa.Table.from_pylist(
            [{"interaction_id": "plong", "customer_id": SECRET_ID, "occurred_at": T0 + dt.timedelta(days=40),
              "channel": "email", "direction": "inbound", "text": LONG_TEXT}]
        ),
    )


def _readable(path: Path) -> dict[str, int]:
    """Every table of the file read in full by a fresh process-level open (no cached blocks)."""
    with open_store(path) as s:
        return {t: len(s.rows(f"SELECT * FROM {t}")) for t in TABLES if s.table_exists(t)}


@pytest.mark.parametrize("compression", ["auto", "uncompressed"])
def test_duckdb_file_holds_no_trace(tmp_path: Path, compression: str) -> None:
    # Uncompressed storage keeps every value as plain bytes, so there the search cannot miss a
    # value that compression disguised.
    path = tmp_path / "store.duckdb"
    store = open_store(path)
    try:
        store.con.execute(f"SET force_compression = '{compression}'")  # type: ignore[attr-defined]
        build(store, others=2000)
        _add_long_message(store)
        store.optimize()  # sorted tables and the person documents, as in use
        store.execute("CHECKPOINT")
        # Without the positive control a search that can never match would pass.
        before = _found(_duck_files(store))
        assert len({h.split(": ", 1)[1] for h in before}) >= (len(NEEDLES) if compression == "uncompressed" else 5), before
        store.execute("DELETE FROM interactions WHERE customer_id = 'TW-99'")
        store.execute("CHECKPOINT")
        assert _found(_duck_files(store)), "DELETE + CHECKPOINT alone left no trace: the test would prove nothing"

        # Their request holds them too until the erasure overwrites it (the erasure updates rows
        # there instead of deleting them).
        req = create_request(store, "TW-99", "erasure", details={"said": f"please forget {SECRET_TEXT}"})
        verify_identity(store, req.request_id, "account login")
        fulfil_request(store, req.request_id)
        assert store.last_compaction["mode"] == "in place", store.last_compaction  # type: ignore[attr-defined]
        assert get_request(store, req.request_id).status == "completed"
        assert store.scalar("SELECT count(*) FROM interactions WHERE customer_id IN ('TW-99', ?)", [SECRET_ID]) == 0
        assert _found(_duck_files(store)) == []
        # The store still works, and keeps everyone else.
        assert store.count("customers") == 2000 and store.count("interactions") == 8000
    finally:
        store.close()
    counts = _readable(path)
    assert counts["customers"] == 2000 and counts["interactions"] == 8000


def test_duckdb_batch_then_one_compaction(tmp_path: Path) -> None:
    path = tmp_path / "store.duckdb"
    with open_store(path) as store:
        store.con.execute("SET force_compression = 'uncompressed'")  # type: ignore[attr-defined]
        build(store, others=500)
        store.optimize()
        erase_person(store, "TW-99", compact=False)
        erase_person(store, "C0007", compact=False)
        # Rows are gone at once; the bytes wait for the compaction.
        assert store.scalar("SELECT count(*) FROM customers WHERE customer_id IN ('C0007', 'TW-99')") == 0
        assert _found(_duck_files(store))
        compact_store(store)
        assert store.last_compaction["mode"] == "in place"  # type: ignore[attr-defined]
        assert _found(_duck_files(store), (*NEEDLES, "other7@example.com")) == []
        assert all(r["result"].count('"compacted": true') for r in store.rows("SELECT result FROM rights_jobs"))
    assert _readable(path)["customers"] == 499


def test_duckdb_second_erasure_after_rowids_have_gaps(tmp_path: Path) -> None:
    # The first erasure drops whole row groups; DuckDB keeps the later rows' rowids, so the
    # table's rowids have gaps when the second one runs.
    path = tmp_path / "store.duckdb"
    with open_store(path) as store:
        store.con.execute("SET force_compression = 'uncompressed'")  # type: ignore[attr-defined]
        build(store, others=3000)
        store.optimize()
        erase_person(store, "TW-99")
        assert store.scalar("SELECT min(rowid) FROM customers") > 0
        needles = ("other1234@example.com", "Other 1234", "C1234")
        assert len(_found(_duck_files(store), needles)) == len(needles)
        erase_person(store, "C1234")
        assert store.last_compaction["mode"] == "in place"  # type: ignore[attr-defined]
        assert _found(_duck_files(store), (*NEEDLES, *needles)) == []
    assert _readable(path)["customers"] == 2999


def test_duckdb_keyed_table_of_the_person_falls_back_to_a_fresh_file(tmp_path: Path) -> None:
    # A table with a primary key has an ART index, which keeps deleted keys' bytes in blocks
    # that stay in use: the erasure still deletes, and the compaction copies the database.
    path = tmp_path / "store.duckdb"
    with open_store(path) as store:
        store.con.execute("SET force_compression = 'uncompressed'")  # type: ignore[attr-defined]
        build(store, others=200)
        store.execute("CREATE TABLE test_keyed_notes (customer_id VARCHAR PRIMARY KEY, note VARCHAR)")
        store.execute(f"INSERT INTO test_keyed_notes VALUES ('TW-99', 'likes {SECRET_TEXT}'), ('C0001', 'other')")
        register_personal_table("test_keyed_notes", columns=("customer_id",))
        try:
            erase_person(store, "TW-99")
        finally:
            PERSONAL_TABLES.pop("test_keyed_notes", None)
        assert store.last_compaction["mode"] == "copy"  # type: ignore[attr-defined]
        assert store.rows("SELECT customer_id FROM test_keyed_notes") == [{"customer_id": "C0001"}]
        assert _found(_duck_files(store)) == []
    assert _readable(path)["customers"] == 200


def test_duckdb_falls_back_to_a_fresh_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object) -> dict[str, int]:
        raise duck_erase.ScrubUnavailable("refused by the test")

    monkeypatch.setattr(duck_erase, "scrub_file", refuse)
    path = tmp_path / "store.duckdb"
    with open_store(path) as store:
        store.con.execute("SET force_compression = 'uncompressed'")  # type: ignore[attr-defined]
        build(store, others=200)
        erase_person(store, "TW-99")
        assert store.last_compaction == {"mode": "copy", "why": "refused by the test"}  # type: ignore[attr-defined]
        assert _found(_duck_files(store)) == []
    assert _readable(path)["customers"] == 200


def test_duckdb_scrub_interrupted_after_its_journal_is_finished_on_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "store.duckdb"
    store = open_store(path)
    con = store.con  # type: ignore[attr-defined]
    con.execute("SET force_compression = 'uncompressed'")
    build(store, others=300)
    erase_person(store, "TW-99", compact=False)
    # The in-place compaction, step by step, up to the file surgery.
    with duck_erase.metadata_reuse_off(con):
        con.execute("CREATE TABLE mark (x INTEGER)")
        con.execute("CHECKPOINT")
        snap = duck_erase.snapshot(con)
    store.close()
    real_apply = duck_erase._apply

    def die_half_way(fd: int, new_blocks: dict[int, bytes], block_size: int) -> None:
        # The journal is on disk; one block is half written, then the process dies.
        block, data = next(iter(new_blocks.items()))
        real_apply(fd, {block: data[: len(data) // 2]}, block_size)
        raise KeyboardInterrupt

    monkeypatch.setattr(duck_erase, "_apply", die_half_way)
    with pytest.raises(KeyboardInterrupt):
        duck_erase.scrub_file(path, snap)
    monkeypatch.undo()
    assert duck_erase.journal_path(path).exists()
    # The next open finishes the scrub from the journal before DuckDB reads a block.
    assert _readable(path)["customers"] == 300
    assert not duck_erase.journal_path(path).exists()
    assert _found(_duck_files(store)) == []


def test_duckdb_torn_journal_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "store.duckdb"
    with open_store(path) as s:
        build(s, others=50)
    duck_erase.journal_path(path).write_bytes(b"GWSCRUB1" + b"\x01" * 40)
    with open_store(path) as s:
        assert s.count("customers") == 52
    assert not duck_erase.journal_path(path).exists()


def test_checksum_is_duckdbs(tmp_path: Path) -> None:
    # The scrub only rewrites blocks whose checksum it reproduces; check it does on real blocks.
    path = tmp_path / "store.duckdb"
    with open_store(path) as s:
        build(s, others=100)
        s.execute("CHECKPOINT")
    data = path.read_bytes()
    size = 262_144
    blocks = (len(data) - duck_erase.BLOCKS_START) // size
    assert blocks >= 2
    for b in range(blocks):
        block = data[duck_erase.BLOCKS_START + b * size : duck_erase.BLOCKS_START + (b + 1) * size]
        assert duck_erase.checksum(block[8:]) == int.from_bytes(block[:8], "little")


TABLES_PG = ["customers", "identifiers", "interactions", "promises", "consents", "customer_links", "quarantine", "rights_jobs"]


@pytest.mark.postgres
def test_postgres_files_hold_no_trace(store: Store) -> None:
    if store.engine != "postgres":
        pytest.skip("PostgreSQL only")
    build(store, others=2000)
    _add_long_message(store)
    store.execute("CHECKPOINT")
    files = _pg_files(store, TABLES_PG)
    assert any(SECRET_TEXT in h for h in _found(files))
    erase_person(store, "TW-99")
    # VACUUM FULL gives each table new files; look at the current ones and the old ones.
    new_files = _pg_files(store, TABLES_PG)
    assert _found(new_files) == []
    assert _found([f for f in files if f.exists()]) == []
