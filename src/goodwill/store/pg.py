"""PostgreSQL by URL: the shared-server engine.

Bulk appends COPY straight into the table when every key is new, and otherwise go through a
temporary table and one ``INSERT … ON CONFLICT DO NOTHING``, so re-ingesting adds nothing twice
and a failed batch leaves nothing half-written. The URL may carry ``?schema=NAME`` to keep a
workspace (or a test run) in a schema of its own.

Tables that hold a person's facts (those with a ``customer_column``) are hash-partitioned by
customer (``?partitions=N``, default 32; 0 makes plain tables), so that erasing one person
rewrites one partition of each table (``VACUUM FULL`` of a 10 M-row table takes half a minute,
of one 32nd of it about a second). PostgreSQL's unique indexes on a partitioned table must
include the partition key, so a table whose primary key does not (``interactions`` is keyed by
``interaction_id``, whatever its customer) keeps its keys unique through a side table
``_gw_keys_<table>`` of keyed hashes: ``md5(secret || key)`` as a uuid, one B-tree, the global
index PostgreSQL does not have. It holds no value in the clear (the secret is the store's own),
triggers keep it in step with every insert and delete, and de-duplication means what it means
on DuckDB: a row whose primary key is stored is not added again, whichever customer it
belongs to.
"""

from __future__ import annotations

import contextlib
import io
import re
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.csv as pacsv

from goodwill.errors import ConfigError, MissingDependencyError, StoreError
from goodwill.model import TABLES, Table
from goodwill.store.base import Params, Store, check_identifier, has_repeats
from goodwill.store.ddl import META_DDL, POSTGRES_TYPES, create_table_sql

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


DEFAULT_PARTITIONS = 32
# VACUUM VERBOSE's count of deleted rows it had to keep for an older transaction.
_KEPT_DEAD = re.compile(r"(\d+) dead row versions cannot be removed yet")
KEY_SECRET = "pg_row_key_secret"


def split_schema(url: str) -> tuple[str, str | None]:
    clean, options = split_options(url)
    return clean, options.get("schema")


