"""Erasing rows from a DuckDB file so that their bytes leave the file, without copying the file.

DuckDB never overwrites a block in place and keeps old bytes in four places (each seen in a
test that searches the file; see benchmarks/results/rights.md):

1. A DELETE only marks rows: their values stay in the column segments until the row group is
   rewritten, which a checkpoint does not promise.
2. Small segments of different row groups, and of different tables, share one 256 KiB block, so
   a rewritten row group can leave its old bytes in a block that another row group keeps alive.
3. Freed blocks keep their bytes, and so do freed 4 KiB slots of metadata blocks, which hold each
   row group's min/max statistics (the first 12 bytes of the values at its edges).
4. A checkpoint reuses unchanged tables' metadata in place, so a slot still in use can hold
   stale bytes of another table next to the reused part.

Erasure therefore works by blocks. :func:`plan_erasure` finds the segments that hold the
person's rows and every row group with a segment in the same blocks; :func:`apply_erasure`,
inside the transaction that deletes the rows, re-inserts those row groups' other rows and
deletes the originals, so the next checkpoint drops them and no live segment is left in those
blocks. The compaction then checkpoints once with metadata reuse switched off, so that all
metadata is written afresh and each table's statistics are recomputed from its row groups, and
with the database closed :func:`scrub_file` punches out (or zeroes) every block in DuckDB's own
free list and zeroes every free metadata slot, recomputing the block's checksum, through a redo
journal so that a crash cannot leave a torn block behind (:func:`recover` finishes it on the
next open). The cost follows the rewritten row groups and the metadata, not the file's size.

Each step checks what it assumes about the file (header and block checksums, that the free list
read from the file agrees with what DuckDB reports, that no other connection holds the file) and
raises :class:`ScrubUnavailable` otherwise; the store then copies the whole database instead.
"""

from __future__ import annotations

import bisect
import contextlib
import ctypes
import ctypes.util
import hashlib
import os
import struct
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

__all__ = [
    "ErasePlan",
    "ScrubUnavailable",
    "SnapShot",
    "apply_erasure",
    "journal_path",
    "metadata_reuse_off",
    "plan_erasure",
    "recover",
    "scrub_file",
    "snapshot",
]

# DuckDB's file layout (storage version of DuckDB 2.0): a main header and two database headers of
# 4 KiB each, then blocks; every block and header starts with an 8-byte checksum of the rest.
HEADER_SIZE = 4096
BLOCKS_START = 3 * HEADER_SIZE
CHECKSUM_SIZE = 8
METADATA_SLOTS = 64
_END = 0xFFFF_FFFF_FFFF_FFFF
_BLOCK_MASK = (1 << 56) - 1
_CHECKSUM_SEED = 5381
_CHECKSUM_MUL = np.uint64(0xBF58476D1CE4E5B9)
_JOURNAL_MAGIC = b"GWSCRUB1"
# fallocate(2) flags: free the range but keep the file's size.
_FALLOC_PUNCH = 0x01 | 0x02


class ScrubUnavailable(Exception):
    """The in-place scrub cannot be done safely on this file; copy the database instead."""


def journal_path(path: str | Path) -> Path:
    return Path(str(path) + ".gw-scrub")


# -- layout of the tables ---------------------------------------------------------------------
#
# DuckDB 2 keeps a row's rowid when row groups before it are dropped (rowids have gaps), and does
# not report where a row group's rowids start, so row groups are found by their statistics:
# every row of a row group lies within its min/max in every column, which is what DuckDB's own
# zone maps rely on. Matching by statistics can only over-reach (rewrite a row group more).

# DuckDB keeps this many leading bytes of a string's min and max.
STRING_STATS_BYTES = 12
_COMPARABLE = (
    "VARCHAR", "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "UBIGINT", "UINTEGER", "BOOLEAN", "DATE", "TIMESTAMP",
    "TIMESTAMP WITH TIME ZONE",
)


