"""A second connection to a store, for long reads beside the owner's short ones.

A server holds one store. Its point reads (a brief, a vet) take milliseconds; an aggregate
over the whole book (a dashboard section) takes seconds. On one connection behind one lock
the long read makes every short one wait for it. :class:`ReaderView` reads through a
connection of its own (DuckDB: a cursor, i.e. a second connection to the same database in
the same process; PostgreSQL: a second connection), so the two run side by side, and each
sees what the other has committed. Writes still go through the owner: its lock, its write
generation and its bookkeeping (DuckDB's person documents) stay the only ones.

Get one with ``store.reader()`` where the engine has it (DuckDB, PostgreSQL), use it in one
thread, and close it: closing it closes its connection, never the owner's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa

from goodwill.model import Table
from goodwill.store.base import Params, Store
from goodwill.store.person_docs import written_tables

__all__ = ["ReaderView"]


class ReaderView(Store):
    """Reads through ``inner`` (a store on its own connection); writes through ``owner``."""

    def __init__(self, owner: Store, inner: Store) -> None:
        # Not Store.__init__: the generation is the owner's, read live.
        self.url = owner.url
        self.engine = owner.engine
        self.row_json_sql = owner.row_json_sql
        self.owner = owner
        self.inner = inner

    @property
    def generation(self) -> int:
        return self.owner.generation

    @generation.setter
    def generation(self, value: int) -> None:
        # Every write goes through the owner, which counts it there.
        pass

    # -- reads: the view's own connection ---------------------------------------------------
    def query(self, sql: str, params: Params = None) -> pa.Table:
        if written_tables(sql):
            return self._write_query(sql, params)
        return self.inner.query(sql, params)

    def scan(self, sql: str, params: Params = None, *, batch_size: int = 65_536) -> Iterator[pa.RecordBatch]:
        return self.inner.scan(sql, params, batch_size=batch_size)

    def table_exists(self, name: str) -> bool:
        return self.inner.table_exists(name)

    def person_facts(
        self, customer_id: str, tables: Sequence[str] | None = None
    ) -> tuple[list[str], dict[str, list[dict[str, Any]]]]:
        return self.inner.person_facts(customer_id, tables)

    def _person_rows(self, sql: str, params: list[Any]) -> list[tuple[str, str]]:
        return self.inner._person_rows(sql, params)

    # -- writes: the owner, under its lock ----------------------------------------------------
    # Under the owner's lock as a whole: a few of an engine's own steps (a table-existence
    # check) run on its connection without it, and a connection shared by two threads can hand
    # one thread's result to the other.
    def _owner_lock(self) -> contextlib.AbstractContextManager[Any]:
        lock = getattr(self.owner, "_lock", None)
        return lock if lock is not None else contextlib.nullcontext()

    def append(self, table: str | Table, data: pa.Table | pa.RecordBatch, *, dedupe: bool = True) -> int:
        with self._owner_lock():
            return self.owner.append(table, data, dedupe=dedupe)

    def _append(self, table: Table, data: pa.Table, *, dedupe: bool) -> int:
        with self._owner_lock():
            return self.owner._append(table, data, dedupe=dedupe)

    def execute(self, sql: str, params: Params = None) -> int:
        with self._owner_lock():
            return self.owner.execute(sql, params)

    def _write_query(self, sql: str, params: Params) -> pa.Table:
        with self._owner_lock():
            return self.owner.query(sql, params)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self._owner_lock(), self.owner.transaction():
            yield

    def ensure_table(self, table: Table) -> None:
        if not self.inner.table_exists(table.name):
            with self._owner_lock():
                self.owner.ensure_table(table)

    def create_meta(self) -> None:
        with self._owner_lock():
            self.owner.create_meta()  # type: ignore[attr-defined]

    @contextlib.contextmanager
    def touching(self, customer_ids: Sequence[str]) -> Iterator[None]:
        with self._owner_lock(), self.owner.touching(customer_ids):
            yield

    def optimize(self, tables: Sequence[str] | None = None) -> None:
        with self._owner_lock():
            self.owner.optimize(tables)

    def compact(self, tables: Sequence[str] | None = None) -> None:
        with self._owner_lock():
            self.owner.compact(tables)

    # -- lifecycle --------------------------------------------------------------------------
    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:
        # Engine-specific reads (a DuckDB path, a PostgreSQL schema) answer as the owner's.
        return getattr(self.owner, name)