def split_options(url: str) -> tuple[str, dict[str, str]]:
    """The libpq URL without goodwill's own options (``schema``, ``partitions``), and those."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    ours: dict[str, str] = {}
    rest = []
    for k, v in query:
        if k in ("schema", "partitions"):
            ours[k] = v
        else:
            rest.append((k, v))
    clean = urlunsplit(parts._replace(query=urlencode(rest)))
    return clean, ours


def _partitions(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_PARTITIONS
    try:
        n = int(raw)
    except ValueError:
        n = -1
    if not 0 <= n <= 1024:
        raise ConfigError(
            f"partitions={raw!r} in the PostgreSQL URL is not a number from 0 to 1024.",
            hint="e.g. postgresql://HOST/DB?partitions=32 (0 makes plain, unpartitioned tables).",
        )
    return n


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
        self.dsn, options = split_options(url)
        schema = options.get("schema")
        self.schema = check_identifier(schema) if schema else "public"
        # Applies to the tables this store creates; a table keeps the layout it was made with.
        self.partitions = _partitions(options.get("partitions"))
        self._layouts: dict[str, str] = {}
        self._secret: str | None = None
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
            layout = self._new_layout(table)
            if layout == "flat":
                self.con.execute(create_table_sql(table, "postgres", primary_key=True))
                for c in table.columns:
                    if c.lookup:
                        self.con.execute(
                            f"CREATE INDEX IF NOT EXISTS {table.name}_{c.name}_idx ON {table.name} ({c.name})"
                        )
            else:
                with self.con.transaction():
                    self._create_partitioned(table, layout)
            self._layouts[table.name] = layout
        self._known.add(table.name)

    def _new_layout(self, table: Table) -> str:
        """flat: a plain table; partitioned: by customer, with its primary key (which holds the
        customer); keyed: by customer, its key kept unique by the table of keyed hashes."""
        if not self.partitions or table.customer_column is None:
            return "flat"
        if table.customer_column in table.primary_key:
            return "partitioned"
        # The hash is of the key's text: only text keys, whose text is the value itself.
        if all(table.column(k).type == "text" for k in table.primary_key):
            return "keyed"
        return "flat"

    def _create_partitioned(self, table: Table, layout: str) -> None:
        name = table.name
        cols = []
        for c in table.columns:
            null = " NOT NULL" if not c.nullable or c.name in table.primary_key else ""
            cols.append(f"{c.name} {POSTGRES_TYPES[c.type]}{null}")
        if layout == "partitioned":
            cols.append(f"PRIMARY KEY ({', '.join(table.primary_key)})")
        self.con.execute(
            f"CREATE TABLE {name} (\n  " + ",\n  ".join(cols) + f"\n) PARTITION BY HASH ({table.customer_column})"
        )
        for i in range(self.partitions):
            self.con.execute(
                f"CREATE TABLE {name}_p{i:03d} PARTITION OF {name} FOR VALUES WITH (MODULUS {self.partitions}, REMAINDER {i})"
            )
        for c in table.columns:
            # A primary key that starts with the column already serves its lookups.
            if c.lookup and not (layout == "partitioned" and table.primary_key[0] == c.name):
                self.con.execute(f"CREATE INDEX {name}_{c.name}_idx ON {name} ({c.name})")
        if layout != "keyed":
            return
        # Lookups by the key itself (reply-chain linking at every ingest, a report's verbatim, a
        # rectification) stay index reads; it costs about a sixth of the ingest speed (measured).
        self.con.execute(f"CREATE INDEX {name}_key_idx ON {name} ({', '.join(table.primary_key)})")
        keys = f"_gw_keys_{name}"
        self.con.execute(f"CREATE TABLE {keys} (k uuid PRIMARY KEY)")
        secret = self._key_secret().replace("'", "")
        # Statement triggers keep the hashes whatever writes the rows (append's COPY, a
        # measure's INSERT … SELECT, a DELETE): a repeated key fails the insert as a primary key
        # would, and a deleted row's key is forgotten, so that re-ingesting it adds it back (as on
        # DuckDB). An UPDATE keeps the key (rows move between partitions when their customer is
        # filled in); changing a key column by UPDATE is not tracked.
        for event, rows, body in (
            ("INSERT", "NEW TABLE AS fresh", f"INSERT INTO {keys} (k) SELECT CAST(md5('{secret}' || {self._key_sql(table, 'fresh')}) AS uuid) FROM fresh"),
            ("DELETE", "OLD TABLE AS gone", f"DELETE FROM {keys} WHERE k IN (SELECT CAST(md5('{secret}' || {self._key_sql(table, 'gone')}) AS uuid) FROM gone)"),
        ):
            fn = f"{keys}_{event.lower()}"
            self.con.execute(
                f"CREATE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $gw$ BEGIN {body}; RETURN NULL; END $gw$"
            )
            self.con.execute(
                f"CREATE TRIGGER {fn} AFTER {event} ON {name} REFERENCING {rows} FOR EACH STATEMENT EXECUTE FUNCTION {fn}()"
            )
        self.con.execute(f"CREATE FUNCTION {keys}_clear() RETURNS trigger LANGUAGE plpgsql AS $gw$ BEGIN TRUNCATE {keys}; RETURN NULL; END $gw$")
        self.con.execute(f"CREATE TRIGGER {keys}_clear AFTER TRUNCATE ON {name} FOR EACH STATEMENT EXECUTE FUNCTION {keys}_clear()")

    def _key_secret(self) -> str:
        # Made once per store and never changed (the triggers hold it too): read once.
        if self._secret is None:
            raw = self.get_meta(KEY_SECRET)
            if raw is None:
                raw = secrets.token_hex(16)
                self.set_meta(KEY_SECRET, raw)
            self._secret = raw
        return self._secret

    @staticmethod
    def _key_sql(table: Table, alias: str) -> str:
        if len(table.primary_key) == 1:
            return f"{alias}.{table.primary_key[0]}"
        return "concat_ws(chr(31), " + ", ".join(f"{alias}.{k}" for k in table.primary_key) + ")"

    def layout(self, name: str) -> str:
        """How the stored table ``name`` is laid out: flat, partitioned or keyed (see above)."""
        if name in self._layouts:
            return self._layouts[name]
        r = self.con.execute(
            "SELECT c.relkind, to_regclass(%s) IS NOT NULL FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s",
            [f'"{self.schema}"._gw_keys_{name}', self.schema, name],
        ).fetchone()
        if r is None:
            return "flat"
        out = ("keyed" if r[1] else "partitioned") if r[0] == "p" else "flat"
        self._layouts[name] = out
        return out

    def rebuild_keys(self, name: str) -> int:
        """Rebuild a keyed table's hashes from its rows, after rows came in with the triggers off
        (``pg_restore --disable-triggers``, ``session_replication_role = replica``). Returns the
        keys stored."""
        table = TABLES.get(name)
        if table is None or self.layout(name) != "keyed":
            raise StoreError(f"{name} is not a keyed, partitioned table of this store.")
        expr = self._key_sql(table, "x")
        with self._lock:
            try:
                with self.con.transaction():
                    self.con.execute(f"TRUNCATE _gw_keys_{name}")
                    cur = self.con.execute(
                        f"INSERT INTO _gw_keys_{name} (k) SELECT CAST(md5(%s || {expr}) AS uuid) FROM {name} x",
                        [self._key_secret()],
                    )
                    return cur.rowcount
            except psycopg.errors.UniqueViolation as exc:
                raise StoreError(
                    f"{name} holds two rows with the same {', '.join(table.primary_key)}.",
                    hint="Remove the repeated rows (keep one of each), then rebuild the keys again.",
                ) from exc

    def relations_of(self, table: str, where: str, params: Params = None) -> list[str]:
        """The partitions (or the table itself) holding the rows ``where`` selects: what an
        erasure has to rewrite."""
        sql = f"SELECT DISTINCT CAST(tableoid::regclass AS TEXT) AS r FROM {check_identifier(table)} WHERE {where}"
        return sorted(str(r["r"]).split(".")[-1].strip('"') for r in self.rows(sql, params))

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
        payload = _csv(data)
        with self._lock:
            if not dedupe or not has_repeats(data, table.primary_key):
                # Most bulk loads bring only new keys: COPY straight into the table, inside a
                # savepoint (a keyed table's insert trigger stores the hashes). A key already
                # stored fails it, and COPY is all or nothing: without de-duplication that is
                # the error, with it the fallback below starts clean.
                try:
                    with self.con.transaction():
                        self._copy(table.name, cols, payload)
                        return data.num_rows
                except psycopg.errors.UniqueViolation as exc:
                    if not dedupe:
                        raise _pg_error(exc, self.dsn) from exc
                except psycopg.Error as exc:
                    raise _pg_error(exc, self.dsn) from exc
            tmp = f"_gw_tmp_{table.name}"
            try:
                with self.con.transaction():
                    self.con.execute(f"CREATE TEMP TABLE IF NOT EXISTS {tmp} (LIKE {table.name}) ON COMMIT DELETE ROWS")
                    self._copy(tmp, cols, payload)
                    sql, params = self._insert_new(table, tmp, has_repeats(data, table.primary_key))
                    return self.con.execute(sql, params).rowcount
            except psycopg.Error as exc:
                raise _pg_error(exc, self.dsn) from exc

    def _insert_new(self, table: Table, tmp: str, repeats: bool) -> tuple[str, list[Any] | None]:
        """The INSERT of a batch's rows whose key is not stored, one row per key."""
        cols = ", ".join(table.column_names)
        pk = ", ".join(table.primary_key)
        # DISTINCT ON sorts the batch: pay for it only when keys repeat in it.
        distinct = f"DISTINCT ON ({pk}) " if repeats else ""
        if self.layout(table.name) == "keyed":
            return (
                f"INSERT INTO {table.name} ({cols}) SELECT {distinct}{cols} FROM {tmp} x "
                f"WHERE NOT EXISTS (SELECT 1 FROM _gw_keys_{table.name} "
                f"WHERE k = CAST(md5(%s || {self._key_sql(table, 'x')}) AS uuid))",
                [self._key_secret()],
            )
        return f"INSERT INTO {table.name} ({cols}) SELECT {distinct}{cols} FROM {tmp} ON CONFLICT ({pk}) DO NOTHING", None

    def _copy(self, table: str, cols: str, payload: bytes) -> None:
        with self.con.cursor().copy(f"COPY {table} ({cols}) FROM STDIN WITH (FORMAT csv)") as cp:
            cp.write(payload)

    def optimize(self, tables: Sequence[str] | None = None) -> None:
        with self._lock:
            self.con.execute("ANALYZE")

    # How long compact() waits for older transactions to end before it gives up.
    compact_wait_s = 120.0

    def compact(self, tables: Sequence[str] | None = None) -> None:
        """VACUUM FULL rewrites each table (or partition: see :meth:`relations_of`) into new
        files and drops the old ones.

        VACUUM FULL copies a deleted row into the new file while any transaction that began
        before the delete is still open (anywhere on the server: it might still read the row),
        so this first waits for those to end, then checks PostgreSQL's own count of such rows
        and rewrites again if one slipped in. After ``compact_wait_s`` it raises, naming the
        sessions that hold the rows; the rows are deleted already and a rerun finishes."""
        names = [t for t in (tables or list(self.counts())) if self.table_exists(t)]
        notes: list[str] = []

        def keep(d: Any) -> None:
            notes.append(f"{d.message_primary or ''}\n{d.message_detail or ''}")

        with self._lock:
            deadline = time.monotonic() + self.compact_wait_s
            self._wait_for_older_transactions(deadline)
            self.con.add_notice_handler(keep)
            try:
                for name in sorted(set(names)):
                    while True:
                        notes.clear()
                        self.con.execute(f'VACUUM (FULL, VERBOSE) "{check_identifier(name)}"')
                        if not any(int(n) for n in _KEPT_DEAD.findall("\n".join(notes))):
                            break
                        self._wait_for_older_transactions(deadline)
            finally:
                self.con.remove_notice_handler(keep)
            with contextlib.suppress(psycopg.Error):
                # Flushes the rewritten tables and unlinks the old files; needs pg_checkpoint.
                self.con.execute("CHECKPOINT")

    def _wait_for_older_transactions(self, deadline: float) -> None:
        """Until no other session holds a snapshot or transaction older than now."""
        now = int(self.con.execute("SELECT txid_current()").fetchone()[0]) % (1 << 32)  # type: ignore[index]
        while True:
            holders = self.con.execute(
                "SELECT pid, coalesce(state, ''), coalesce(left(query, 60), '') FROM pg_stat_activity "
                "WHERE pid <> pg_backend_pid() AND ("
                "(backend_xmin IS NOT NULL AND age(backend_xmin) >= age(CAST(CAST(%s AS TEXT) AS xid))) OR "
                "(backend_xid IS NOT NULL AND age(backend_xid) >= age(CAST(CAST(%s AS TEXT) AS xid))))",
                [now, now],
            ).fetchall()
            if not holders:
                return
            if time.monotonic() > deadline:
                who = "; ".join(f"pid {p} ({st}: {q!r})" for p, st, q in holders[:3])
                raise StoreError(
                    f"Erased rows cannot leave PostgreSQL's files yet: older transactions are still open ({who}).",
                    hint="End them (or wait), then run `goodwill rights resume`: the rows are already deleted, "
                    "only the rewrite of their files is left.",
                )
            time.sleep(0.05)


def _csv(data: pa.Table) -> bytes:
    buf = io.BytesIO()
    pacsv.write_csv(data, buf, pacsv.WriteOptions(include_header=False))
    return buf.getvalue()