@dataclass(frozen=True)
class _Range:
    """A column's statistics in one row group or segment."""

    has_null: bool
    has_value: bool
    low: Any = None  # None where unknown
    high: Any = None
    truncated: bool = False  # a string maximum cut to its first bytes

    def holds(self, value: Any) -> bool:
        """Whether ``value`` may lie here (never False for a value that does)."""
        if value is None:
            return self.has_null
        if not self.has_value:
            return False
        if self.low is None or self.high is None:
            return True
        try:
            if isinstance(value, str):
                v = value.encode()
                high = self.high.encode()
                return bool(v >= self.low.encode() and (v[: len(high)] <= high if self.truncated else v <= high))
            return bool(self.low <= value <= self.high)
        except TypeError:
            return True

    def sql(self, column: str) -> tuple[str, list[Any]] | None:
        """A predicate every value here satisfies (None: nothing to say)."""
        if not self.has_value:
            return (f'"{column}" IS NULL', []) if self.has_null else None
        if self.low is None or self.high is None:
            return None
        high = self.high
        if self.truncated:
            upper = _successor(str(high))
            if upper is None:
                cond, params = f'"{column}" >= ?', [self.low]
            else:
                cond, params = f'"{column}" >= ? AND "{column}" < ?', [self.low, upper]
        else:
            cond, params = f'"{column}" BETWEEN ? AND ?', [self.low, high]
        if self.has_null:
            cond = f'({cond} OR "{column}" IS NULL)'
        return cond, params


def _successor(prefix: str) -> str | None:
    """The least string above every string that starts with ``prefix`` (code points sort as UTF-8 bytes)."""
    chars = list(prefix)
    while chars:
        last = ord(chars.pop())
        nxt = last + 1
        if 0xD800 <= nxt <= 0xDFFF:
            nxt = 0xE000
        if nxt <= 0x10FFFF:
            return "".join(chars) + chr(nxt)
    return None


def _range(stats: Any, comparable: bool, updated: bool) -> _Range | None:
    if not isinstance(stats, dict):
        return None
    has_null = bool(stats.get("has_null", True))
    has_value = bool(stats.get("has_no_null", True))
    if updated:
        # A segment's own statistics leave out its pending updates.
        return _Range(True, True)
    low, high = stats.get("min"), stats.get("max")
    if not comparable or isinstance(low, float) or isinstance(high, float):
        return _Range(has_null, has_value)
    if isinstance(low, str) or isinstance(high, str):
        text = f"{low}{high}"
        # Strings come escaped (a quote shows as \x22), or cut inside a character: no bound.
        if "\\" in text or "\ufffd" in text:
            return _Range(has_null, has_value)
    truncated = isinstance(high, str) and len(high.encode()) >= STRING_STATS_BYTES
    return _Range(has_null, has_value, low, high, truncated)


def _merge(a: _Range | None, b: _Range | None) -> _Range | None:
    if a is None or b is None:
        return None
    low = high = None
    truncated = False
    if a.has_value and b.has_value and None not in (a.low, a.high, b.low, b.high):
        try:
            low = a.low if _key(a.low) <= _key(b.low) else b.low
            high, truncated = (a.high, a.truncated) if _key(a.high) >= _key(b.high) else (b.high, b.truncated)
        except TypeError:
            low = high = None
    elif a.has_value != b.has_value:
        one = a if a.has_value else b
        low, high, truncated = one.low, one.high, one.truncated
    return _Range(a.has_null or b.has_null, a.has_value or b.has_value, low, high, truncated)


def _key(v: Any) -> Any:
    return v.encode() if isinstance(v, str) else v


@dataclass
class _Segment:
    column: int
    blocks: frozenset[int]
    nested: bool  # a child column: its values are not the row's own
    range: _Range | None


