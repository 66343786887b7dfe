"""Shared fixtures: every store test runs on DuckDB and on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from goodwill.store import Store, open_store

REPO = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("GOODWILL_TEST_PG", "postgresql://127.0.0.1:5432/test")


def shared_data_dir() -> Path:
    return Path(os.environ.get("GOODWILL_DATA", REPO.parent / "shared" / "data"))


def _pg_available() -> str | None:
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install 'goodwill[postgres]')"
    try:
        with psycopg.connect(PG_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL is not reachable at {PG_URL}: {exc}"


_PG_REASON = _pg_available()


def make_store(engine: str, tmp_path: Path) -> Store:
    if engine == "duckdb":
        return open_store(tmp_path / "store.duckdb")
    if _PG_REASON is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs PostgreSQL: {_PG_REASON}")
        pytest.skip(_PG_REASON)
    # A few partitions: the partitioned layout is what runs, without creating 32 tables per table.
    return open_store(f"{PG_URL}?schema=gw_test_{uuid.uuid4().hex[:12]}&partitions=3")


def drop_store(store: Store) -> None:
    if store.engine == "postgres":
        store.drop_schema()  # type: ignore[attr-defined]
    store.close()


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s = make_store(request.param, tmp_path)
    try:
        yield s
    finally:
        drop_store(s)


@pytest.fixture
def duck_store(tmp_path: Path) -> Iterator[Store]:
    s = make_store("duckdb", tmp_path)
    try:
        yield s
    finally:
        drop_store(s)


@pytest.fixture
def shared_data() -> Path:
    d = shared_data_dir()
    if not d.is_dir():
        pytest.skip(f"shared data not found at {d}; set GOODWILL_DATA to the folder of ../shared/data")
    return d
