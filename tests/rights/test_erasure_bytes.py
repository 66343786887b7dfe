"""The erased person's bytes are gone from the files themselves, not only from query results."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.rights.helpers import SECRET_EMAIL, SECRET_ID, SECRET_TEXT, build

from goodwill.errors import StoreError
from goodwill.rights import erase_person
from goodwill.store import Store

NEEDLES = (SECRET_TEXT.encode(), SECRET_EMAIL.encode(), SECRET_ID.encode())


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
        rel = store.scalar("SELECT pg_relation_filepath(?)", [t])
        idx = store.rows(
            "SELECT pg_relation_filepath(indexrelid) AS f FROM pg_index WHERE indrelid = CAST(? AS regclass)", [t]
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


def _found(files: list[Path]) -> list[str]:
    hits = []
    for f in files:
        data = f.read_bytes()
        hits += [f"{f.name}: {n.decode()}" for n in NEEDLES if n in data]
    return hits


TABLES = ["customers", "identifiers", "interactions", "promises", "consents", "customer_links", "quarantine", "rights_jobs"]


def test_duckdb_file_holds_no_trace(duck_store: Store) -> None:
    build(duck_store, others=2000)
    duck_store.execute("CHECKPOINT")
    # Without the positive control a search that can never match would pass.
    before = _found(_duck_files(duck_store))
    assert any(SECRET_ID in h for h in before) and any(SECRET_EMAIL in h for h in before)
    duck_store.execute(f"DELETE FROM interactions WHERE customer_id = '{SECRET_ID}'")
    duck_store.execute("CHECKPOINT")
    assert _found(_duck_files(duck_store)), "DELETE + CHECKPOINT alone left no trace: the test would prove nothing"
    erase_person(duck_store, "TW-99")
    assert duck_store.scalar("SELECT count(*) FROM interactions WHERE customer_id = 'TW-99'") == 0
    assert _found(_duck_files(duck_store)) == []
    # The store still works after the file was swapped.
    assert duck_store.count("customers") == 2000


@pytest.mark.postgres
def test_postgres_files_hold_no_trace(store: Store) -> None:
    if store.engine != "postgres":
        pytest.skip("PostgreSQL only")
    build(store, others=2000)
    store.execute("CHECKPOINT")
    files = _pg_files(store, TABLES)
    assert any(SECRET_TEXT in h for h in _found(files))
    erase_person(store, "TW-99")
    # VACUUM FULL gives each table new files; look at the current ones and the old ones.
    new_files = _pg_files(store, TABLES)
    assert _found(new_files) == []
    assert _found([f for f in files if f.exists()]) == []