@dataclass
class _RowGroup:
    segments: list[_Segment] = field(default_factory=list)
    columns: dict[int, _Range | None] = field(default_factory=dict)  # column -> its statistics

    def blocks(self) -> set[int]:
        return {b for seg in self.segments for b in seg.blocks}

    def may_hold(self, row: Sequence[Any]) -> bool:
        return all(r is None or r.holds(row[c]) for c, r in self.columns.items() if c < len(row))

    def may_hold_any(self, values: dict[int, _Values]) -> bool:
        """Whether each column may hold one of the rows' values (not necessarily the same row's):
        a quick test before looking row by row."""
        return all(r is None or c not in values or values[c].any_in(r) for c, r in self.columns.items())


class _Values:
    """One column's values in the selected rows, sorted for range tests."""

    def __init__(self, values: list[Any]) -> None:
        present = [v for v in values if v is not None]
        self.null = len(present) < len(values)
        self.text = sorted(v.encode() for v in present if isinstance(v, str))
        self.other: list[Any] | None
        try:
            self.other = sorted(v for v in present if not isinstance(v, str))
        except TypeError:
            self.other = None

    def any_in(self, r: _Range) -> bool:
        if self.null and r.has_null:
            return True
        if not r.has_value or not (self.text or self.other is None or self.other):
            return False
        if r.low is None or r.high is None or self.other is None:
            return True
        try:
            if isinstance(r.low, str):
                low, high = r.low.encode(), r.high.encode()
                # A string whose first bytes equal a cut maximum is below it followed by 0xFF,
                # a byte UTF-8 never uses.
                i = bisect.bisect_left(self.text, low)
                return i < len(self.text) and (self.text[i] < high + b"\xff" if r.truncated else self.text[i] <= high)
            j = bisect.bisect_left(self.other, r.low)
            return j < len(self.other) and self.other[j] <= r.high
        except TypeError:
            return True


def _tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND NOT temporary ORDER BY table_name"
    ).fetchall()
    return [str(r[0]) for r in rows]


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    return [(str(r[0]), str(r[1])) for r in con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {table})").fetchall()]


def _layout(con: duckdb.DuckDBPyConnection, table: str) -> dict[int, _RowGroup]:
    comparable = [t.split("(")[0] in _COMPARABLE for _, t in _columns(con, table)]
    rows = con.execute(
        "SELECT row_group_id, column_id, column_path, segment_type, block_id, additional_block_ids, stats, has_updates "
        f"FROM pragma_storage_info('{table}')"
    ).fetchall()
    groups: dict[int, _RowGroup] = {}
    for rg, column, path, kind, block, extra, stats, updated in rows:
        group = groups.setdefault(int(rg), _RowGroup())
        depth = str(path).count(",")
        top = depth == 0
        rng = _range(stats, comparable[column], bool(updated)) if top and column < len(comparable) else None
        if top:
            group.columns[column] = _merge(group.columns[column], rng) if column in group.columns else rng
        if block is not None and block >= 0:
            # A validity child counts the table's rows; any other child counts its own.
            nested = depth > 1 or (depth == 1 and kind != "VALIDITY")
            blocks = frozenset({int(block), *(int(b) for b in (extra or []))})
            group.segments.append(_Segment(int(column), blocks, nested, rng))
    return groups


@dataclass(frozen=True)
class ErasePlan:
    """Predicates of the row groups to rewrite, per table, and the blocks that made them dirty.

    ``selected`` keeps the selected rows' rowids (stable within the erasing transaction): a
    row that the transaction overwrites no longer matches its row group's old statistics."""

    rewrite: dict[str, list[tuple[str, list[Any]]]]
    blocks: frozenset[int]
    selected: dict[str, list[int]] = field(default_factory=dict)


