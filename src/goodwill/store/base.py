"""One store interface over two engines.

The store owns where facts live. It offers bulk append (each engine's fast path,
with natural-key de-duplication so re-ingesting adds nothing twice), point reads
of one customer's facts, and analytic queries that return Arrow tables. SQL
passed to :meth:`Store.query` uses ``?`` placeholders on every engine.
"""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
import json
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from goodwill.errors import ConfigError, StoreError
from goodwill.model import SCHEMA_VERSION, TABLES, Table, get_table
from goodwill.store.person_docs import written_tables

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
        # Bumped by every write this process makes: a cache of derived views (the dashboard)
        # that saw the same generation has seen every fact this process wrote since.
        self.generation = 0

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
        added = self._append(t, conformed, dedupe=dedupe)
        if added:
            self.generation += 1
        return added

    def _wrote(self, sql: str) -> None:
        """Count a statement that writes (engines call this from execute and query)."""
        if written_tables(sql):
            self.generation += 1

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

    # An engine's expression for one row of alias ``x`` as JSON text.
    row_json_sql = "to_json(x)"

    def person_facts(
        self, customer_id: str, tables: Sequence[str] | None = None
    ) -> tuple[list[str], dict[str, list[dict[str, Any]]]]:
        """Every row about the person ``customer_id`` belongs to, in ONE query (the hot path
        behind the brief and the timeline): the person's records via customer_links, then each
        fact table's rows as JSON, typed back with the schema.

        ``tables`` limits the read to those fact tables (each branch of the query costs time,
        and a caller such as the brief needs only some); ``customer_links`` rows come back
        whenever that table exists, since they say who the person is. ``promise_status`` (the
        promise ledger's verdicts, keyed by promise) comes back only when ``tables`` names it."""
        wanted = None if tables is None else set(tables)
        branches = []
        for t in TABLES.values():
            if t.customer_column is None or (wanted is not None and t.name not in wanted):
                continue
            if not self.table_exists(t.name):
                continue
            branches.append(
                f"SELECT '{t.name}' AS t, {self.row_json_sql} AS j FROM {t.name} x "
                f"WHERE x.{t.customer_column} IN (SELECT customer_id FROM ids)"
            )
        if wanted is not None and "promise_status" in wanted and self.table_exists("promise_status") and self.table_exists("promises"):
            # The ledger's status of the person's promises (its own table has no customer column).
            branches.append(
                f"SELECT 'promise_status' AS t, {self.row_json_sql} AS j FROM promise_status x "
                "WHERE x.promise_id IN (SELECT promise_id FROM promises WHERE customer_id IN (SELECT customer_id FROM ids))"
            )
        links = self.table_exists("customer_links")
        if links:
            branches.append(
                f"SELECT 'customer_links' AS t, {self.row_json_sql} AS j FROM customer_links x "
                "WHERE x.customer_id IN (SELECT customer_id FROM ids)"
            )
        ids_sql = "SELECT CAST(? AS TEXT) AS customer_id"
        if links:
            ids_sql += (
                " UNION SELECT l2.customer_id FROM customer_links l1 JOIN customer_links l2 "
                "ON l2.person_id = l1.person_id WHERE l1.customer_id = ?"
            )
        if not branches:
            return [customer_id], {}
        sql = f"WITH ids AS ({ids_sql}) " + " UNION ALL ".join(branches)
        params = [customer_id, customer_id] if links else [customer_id]
        out: dict[str, list[dict[str, Any]]] = {}
        for table_name, text in self._person_rows(sql, params):
            out.setdefault(table_name, []).append(_typed(TABLES[table_name], json.loads(text)))
        return person_ids(customer_id, out), out

    @contextlib.contextmanager
    def touching(self, customer_ids: Sequence[str]) -> Iterator[None]:
        """Declare that the writes inside change facts of these customers only.

        Engines that cache whole persons (DuckDB's person documents) then forget just these
        customers instead of every cached person; elsewhere it changes nothing."""
        yield

    @abc.abstractmethod
    def compact(self, tables: Sequence[str] | None = None) -> None:
        """Remove the bytes of deleted rows from the engine's files (erasure needs this)."""

    def _person_rows(self, sql: str, params: list[Any]) -> list[tuple[str, str]]:
        """Run the person query; engines may cache its plan (it is the same text every time)."""
        result = self.query(sql, params)
        return list(zip(result.column(0).to_pylist(), result.column(1).to_pylist(), strict=True))

    def optimize(self, tables: Sequence[str] | None = None) -> None:  # noqa: B027
        """Reorganise tables for fast point reads after bulk loads (engine specific)."""


def person_ids(customer_id: str, facts: dict[str, list[dict[str, Any]]]) -> list[str]:
    """The customer ids a person read found (the asked one always among them)."""
    return sorted({customer_id} | {r["customer_id"] for r in facts.get("customers", [])} | _ids_of(facts))


def typed_row(table: str, row: dict[str, Any]) -> dict[str, Any]:
    """A row read back from JSON, with its dates and times as Python values again."""
    return _typed(TABLES[table], row)


def _ids_of(facts: dict[str, list[dict[str, Any]]]) -> set[str]:
    found: set[str] = set()
    for name, rows in facts.items():
        col = TABLES[name].customer_column or ("customer_id" if name == "customer_links" else None)
        if col:
            found.update(r[col] for r in rows if r.get(col))
    return found


def _typed(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    for c in table.columns:
        v = row.get(c.name)
        if c.type == "float" and isinstance(v, int) and not isinstance(v, bool):
            # PostgreSQL's row_to_json writes 20.0 as 20; the column holds a float on every engine.
            row[c.name] = float(v)
            continue
        if v is None or not isinstance(v, str):
            continue
        if c.type == "timestamp":
            row[c.name] = _parse_ts(v)
        elif c.type == "date":
            row[c.name] = dt.date.fromisoformat(v[:10])
    return row


def _parse_ts(v: str) -> dt.datetime:
    # DuckDB writes "2024-01-01 00:00:00+00", PostgreSQL "2024-01-01T00:00:00+00:00"
    if v.endswith(("+00", "-00")) or (len(v) > 3 and v[-3] in "+-" and v[-2:].isdigit()):
        v = v + ":00"
    out = dt.datetime.fromisoformat(v)
    if out.tzinfo is None:
        out = out.replace(tzinfo=dt.UTC)
    return out.astimezone(dt.UTC)


def has_repeats(data: pa.Table, key: tuple[str, ...]) -> bool:
    """Whether any primary key repeats within one batch (cheap in Arrow, costly in SQL)."""
    if len(key) == 1:
        # unique() is ~3x faster than count_distinct() on string keys (measured)
        return len(pc.unique(data.column(key[0]))) != data.num_rows
    return bool(data.group_by(list(key)).aggregate([]).num_rows != data.num_rows)


def check_identifier(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ConfigError(f"{name!r} is not a valid name.", hint="Use letters, digits and '_'.")
    return name
