"""The embedded default: one DuckDB file, nothing to start.

DuckDB lets one process hold a file. goodwill designs for that: the process that
opens the store owns it (the CLI for one command, or ``goodwill serve`` while it
runs), and a second process gets a clear :class:`StoreLockedError`.

Tables carry no PRIMARY KEY constraint here: an ART index slows bulk appends about
eightfold (STACK.md). Natural-key de-duplication is an anti-join at append time,
and point reads are fast because :meth:`DuckDBStore.optimize` keeps tables sorted
by customer, which DuckDB's zone maps turn into sub-millisecond lookups.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from goodwill.errors import StoreError, StoreLockedError
from goodwill.model import TABLES, Table
from goodwill.store import duck_erase
from goodwill.store import person_docs as pdocs
from goodwill.store.base import Params, Store, person_ids, typed_row
from goodwill.store.ddl import META_DDL, create_table_sql

_LOCK_PID = re.compile(r"\(PID (\d+)\)")
CATALOG = "gw"
# Point reads (timeline, brief, guard) scan one row group per table they touch. DuckDB's
# default of 122,880 rows made a ten-table read 27 ms; 16,384 made it 11 ms on the same quiet
# 2 cores, with no change to a full-table aggregate, for ~1.8x the file size (measured).
ROW_GROUP_SIZE = 16_384


def _translate(exc: Exception, path: str) -> Exception:
    text = str(exc)
    if "Could not set lock" in text or "Conflicting lock" in text:
        m = _LOCK_PID.search(text)
        who = f" (process {m.group(1)})" if m else ""
        return StoreLockedError(
            f"The store {path} is open in another process{who}; DuckDB lets one process hold a file.",
            hint="Stop that process, or, if it is `goodwill serve`, send your request to its API instead.",
        )
    if "not a valid DuckDB database" in text or "Serialization" in text or ("database file" in text.lower() and "version" in text.lower()):
        return StoreError(
            f"{path} is not a DuckDB file this version of goodwill can open: {text.splitlines()[0]}",
            hint="Point --store at a goodwill store, or create one with `goodwill init`.",
        )
    return StoreError(f"DuckDB error on {path}: {text.splitlines()[0] if text else exc!r}")


class DuckDBStore(Store):
    engine = "duckdb"
    row_json_sql = "CAST(to_json(x) AS VARCHAR)"

    def __init__(self, path: str, *, read_only: bool = False) -> None:
        super().__init__(path)
        self.path = path
        self._lock = threading.RLock()
        if path != ":memory:":
            if read_only and not Path(path).exists():
                raise StoreError(
                    f"There is no store at {path}.",
                    hint="Create one with `goodwill init`, or load the demo with `goodwill demo`.",
                )
            parent = Path(path).expanduser().resolve().parent
            if not parent.exists():
                raise StoreError(
                    f"The folder {parent} does not exist.",
                    hint="Create it first, or run `goodwill init` in the folder you want.",
                )
        self.read_only = read_only
        self.row_group_size = int(os.environ.get("GOODWILL_DUCKDB_ROW_GROUP_SIZE", ROW_GROUP_SIZE))
        self._known: set[str] = set()
        self._prepared: dict[str, str] = {}
        self.con = self._connect()
        # Person documents (see goodwill.store.person_docs): whether they exist and may be read,
        # and, inside Store.touching(), the customers whose writes forget only them.
        self._docs = self._docs_exist()
        self._touch: set[str] | None = None

    def _connect(self) -> duckdb.DuckDBPyConnection:
        """Attach the file (rather than open it as the main database) to choose its row-group size."""
        if self.path != ":memory:":
            # A scrub of the file (compact) that a crash interrupted is finished before DuckDB
            # reads a block it was rewriting.
            duck_erase.recover(self.path)
        con = duckdb.connect(":memory:")
        opts = [f"ROW_GROUP_SIZE {self.row_group_size}"]
        if self.read_only:
            opts.append("READ_ONLY")
        target = self.path.replace("'", "''")
        try:
            con.execute(f"ATTACH '{target}' AS {CATALOG} ({', '.join(opts)})")
            con.execute(f"USE {CATALOG}")
        except duckdb.Error as exc:
            con.close()
            raise _translate(exc, self.path) from exc
        threads = os.environ.get("GOODWILL_DUCKDB_THREADS")
        if threads:
            # DuckDB sizes its pool from the machine's cores, not the process's CPU affinity.
            con.execute(f"SET threads = {int(threads)}")
        return con

    def close(self) -> None:
        with self._lock, contextlib.suppress(duckdb.Error):
            self.con.close()

    def reader(self) -> Store:
        """A view of this store on a connection of its own, for a long read in another thread
        while this one keeps serving short ones (see goodwill.store.reader): a cursor, i.e. a
        second connection to the same database, with its own lock; it sees what is committed,
        and its writes go through this store. Close it after use."""
        import copy

        from goodwill.store.reader import ReaderView

        inner = copy.copy(self)
        with self._lock:
            inner.con = self.con.cursor()
        inner.con.execute(f"USE {CATALOG}")  # a cursor starts in the in-memory catalog
        inner._lock = threading.RLock()
        inner._prepared = {}  # prepared statements belong to a connection
        inner._known = set()
        # The owner may drop its person documents at any time: the view reads persons live.
        inner._docs = False
        inner._touch = None
        return ReaderView(self, inner)

    def table_exists(self, name: str) -> bool:
        if name in self._known:
            return True
        rows = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND table_schema = 'main' "
            "AND table_catalog = current_database()",
            [name],
        ).fetchall()
        exists = bool(rows and rows[0][0])
        if exists:
            self._known.add(name)
        return exists

    def ensure_table(self, table: Table) -> None:
        if self.table_exists(table.name):
            return
        with self._lock:
            self.con.execute(create_table_sql(table, "duckdb", primary_key=False))
        self._known.add(table.name)

    def create_meta(self) -> None:
        self.con.execute(META_DDL)

    # -- person documents ---------------------------------------------------
    def _docs_exist(self) -> bool:
        rows = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name IN (?, ?) AND table_schema = 'main' "
            "AND table_catalog = current_database()",
            [pdocs.DOCS, pdocs.DIRTY],
        ).fetchall()
        return bool(rows and rows[0][0] == 2)

    def build_person_docs(self) -> None:
        """(Re)build the person documents from the facts stored now (optimize() calls this)."""
        present = [n for n in pdocs.covered_tables() if self.table_exists(n)]
        facts = [TABLES[n] for n in present if n in TABLES and TABLES[n].customer_column]
        with self._lock:
            self._docs = False
            # Stored uncompressed and indexed: a compressed or scanned string column decodes a
            # whole vector of 2,048 documents to return one (12 ms at 10 M interactions); an ART
            # lookup of an uncompressed row fetches just that row (0.4 ms), measured.
            self.con.execute("CHECKPOINT")
            self.con.execute("SET force_compression = 'uncompressed'")
            self.con.execute("BEGIN TRANSACTION")
            try:
                for stmt in pdocs.create_sql():
                    self.con.execute(stmt)
                cuts: list[str] = []
                if facts:
                    sizes = {t.name: self.con.execute(f"SELECT count(*) FROM {t.name}").fetchall()[0][0] for t in facts}
                    big = max(facts, key=lambda t: sizes[t.name])
                    parts = max(1, sum(sizes.values()) // pdocs.ROWS_PER_PASS)
                    if parts > 1:
                        sql = pdocs.boundaries_sql(big.name, str(big.customer_column), parts)
                        cuts = [str(r[0]) for r in self.con.execute(sql).fetchall() if r[0] is not None]
                edges: list[str | None] = [None, *cuts, None]
                for lo, hi in itertools.pairwise(edges):
                    fill = pdocs.fill_sql(present, lo, hi)
                    if fill:
                        self.con.execute(fill)
                self.con.execute(pdocs.INDEX_SQL)
                self.con.execute("COMMIT")
                self.con.execute("CHECKPOINT")
            except duckdb.Error as exc:
                self.con.execute("ROLLBACK")
                raise _translate(exc, self.path) from exc
            finally:
                self.con.execute("RESET force_compression")
            self._known.discard(pdocs.DOCS)
            self._docs = self._docs_exist()

    def drop_person_docs(self) -> None:
        """Forget every person document (reads take the live path until optimize())."""
        with self._lock:
            self._docs = False
            self.con.execute(f"DROP TABLE IF EXISTS {pdocs.DOCS}")
            self.con.execute(f"DROP TABLE IF EXISTS {pdocs.DIRTY}")
            self._known.discard(pdocs.DOCS)
            self._known.discard(pdocs.DIRTY)

    def _forget(self, customer_ids: set[str]) -> None:
        if not customer_ids:
            return
        n = self.con.execute(f"SELECT count(*) FROM {pdocs.DIRTY}").fetchall()[0][0]
        if n + len(customer_ids) > pdocs.MAX_DIRTY:
            self.drop_person_docs()
            return
        ids = pa.table({"customer_id": pa.array(sorted(customer_ids), pa.string())})
        self.con.register("_gw_forget", ids)
        try:
            self.con.execute(f"DELETE FROM {pdocs.DOCS} WHERE customer_id IN (SELECT customer_id FROM _gw_forget)")
            self.con.execute(f"INSERT INTO {pdocs.DIRTY} SELECT customer_id FROM _gw_forget")
        finally:
            self.con.unregister("_gw_forget")

    def _note_write(self, sql: str) -> None:
        """Keep the documents true after a write statement: forget who it touched, or all."""
        if not self._docs:
            return
        written = pdocs.written_tables(sql) & set(pdocs.covered_tables())
        if not written:
            return
        if self._touch is not None:
            self._forget(self._touch)
        else:
            self.drop_person_docs()

    @contextlib.contextmanager
    def touching(self, customer_ids: Sequence[str]) -> Iterator[None]:
        with self._lock:
            outer = self._touch
            self._touch = set(customer_ids) | (outer or set())
            try:
                # Forget first, so that a reader never sees a document older than a fact.
                if self._docs:
                    self._forget(self._touch)
                yield
            finally:
                self._touch = outer

    def person_facts(
        self, customer_id: str, tables: Sequence[str] | None = None
    ) -> tuple[list[str], dict[str, list[dict[str, Any]]]]:
        if self._docs:
            found = self._person_from_docs(customer_id, tables)
            if found is not None:
                return found
        return super().person_facts(customer_id, tables)

    def _person_from_docs(
        self, customer_id: str, tables: Sequence[str] | None
    ) -> tuple[list[str], dict[str, list[dict[str, Any]]]] | None:
        """The person from their documents, or None when any of their records is dirty."""
        with self._lock:
            if not self._docs:
                return None
            try:
                name = self._prepared.get("_docs_one")
                if name is None:
                    name = "gw_docs_one"
                    self.con.execute(
                        f"PREPARE {name} AS SELECT 0 AS k, customer_id, members, doc FROM {pdocs.DOCS} "
                        f"WHERE customer_id = $1 UNION ALL SELECT 1, customer_id, NULL, NULL FROM {pdocs.DIRTY} "
                        "WHERE customer_id = $1"
                    )
                    self._prepared["_docs_one"] = name
                lit = "'" + customer_id.replace("'", "''") + "'"
                rows = self.con.execute(f"EXECUTE {name}({lit})").fetchall()
                if any(k == 1 for k, *_ in rows):
                    return None
                if not rows:
                    return [customer_id], {}
                others = sorted(set(rows[0][2]) - {customer_id})
                if others:
                    marks = ", ".join("?" for _ in others)
                    more = self.con.execute(
                        f"SELECT 0 AS k, customer_id, members, doc FROM {pdocs.DOCS} WHERE customer_id IN ({marks}) "
                        f"UNION ALL SELECT 1, customer_id, NULL, NULL FROM {pdocs.DIRTY} WHERE customer_id IN ({marks})",
                        [*others, *others],
                    ).fetchall()
                    if any(k == 1 for k, *_ in more):
                        return None
                    rows += more
                wanted = None if tables is None else set(tables) | {"customer_links"}
                live = [
                    t for t in pdocs.LIVE_TABLES
                    if (wanted is None or t in wanted) and t in TABLES and self.table_exists(t)
                ]
                extra: list[tuple[str, str]] = []
                if live:
                    members = sorted({customer_id, *(r[1] for r in rows)})
                    marks = ", ".join("?" for _ in members)
                    sql = " UNION ALL ".join(
                        f"SELECT '{t}', {self.row_json_sql} FROM {t} x WHERE x.{TABLES[t].customer_column} IN ({marks})"
                        for t in live
                    )
                    extra = [(str(a), str(b)) for a, b in self.con.execute(sql, members * len(live)).fetchall()]
            except duckdb.Error as exc:
                raise _translate(exc, self.path) from exc
        out: dict[str, list[dict[str, Any]]] = {}
        for _, _, _, doc in rows:
            for table, items in json.loads(doc).items():
                if (wanted is None and table == "promise_status") or (wanted is not None and table not in wanted):
                    continue
                out.setdefault(table, []).extend(typed_row(table, r) for r in items)
        for table, text in extra:
            out.setdefault(table, []).append(typed_row(table, json.loads(text)))
        return person_ids(customer_id, out), out

    def _person_rows(self, sql: str, params: list[Any]) -> list[tuple[str, str]]:
        # The person query is the hot path of the brief, the timeline and the guard, and its
        # text only changes when tables are added: preparing it once per connection saves the
        # parse and bind (~25% of a call, measured), and fetchall skips an Arrow conversion.
        with self._lock:
            name = self._prepared.get(sql)
            try:
                if name is None:
                    name = f"gw_person_{len(self._prepared)}"
                    self.con.execute(f"PREPARE {name} AS {sql}")
                    self._prepared[sql] = name
                literals = ", ".join("'" + str(p).replace("'", "''") + "'" for p in params)
                return [(str(t), str(j)) for t, j in self.con.execute(f"EXECUTE {name}({literals})").fetchall()]
            except duckdb.Error as exc:
                raise _translate(exc, self.path) from exc

    def execute(self, sql: str, params: Params = None) -> int:
        with self._lock:
            self._note_write(sql)
            self._wrote(sql)
            try:
                cur = self.con.execute(sql, list(params) if params is not None else None)
                try:
                    rows = cur.fetchall()
                except duckdb.Error:
                    return -1
                if len(rows) == 1 and len(rows[0]) == 1 and isinstance(rows[0][0], int):
                    return int(rows[0][0])
                return -1
            except duckdb.Error as exc:
                raise _translate(exc, self.path) from exc

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            self.con.execute("BEGIN TRANSACTION")
            try:
                yield
            except BaseException:
                self.con.execute("ROLLBACK")
                # A rollback may have brought back documents dropped inside it: believe the
                # file, not the flag (stale documents must never be read).
                self._docs = self._docs_exist()
                if self._docs:
                    self.drop_person_docs()
                raise
            else:
                self.con.execute("COMMIT")

    def query(self, sql: str, params: Params = None) -> pa.Table:
        with self._lock:
            self._note_write(sql)
            self._wrote(sql)
            try:
                rel = self.con.sql(sql, params=list(params) if params is not None else None)
                if rel is None:
                    return pa.table({})
                return rel.to_arrow_table()
            except duckdb.Error as exc:
                raise _translate(exc, self.path) from exc

    def scan(self, sql: str, params: Params = None, *, batch_size: int = 65_536) -> Iterator[pa.RecordBatch]:
        # A cursor of its own, so the scan can be read while the store is used for writes.
        cur = self.con.cursor()
        cur.execute(f"USE {CATALOG}")  # a cursor starts in the in-memory catalog
        try:
            rel = cur.sql(sql, params=list(params) if params is not None else None)
            if rel is not None:
                yield from rel.to_arrow_reader(batch_size)
        except duckdb.Error as exc:
            raise _translate(exc, self.path) from exc
        finally:
            cur.close()

    def _append(self, table: Table, data: pa.Table, *, dedupe: bool) -> int:
        cols = ", ".join(table.column_names)
        pk = ", ".join(table.primary_key)
        with self._lock:
            self.con.register("_gw_batch", data)
            try:
                params: list[Any] | None = None
                if not dedupe:
                    sql = f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM _gw_batch"
                else:
                    repeats, lo, hi = self._repeats(table.primary_key)
                    source = "_gw_batch"
                    if repeats:
                        source = f"(SELECT * FROM _gw_batch QUALIFY row_number() OVER (PARTITION BY {pk}) = 1)"
                    # ANTI JOIN lets DuckDB hash the (small) batch rather than the stored table;
                    # a PRIMARY KEY index would make every append ~5x slower (measured).
                    # The stored side is cut to the batch's range of the key's first column:
                    # DuckDB pushes no join filter into an anti join's probe side, so without
                    # the range every batch read the key of every stored row (an ingest grew
                    # with the square of the store: 10M rows took 17x the CPU of 1M). With
                    # the bounds as values of the statement, the scan skips each row group
                    # whose min/max lie outside them: near-free when keys arrive in rising
                    # order, as time-ordered ids do. A batch of scattered keys, or keys that
                    # differ only after their first ~12 bytes (DuckDB's string min/max look
                    # no further, measured on 2.0.1), reads what it read before, plus the
                    # comparison with the bounds (5% slower for random keys, measured). A stored
                    # row outside the range cannot equal a key of the batch: nothing else changes.
                    first = table.primary_key[0]
                    sql = (
                        f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM {source} b "
                        f"ANTI JOIN (SELECT {pk} FROM {table.name} WHERE {first} BETWEEN ? AND ?) t "
                        f"USING ({pk})"
                    )
                    params = [lo, hi]
                rows = self.con.execute(sql, params).fetchall()
                added = int(rows[0][0]) if rows else 0
                if added and self._docs and table.name in pdocs.covered_tables():
                    if table.customer_column is None:
                        # customer_links or promise_status: who belongs to whom, or a verdict, changed.
                        self.drop_person_docs()
                    else:
                        col = data.column(table.customer_column)
                        self._forget({str(v) for v in col.unique().to_pylist() if v is not None})
                return added
            except duckdb.Error as exc:
                raise _translate(exc, self.path) from exc
            finally:
                self.con.unregister("_gw_batch")

    def _repeats(self, key: tuple[str, ...]) -> tuple[bool, Any, Any]:
        """Whether a key repeats within the registered batch, and the lowest and highest value
        of the key's first column in it (one pass for both)."""
        # Counted by DuckDB on the registered batch: Arrow's count_distinct over 262k string
        # keys took 12x as long (1.3 s against 0.11 s, measured) and was a quarter of an ingest.
        k = key[0] if len(key) == 1 else "(" + ", ".join(key) + ")"
        rows = self.con.execute(
            f"SELECT count(*) <> count(DISTINCT {k}), min({key[0]}), max({key[0]}) FROM _gw_batch"
        ).fetchall()
        return bool(rows[0][0]), rows[0][1], rows[0][2]

    def optimize(self, tables: Sequence[str] | None = None) -> None:
        names = tables or [t for t in TABLES if self.table_exists(t)]
        with self._lock:
            for name in names:
                t = TABLES[name]
                if not t.sort_key or not self.table_exists(name):
                    continue
                order = ", ".join(t.sort_key)
                stored = [c[0] for c in self.con.execute(f"SELECT * FROM {name} LIMIT 0").description]
                self.con.execute("BEGIN TRANSACTION")
                try:
                    if stored == t.column_names:
                        ddl = create_table_sql(t, "duckdb", primary_key=False)
                        self.con.execute(ddl.replace(f"IF NOT EXISTS {name} (", "_gw_sorted (", 1))
                        self.con.execute(f"INSERT INTO _gw_sorted SELECT * FROM {name} ORDER BY {order}")
                    else:
                        # A table made by another version of its package: sort it as it is
                        # stored rather than drop or misplace the columns it has.
                        self.con.execute(f"CREATE TABLE _gw_sorted AS SELECT * FROM {name} ORDER BY {order}")
                    self.con.execute(f"DROP TABLE {name}")
                    self.con.execute(f"ALTER TABLE _gw_sorted RENAME TO {name}")
                    self.con.execute("COMMIT")
                except duckdb.Error as exc:
                    self.con.execute("ROLLBACK")
                    raise _translate(exc, self.path) from exc
            if tables is None and not self.read_only:
                self.build_person_docs()
            self.con.execute("CHECKPOINT")

    # What the last compact() did: {"mode": "in place" | "copy", ...} (read by tests and benchmarks).
    last_compaction: dict[str, Any] = {}  # noqa: RUF012 - replaced, never mutated

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Keep this process's other threads off the store across several calls (an erasure's
        plan must still describe the table when its transaction runs)."""
        with self._lock:
            yield

    def erase_plan(self, selections: Sequence[tuple[str, str, Sequence[Any]]]) -> duck_erase.ErasePlan:
        """Which row groups to rewrite so that the selected rows' bytes can leave the file.

        Each selection is ``(table, where, params)``. Call before those rows change, outside a
        transaction (it checkpoints), then :meth:`erase_rewrite` in the transaction that deletes
        or overwrites them, and later :meth:`compact` with ``in_place=True``."""
        with self._lock:
            try:
                return duck_erase.plan_erasure(self.con, selections)
            except duckdb.Error as exc:
                raise _translate(exc, self.path) from exc

    def erase_rewrite(self, plan: duck_erase.ErasePlan) -> dict[str, int]:
        """Rewrite the planned row groups (inside the erasing transaction, after its writes)."""
        with self._lock:
            try:
                return duck_erase.apply_erasure(self.con, plan)
            except duckdb.Error as exc:
                raise _translate(exc, self.path) from exc

    def compact(self, tables: Sequence[str] | None = None, *, in_place: bool = False) -> None:
        """Remove the bytes of deleted rows from the file.

        ``in_place`` is for rows removed through :meth:`erase_rewrite`: the file is then scrubbed
        where it lies (goodwill.store.duck_erase), at a cost that does not grow with the store.
        Otherwise, or where the file does not allow the scrub, the database is copied into a
        fresh file that replaces the old one (DELETE + CHECKPOINT leaves old values in blocks,
        measured), which costs the size of the store.
        """
        with self._lock:
            if self.path == ":memory:":
                self.con.execute("CHECKPOINT")
                return
            if in_place:
                try:
                    self.last_compaction = {"mode": "in place", **self._scrub()}
                    return
                except duck_erase.ScrubUnavailable as exc:
                    why = str(exc)
            else:
                why = "rows were not removed through erase_rewrite"
            self.con.execute("CHECKPOINT")
            self._copy_into_fresh_file()
            self.last_compaction = {"mode": "copy", "why": why}

    def _scrub(self) -> dict[str, Any]:
        try:
            with duck_erase.metadata_reuse_off(self.con):
                # Every table's metadata and statistics written afresh: nothing stale stays in a
                # slot that is still in use, and the old slots and blocks become free. A change
                # makes sure the checkpoint runs even if an automatic one left nothing to do.
                self.con.execute("CREATE TABLE IF NOT EXISTS _gw_scrub_mark (x INTEGER)")
                self.con.execute("DROP TABLE _gw_scrub_mark")
                self.con.execute("CHECKPOINT")
                snap = duck_erase.snapshot(self.con)
        except duckdb.Error as exc:
            raise _translate(exc, self.path) from exc
        self.con.close()
        try:
            probe = duckdb.connect(":memory:")
            try:
                # A connection this process forgot to close would still hold the file, and would
                # overwrite what we change: then we must not touch it.
                probe.execute(f"ATTACH '{self.path.replace(chr(39), chr(39) * 2)}' AS gw_probe (READ_ONLY)")
                probe.execute("DETACH gw_probe")
            except duckdb.Error as exc:
                raise duck_erase.ScrubUnavailable(f"the file is still open elsewhere: {exc}") from exc
            finally:
                probe.close()
            cleaned = duck_erase.scrub_file(self.path, snap)
        finally:
            self._reopen()
        return cleaned

    def _reopen(self) -> None:
        self._prepared.clear()  # prepared statements die with the connection
        self._known.clear()
        try:
            self.con = self._connect()
        except StoreError as exc:
            raise StoreError(f"Could not reopen {self.path} after compaction: {exc}") from exc
        self._docs = self._docs_exist()

    def _copy_into_fresh_file(self) -> None:
        target = Path(self.path)
        fresh = target.with_name(target.name + ".gw-compact")
        for p in (fresh, Path(str(fresh) + ".wal")):
            p.unlink(missing_ok=True)
        self.con.execute(f"ATTACH '{fresh}' AS gw_compact (ROW_GROUP_SIZE {self.row_group_size})")
        try:
            self.con.execute(f'COPY FROM DATABASE "{CATALOG}" TO gw_compact')
        finally:
            self.con.execute("DETACH gw_compact")
        with open(fresh, "rb+") as fh:
            os.fsync(fh.fileno())
        self.con.close()
        os.replace(fresh, target)
        Path(str(target) + ".wal").unlink(missing_ok=True)
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self._reopen()