def plan_erasure(con: duckdb.DuckDBPyConnection, selections: Sequence[tuple[str, str, Sequence[Any]]]) -> ErasePlan:
    """The row groups to rewrite so that no live segment keeps a selected row's bytes.

    A selected row's bytes lie in the segments that may hold it (in each column where it is not
    NULL), and those segments' blocks may also hold other row groups' small segments: every
    row group with a segment in one of those blocks is rewritten. Checkpoints first, so that
    every row is in a persistent row group (rows still in the WAL have no block yet, and the
    checkpoint truncates the WAL). Nothing is changed here."""
    con.execute("CHECKPOINT")
    keyed = {
        str(r[0])
        for r in con.execute(
            "SELECT DISTINCT table_name FROM duckdb_constraints() WHERE database_name = current_database() "
            "AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')"
        ).fetchall()
    }
    layouts = {t: _layout(con, t) for t in _tables(con)}
    dirty: set[int] = set()
    selected: dict[str, list[int]] = {}
    for table, where, params in selections:
        groups = layouts.get(table)
        if not groups:
            continue
        found = con.execute(f"SELECT rowid, * FROM {table} WHERE {where}", list(params)).fetchall()
        if not found:
            continue
        if table in keyed:
            # Its key's ART index keeps deleted keys' bytes in blocks that stay in use.
            raise ScrubUnavailable(f"{table} has a primary key or unique constraint")
        selected.setdefault(table, []).extend(int(r[0]) for r in found)
        rows = [r[1:] for r in found]
        values = {c: _Values([r[c] for r in rows]) for c in range(len(rows[0]))}
        for group in groups.values():
            if not group.may_hold_any(values):
                continue
            for row in rows:
                if not group.may_hold(row):
                    continue
                for seg in group.segments:
                    value = row[seg.column] if seg.column < len(row) else None
                    # A NULL leaves only validity bits, no bytes of the person's.
                    if value is not None and (seg.nested or seg.range is None or seg.range.holds(value)):
                        dirty |= seg.blocks
    rewrite: dict[str, list[tuple[str, list[Any]]]] = {}
    for table, groups in layouts.items():
        names = [n for n, _ in _columns(con, table)] if any(g.blocks() & dirty for g in groups.values()) else []
        for group in groups.values():
            if not group.blocks() & dirty:
                continue
            parts = [p for c, r in sorted(group.columns.items()) if r is not None and (p := r.sql(names[c])) is not None]
            where = " AND ".join(p[0] for p in parts) or "true"
            rewrite.setdefault(table, []).append((where, [v for p in parts for v in p[1]]))
    return ErasePlan(rewrite, frozenset(dirty), {t: sorted(set(r)) for t, r in selected.items()})


def apply_erasure(con: duckdb.DuckDBPyConnection, plan: ErasePlan) -> dict[str, int]:
    """Rewrite the planned row groups: rows rewritten per table.

    Run inside the transaction that deleted and overwrote the rows, after those writes: the
    copies then have the rows as they now are (the deleted ones left out), and the row groups
    that held the old bytes are emptied, so the next checkpoint drops them and frees their
    blocks. Copies get rowids above every row there was, so a later DELETE cannot reach them,
    and a row that more than one row group's predicate covers is moved once."""
    rewritten: dict[str, int] = {}
    for table in sorted(set(plan.rewrite) | set(plan.selected)):
        top = con.execute(f"SELECT max(rowid) FROM {table}").fetchall()[0][0]
        if top is None:
            continue
        moved = 0
        groups = list(plan.rewrite.get(table, []))
        if plan.selected.get(table):
            groups.insert(0, (f"rowid IN ({', '.join(str(r) for r in plan.selected[table])})", []))
        for where, params in groups:
            inside = f"({where}) AND rowid <= {int(top)}"
            # Out, then back in: a key constraint would refuse the copy while the original is there.
            con.execute(f"CREATE TEMP TABLE _gw_move AS SELECT * FROM {table} WHERE {inside}", params).fetchall()
            con.execute(f"DELETE FROM {table} WHERE {inside}", params).fetchall()
            rows = con.execute(f"INSERT INTO {table} SELECT * FROM _gw_move").fetchall()
            con.execute("DROP TABLE _gw_move").fetchall()
            moved += int(rows[0][0]) if rows else 0
        rewritten[table] = moved
    return rewritten


