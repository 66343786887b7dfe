"""One store interface over two engines.

The store owns where facts live. It offers bulk append (each engine's fast path,
with natural-key de-duplication so re-ingesting adds nothing twice), point reads
of one customer's facts, and analytic queries that return Arrow tables. SQL
passed to :meth:`Store.query` uses ``?`` placeholders on every engine.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa

from goodwill.errors import ConfigError, StoreError
from goodwill.model import SCHEMA_VERSION, TABLES, Table, get_table

Params = Sequence[Any] | None


def conform(table: Table, data: pa.Table | pa.RecordBatch) -> pa.Table:
    """Give ``data`` exactly the table's columns and types, filling absent columns with nulls."""
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    unknown = [n for n in data.column_names if not table.has_column(n)]
    if unknown:
        raise ConfigError(
            f"Table {table.name!r} has no column(s) {', '.join(unknown)}.",
            hint=f"Its columns are: {', '.join(table.column_names)}.",
        )
    schema = table.arrow_schema()
    arrays = []
    n = data.num_rows
    for field in schema:
        if field.name in data.column_names:
            col = data.column(field.name)
            if not col.type.equals(field.type):
                try:
                    col = col.cast(field.type)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise StoreError(
                        f"Column {table.name}.{field.name} expects {field.type}, got {col.type}: {exc}",
                        hint="Convert the column before appending it.",
                    ) from exc
            arrays.append(col)
        else:
            arrays.append(pa.nulls(n, field.type))
    result = pa.Table.from_arrays(arrays, schema=schema.remove_metadata())
    for c in table.columns:
        if not c.nullable and result.column(c.name).null_count:
            raise StoreError(
                f"Column {table.name}.{c.name} may not be empty, but {result.column(c.name).null_count} row(s) have no value.",
                hint="Fix the source rows or the mapping; ingest sends such rows to quarantine.",
            )
    return result


class Store(abc.ABC):
    """A goodwill store. Use :func:`goodwill.store.open_store` to get one."""

    engine: str = ""

    def __init__(self, url: str) -> None:
        self.url = url

    # -- lifecycle -------------------------------------------------------
    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abc.abstractmethod
    def close(self) -> None: ...

    def ensure_schema(self) -> None:
        """Create missing tables; migrate or refuse a store made by another version."""
        from goodwill.store.migrations import check_and_migrate

        check_and_migrate(self)
        for table in TABLES.values():
            self.ensure_table(table)

    @abc.abstractmethod
    def ensure_table(self, table: Table) -> None: ...

    @abc.abstractmethod
    def table_exists(self, name: str) -> bool: ...

    # -- meta ------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        if not self.table_exists("goodwill_meta"):
            return None
        rows = self.rows("SELECT value FROM goodwill_meta WHERE key = ?", [key])
        return rows[0]["value"] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self.execute("DELETE FROM goodwill_meta WHERE key = ?", [key])
        self.execute("INSERT INTO goodwill_meta (key, value) VALUES (?, ?)", [key, value])

    @property
    def schema_version(self) -> int:
        v = self.get_meta("schema_version")
        return int(v) if v is not None else SCHEMA_VERSION

    # -- writes ----------------------------------------------------------
    def append(self, table: str | Table, data: pa.Table | pa.RecordBatch, *, dedupe: bool = True) -> int:
        """Append rows; with ``dedupe`` rows whose primary key is already stored (or repeated
        within ``data``) are skipped. Returns how many rows were added."""
        t = table if isinstance(table, Table) else get_table(table)
        conformed = conform(t, data)
        if conformed.num_rows == 0:
            return 0
        return self._append(t, conformed, dedupe=dedupe)

    @abc.abstractmethod
    def _append(self, table: Table, data: pa.Table, *, dedupe: bool) -> int: ...

    @abc.abstractmethod
    def execute(self, sql: str, params: Params = None) -> int:
        """Run a statement; returns the affected row count where the engine reports it."""

    @abc.abstractmethod
    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]: ...

    # -- reads -----------------------------------------------------------
    @abc.abstractmethod
    def query(self, sql: str, params: Params = None) -> pa.Table: ...

    def rows(self, sql: str, params: Params = None) -> list[dict[str, Any]]:
        return self.query(sql, params).to_pylist()

    def scalar(self, sql: str, params: Params = None) -> Any:
        t = self.query(sql, params)
        if t.num_rows == 0:
            return None
        return t.column(0)[0].as_py()

    @abc.abstractmethod
    def scan(
        self, sql: str, params: Params = None, *, batch_size: int = 65_536
    ) -> Iterator[pa.RecordBatch]:
        """Stream a query's result in Arrow record batches (bounded memory)."""

    def count(self, table: str) -> int:
        get_table(table)
        return int(self.scalar(f"SELECT count(*) FROM {table}"))

    def counts(self) -> dict[str, int]:
        return {name: self.count(name) for name in TABLES if self.table_exists(name)}

    def customer_facts(self, customer_ids: Sequence[str]) -> dict[str, pa.Table]:
        """Every row about these customers, table by table (the point read behind a timeline)."""
        out: dict[str, pa.Table] = {}
        ids = list(customer_ids)
        if not ids:
            return out
        marks = ", ".join("?" for _ in ids)
        for t in TABLES.values():
            if t.customer_column is None or t.internal or not self.table_exists(t.name):
                continue
            order = f" ORDER BY {t.time_column}" if t.time_column else ""
            out[t.name] = self.query(
                f"SELECT * FROM {t.name} WHERE {t.customer_column} IN ({marks}){order}", ids
            )
        return out

    def optimize(self, tables: Sequence[str] | None = None) -> None:  # noqa: B027
        """Reorganise tables for fast point reads after bulk loads (engine specific)."""


def check_identifier(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ConfigError(f"{name!r} is not a valid name.", hint="Use letters, digits and '_'.")
    return name
