"""PostgreSQL by URL: the shared-server engine.

Bulk appends go through COPY into a temporary table, then one
``INSERT … ON CONFLICT DO NOTHING`` against the primary key, so re-ingesting adds
nothing twice and a failed batch leaves nothing half-written. The URL may carry
``?schema=NAME`` to keep a workspace (or a test run) in a schema of its own.
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.csv as pacsv

from goodwill.errors import MissingDependencyError, StoreError
from goodwill.model import Table
from goodwill.store.base import Params, Store, check_identifier, has_repeats
from goodwill.store.ddl import META_DDL, create_table_sql

try:
    import psycopg
except ImportError:  # pragma: no cover - exercised only without the extra
    psycopg = None  # type: ignore[assignment]


def _qmarks_to_pyformat(sql: str, params: Params = None) -> str:
    """Our SQL uses ``?`` on every engine; psycopg wants ``%s`` (and literal ``%`` doubled).
    Without parameters psycopg reads the text as it is, so nothing is translated."""
    if not params:
        return sql
    out = []
    in_str = False
    for ch in sql:
        if ch == "'":
            in_str = not in_str
            out.append(ch)
        elif ch == "%":
            out.append("%%")
        elif ch == "?" and not in_str:
            out.append("%s")
        else:
            out.append(ch)
    return "".join(out)


def split_schema(url: str) -> tuple[str, str | None]:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = None
    rest = []
    for k, v in query:
        if k == "schema":
            schema = v
        else:
            rest.append((k, v))
    clean = urlunsplit(parts._replace(query=urlencode(rest)))
    return clean, schema


def _pg_error(exc: Exception, url: str) -> StoreError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
    if "connection" in first.lower() and ("refused" in first.lower() or "failed" in first.lower()):
        return StoreError(
            f"Cannot reach PostgreSQL at {url}: {first}",
            hint="Check that the server is running and the URL (postgresql://HOST:PORT/DB) is right.",
        )
    if "does not exist" in first and "database" in first:
        return StoreError(f"{first}.", hint="Create the database first: createdb NAME.")
    return StoreError(f"PostgreSQL error: {first}")


class PostgresStore(Store):
    engine = "postgres"
    row_json_sql = "row_to_json(x)::text"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        if psycopg is None:
            raise MissingDependencyError("psycopg", "postgres", "A PostgreSQL store")
        self.dsn, schema = split_schema(url)
        self.schema = check_identifier(schema) if schema else "public"
        self._lock = threading.RLock()
        self._known: set[str] = set()
        try:
            self.con = psycopg.connect(self.dsn, autocommit=True)
        except psycopg.Error as exc:
            raise _pg_error(exc, self.dsn) from exc
        if self.schema != "public":
            self.con.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
        self.con.execute(f'SET search_path TO "{self.schema}"')
        self._in_tx = False

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.con.close()

    def reader(self) -> Store:
        """A view of this store on a second connection, for a long read in another thread while
        this one keeps serving short ones (see goodwill.store.reader); it sees what is committed,
        and its writes go through this store. Close it after use."""
        from goodwill.store.reader import ReaderView

        return ReaderView(self, PostgresStore(self.url))

    def drop_schema(self) -> None:
        """Remove the whole schema (tests and throwaway workspaces)."""
        if self.schema == "public":
            raise StoreError("Refusing to drop the public schema.")
        self.con.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')

    def table_exists(self, name: str) -> bool:
        if name in self._known:
            return True
        r = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
            [self.schema, name],
        ).fetchone()
        exists = bool(r and r[0])
        if exists:
            self._known.add(name)
        return exists

    def ensure_table(self, table: Table) -> None:
        if self.table_exists(table.name):
            return
        with self._lock:
            self.con.execute(create_table_sql(table, "postgres", primary_key=True))
            for c in table.columns:
                if c.lookup:
                    self.con.execute(
                        f"CREATE INDEX IF NOT EXISTS {table.name}_{c.name}_idx ON {table.name} ({c.name})"
                    )
        self._known.add(table.name)

    def create_meta(self) -> None:
        self.con.execute(META_DDL)

    def execute(self, sql: str, params: Params = None) -> int:
        self._wrote(sql)
        with self._lock:
            try:
                cur = self.con.execute(_qmarks_to_pyformat(sql, params), list(params) if params else None)
                return cur.rowcount if cur.rowcount is not None else -1
            except psycopg.Error as exc:
                raise _pg_error(exc, self.dsn) from exc

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            if self._in_tx:
                yield
                return
            self._in_tx = True
            try:
                with self.con.transaction():
                    yield
            finally:
                self._in_tx = False

    def _fetch_arrow(self, cur: Any) -> pa.Table:
        names = [d.name for d in cur.description] if cur.description else []
        rows = cur.fetchall()
        cols: list[tuple[Any, ...]] = list(zip(*rows, strict=False)) if rows else [() for _ in names]
        return pa.table({n: pa.array(list(c)) for n, c in zip(names, cols, strict=False)}) if names else pa.table({})

    def query(self, sql: str, params: Params = None) -> pa.Table:
        self._wrote(sql)
        with self._lock:
            try:
                cur = self.con.execute(_qmarks_to_pyformat(sql, params), list(params) if params else None)
                return self._fetch_arrow(cur)
            except psycopg.Error as exc:
                raise _pg_error(exc, self.dsn) from exc

    def scan(self, sql: str, params: Params = None, *, batch_size: int = 65_536) -> Iterator[pa.RecordBatch]:
        # A server-side cursor keeps memory bounded whatever the result's size.
        with psycopg.connect(self.dsn) as con:
            con.execute(f'SET search_path TO "{self.schema}"')
            with con.cursor(name="gw_scan") as cur:
                cur.execute(_qmarks_to_pyformat(sql, params), list(params) if params else None)
                names = [d.name for d in cur.description] if cur.description else []
                while True:
                    rows = cur.fetchmany(batch_size)
                    if not rows:
                        break
                    cols = list(zip(*rows, strict=False))
                    yield pa.RecordBatch.from_pydict({n: list(c) for n, c in zip(names, cols, strict=False)})

    def _append(self, table: Table, data: pa.Table, *, dedupe: bool) -> int:
        cols = ", ".join(table.column_names)
        buf = io.BytesIO()
        pacsv.write_csv(data, buf, pacsv.WriteOptions(include_header=False))
        payload = buf.getvalue()
        tmp = f"_gw_tmp_{table.name}"
        with self._lock:
            if dedupe and not has_repeats(data, table.primary_key):
                # Most bulk loads bring only new keys: COPY straight into the table, inside a
                # savepoint, and fall back to the de-duplicating path below only if a key is
                # already stored (COPY is all or nothing, so the fallback starts clean).
                try:
                    with self.con.transaction():
                        with self.con.cursor().copy(f"COPY {table.name} ({cols}) FROM STDIN WITH (FORMAT csv)") as cp:
                            cp.write(payload)
                        return data.num_rows
                except psycopg.errors.UniqueViolation:
                    pass
                except psycopg.Error as exc:
                    raise _pg_error(exc, self.dsn) from exc
            try:
                with self.con.transaction():
                    self.con.execute(f"CREATE TEMP TABLE IF NOT EXISTS {tmp} (LIKE {table.name}) ON COMMIT DELETE ROWS")
                    with self.con.cursor().copy(f"COPY {tmp} ({cols}) FROM STDIN WITH (FORMAT csv)") as cp:
                        cp.write(payload)
                    pk = ", ".join(table.primary_key)
                    if dedupe:
                        # DISTINCT ON sorts the batch: pay for it only when keys repeat in it.
                        distinct = f"DISTINCT ON ({pk}) " if has_repeats(data, table.primary_key) else ""
                        sql = (
                            f"INSERT INTO {table.name} ({cols}) SELECT {distinct}{cols} FROM {tmp} "
                            f"ON CONFLICT ({pk}) DO NOTHING"
                        )
                    else:
                        sql = f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM {tmp}"
                    cur = self.con.execute(sql)
                    return cur.rowcount
            except psycopg.Error as exc:
                raise _pg_error(exc, self.dsn) from exc

    def optimize(self, tables: Sequence[str] | None = None) -> None:
        with self._lock:
            self.con.execute("ANALYZE")

    def compact(self, tables: Sequence[str] | None = None) -> None:
        """VACUUM FULL rewrites each table into new files and drops the old ones."""
        names = [t for t in (tables or list(self.counts())) if self.table_exists(t)]
        with self._lock:
            for name in sorted(set(names)):
                self.con.execute(f'VACUUM FULL "{check_identifier(name)}"')
            with contextlib.suppress(psycopg.Error):
                # Flushes the rewritten tables and unlinks the old files; needs pg_checkpoint.
                self.con.execute("CHECKPOINT")