@contextlib.contextmanager
def metadata_reuse_off(con: duckdb.DuckDBPyConnection) -> Any:
    """Make checkpoints write every table's metadata afresh instead of reusing slots in place."""
    try:
        before = con.execute("SELECT current_setting('experimental_metadata_reuse')").fetchall()[0][0]
        con.execute("SET experimental_metadata_reuse = false")
    except duckdb.Error as exc:
        raise ScrubUnavailable(f"this DuckDB cannot switch metadata reuse off: {exc}") from exc
    try:
        yield
    finally:
        with contextlib.suppress(duckdb.Error):
            con.execute(f"SET experimental_metadata_reuse = {'true' if before else 'false'}")


# -- the file itself ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SnapShot:
    """What DuckDB reported about its blocks just before the database was closed."""

    block_size: int
    total_blocks: int
    free_blocks: int
    metadata: dict[int, frozenset[int]]  # metadata block -> its free slots


def snapshot(con: duckdb.DuckDBPyConnection) -> SnapShot:
    size = con.execute(
        "SELECT block_size, total_blocks, free_blocks FROM pragma_database_size() WHERE database_name = current_database()"
    ).fetchall()
    if not size:
        raise ScrubUnavailable("pragma_database_size() did not describe the database")
    if con.execute("SELECT count(*) FROM duckdb_indexes() WHERE database_name = current_database()").fetchall()[0][0]:
        # An ART index keeps deleted keys' bytes in blocks that stay in use.
        raise ScrubUnavailable("the database has indexes")
    meta = {int(b): frozenset(int(i) for i in (free or [])) for b, free in con.execute("SELECT block_id, free_list FROM pragma_metadata_info()").fetchall()}
    bs, total, free = (int(v) for v in size[0])
    return SnapShot(bs, total, free, meta)


def checksum(data: bytes | memoryview) -> int:
    """DuckDB's block checksum: 5381 xor-ed with each 8-byte word times a constant."""
    words = np.frombuffer(data, dtype="<u8")
    with np.errstate(over="ignore"):
        mixed = np.bitwise_xor.reduce(words * _CHECKSUM_MUL) if len(words) else np.uint64(0)
    return _CHECKSUM_SEED ^ int(mixed)


def _slot_size(block_size: int) -> int:
    return ((block_size - CHECKSUM_SIZE) // METADATA_SLOTS) // 8 * 8


@dataclass
class _FileState:
    block_count: int
    free: list[int]
    metadata: dict[int, set[int]]  # metadata block -> free slots, from the file


def _read_block(fd: int, block: int, block_size: int) -> bytes:
    data = os.pread(fd, block_size, BLOCKS_START + block * block_size)
    if len(data) != block_size:
        raise ScrubUnavailable(f"block {block} lies past the end of the file")
    stored = struct.unpack_from("<Q", data, 0)[0]
    if checksum(data[CHECKSUM_SIZE:]) != stored:
        raise ScrubUnavailable(f"block {block}'s checksum is not the one this code computes")
    return data


def _read_state(fd: int, block_size: int) -> _FileState:
    headers = []
    for loc in (HEADER_SIZE, 2 * HEADER_SIZE):
        raw = os.pread(fd, HEADER_SIZE, loc)
        if len(raw) != HEADER_SIZE or checksum(raw[CHECKSUM_SIZE:]) != struct.unpack_from("<Q", raw, 0)[0]:
            raise ScrubUnavailable("a database header does not check out")
        iteration, _meta, free_list, block_count, alloc = struct.unpack_from("<QQQQQ", raw, CHECKSUM_SIZE)
        headers.append((iteration, free_list, block_count, alloc))
    iteration, free_list, block_count, alloc = max(headers)
    if alloc != block_size:
        raise ScrubUnavailable(f"header block size {alloc} is not {block_size}")
    if free_list == _END:
        return _FileState(block_count, [], {})
    slot = _slot_size(block_size)
    cache: dict[int, bytes] = {}
    buf = bytearray()
    pointer = free_list
    for _ in range(1_000_000):
        if pointer == _END:
            break
        block, index = pointer & _BLOCK_MASK, pointer >> 56
        if block >= block_count or index >= METADATA_SLOTS:
            raise ScrubUnavailable("the free list points outside the file")
        data = cache.get(block) or cache.setdefault(block, _read_block(fd, block, block_size))
        start = CHECKSUM_SIZE + index * slot
        pointer = struct.unpack_from("<Q", data, start)[0]
        buf += data[start + 8 : start + slot]
    try:
        pos = 0
        (n,) = struct.unpack_from("<Q", buf, pos)
        pos += 8
        free = list(struct.unpack_from(f"<{n}q", buf, pos))
        pos += 8 * n
        (m,) = struct.unpack_from("<Q", buf, pos)
        pos += 8 + 12 * m  # multi-use blocks: (block id, count) pairs
        (k,) = struct.unpack_from("<Q", buf, pos)
        pos += 8
        metadata: dict[int, set[int]] = {}
        for _ in range(k):
            block, mask = struct.unpack_from("<qQ", buf, pos)
            pos += 16
            metadata[int(block)] = {i for i in range(METADATA_SLOTS) if mask >> i & 1}
    except struct.error as exc:
        raise ScrubUnavailable(f"the free list does not parse: {exc}") from exc
    if len(set(free)) != len(free) or any(b < 0 or b >= block_count for b in free):
        raise ScrubUnavailable("the free list names impossible blocks")
    return _FileState(block_count, sorted(free), metadata)


def _punch(fd: int, offset: int, length: int) -> bool:
    """Deallocate a byte range (reads return zeros); False where the file system cannot."""
    name = ctypes.util.find_library("c")
    if not name or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        fallocate = libc.fallocate
    except (OSError, AttributeError):
        return False
    fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    fallocate.restype = ctypes.c_int
    return bool(fallocate(fd, _FALLOC_PUNCH, offset, length) == 0)


def _runs(blocks: Iterable[int]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for b in sorted(blocks):
        if out and out[-1][1] == b:
            out[-1][1] = b + 1
        else:
            out.append([b, b + 1])
    return [(a, b) for a, b in out]


def _write_journal(path: Path, blocks: dict[int, bytes]) -> None:
    body = bytearray(_JOURNAL_MAGIC + struct.pack("<Q", len(blocks)))
    for block, data in sorted(blocks.items()):
        body += struct.pack("<qQ", block, len(data)) + data
    body += hashlib.sha256(body).digest()
    with open(path, "wb") as fh:
        fh.write(body)
        fh.flush()
        os.fsync(fh.fileno())
    _sync_dir(path.parent)


def _read_journal(path: Path) -> dict[int, bytes] | None:
    """The journal's blocks, or None when it was not completely written (the crash came first)."""
    raw = path.read_bytes()
    if len(raw) < len(_JOURNAL_MAGIC) + 8 + 32 or not raw.startswith(_JOURNAL_MAGIC):
        return None
    body, digest = raw[:-32], raw[-32:]
    if hashlib.sha256(body).digest() != digest:
        return None
    (n,) = struct.unpack_from("<Q", body, len(_JOURNAL_MAGIC))
    pos = len(_JOURNAL_MAGIC) + 8
    out: dict[int, bytes] = {}
    for _ in range(n):
        block, length = struct.unpack_from("<qQ", body, pos)
        pos += 16
        out[int(block)] = bytes(body[pos : pos + length])
        pos += length
    return out


def _lock(fd: int) -> None:
    """Hold the file against other processes (DuckDB takes the same fcntl lock to open it)."""
    try:
        import fcntl
    except ImportError as exc:  # pragma: no cover - Windows
        raise ScrubUnavailable("no fcntl locks on this platform") from exc
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        raise ScrubUnavailable(f"another process opened the file: {exc}") from exc


def _sync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _apply(fd: int, blocks: dict[int, bytes], block_size: int) -> None:
    for block, data in blocks.items():
        os.pwrite(fd, data, BLOCKS_START + block * block_size)
    os.fsync(fd)


def recover(path: str | Path) -> bool:
    """Finish a scrub that a crash interrupted (before DuckDB opens the file); True if it did.

    The journal holds the new contents of the metadata blocks (free slots zeroed, checksum
    recomputed), so writing it again is always right; a journal cut short means the file had
    not been touched yet."""
    journal = journal_path(path)
    if not journal.exists():
        return False
    blocks = _read_journal(journal)
    if blocks:
        size = len(next(iter(blocks.values())))
        fd = os.open(path, os.O_RDWR)
        try:
            try:
                _lock(fd)
            except ScrubUnavailable:
                # The process holding the file recovered it when it opened it.
                return False
            _apply(fd, blocks, size)
        finally:
            os.close(fd)
    journal.unlink()
    _sync_dir(journal.parent)
    return blocks is not None


def scrub_file(path: str | Path, before: SnapShot) -> dict[str, int]:
    """Zero what DuckDB's free list says is free: whole blocks and metadata slots.

    Call with the database closed in every connection of this process. Returns counts."""
    path = Path(path)
    if Path(str(path) + ".wal").exists() and Path(str(path) + ".wal").stat().st_size > 0:
        raise ScrubUnavailable("the write-ahead log is not empty")
    bs = before.block_size
    # One descriptor for everything: closing any other one on this file would drop the lock.
    fd = os.open(path, os.O_RDWR)
    try:
        _lock(fd)
        state = _read_state(fd, bs)
        in_file = (os.fstat(fd).st_size - BLOCKS_START) // bs
        # DuckDB truncates free blocks at the end of the file after writing the list. The list
        # in the file may name more blocks than DuckDB counted: blocks freed while something in
        # memory still held them, free for good once the database is closed.
        free = [b for b in state.free if b < in_file]
        if len(free) < before.free_blocks or set(free) & set(before.metadata):
            raise ScrubUnavailable(
                f"the free list in the file ({len(free)} blocks) does not match DuckDB's ({before.free_blocks})"
            )
        # The list ends with every metadata block and its free slots: matching what DuckDB
        # reported shows the whole list was read in step.
        if {b: frozenset(s) for b, s in state.metadata.items()} != before.metadata:
            raise ScrubUnavailable("the metadata blocks in the file are not the ones DuckDB reported")
        slot = _slot_size(bs)
        new_blocks: dict[int, bytes] = {}
        zero_slots = 0
        for block, slots in state.metadata.items():
            data = bytearray(_read_block(fd, block, bs))
            old = bytes(data)
            for i in slots:
                start = CHECKSUM_SIZE + i * slot
                data[start : start + slot] = bytes(slot)
            # Past the last slot DuckDB writes zeros; make sure of it.
            data[CHECKSUM_SIZE + METADATA_SLOTS * slot :] = bytes(bs - CHECKSUM_SIZE - METADATA_SLOTS * slot)
            struct.pack_into("<Q", data, 0, checksum(bytes(data[CHECKSUM_SIZE:])))
            if bytes(data) != old:
                new_blocks[block] = bytes(data)
                zero_slots += len(slots)
        punched = 0
        for a, b in _runs(free):
            if not _punch(fd, BLOCKS_START + a * bs, (b - a) * bs):
                os.pwrite(fd, bytes((b - a) * bs), BLOCKS_START + a * bs)
            punched += b - a
        os.fsync(fd)
        if new_blocks:
            journal = journal_path(path)
            _write_journal(journal, new_blocks)
            _apply(fd, new_blocks, bs)
            journal.unlink()
            _sync_dir(path.parent)
    finally:
        os.close(fd)
    return {"free_blocks": punched, "metadata_blocks": len(new_blocks), "metadata_slots": zero_slots}
