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

Erasure therefore works by blocks. Before anything is deleted, :func:`locate` records every
block holding a segment of a row group that holds one of the person's rows. After the DELETEs,
:func:`rewrite_blocks` deletes and re-inserts every row group with a segment in one of those
blocks, so that no live segment is left in them, and a checkpoint with metadata reuse switched
off writes all metadata afresh (and recomputes each table's statistics from its row groups).
Then, with the database closed, :func:`scrub_file` punches out (or zeroes) every block in
DuckDB's own free list and zeroes every free metadata slot, recomputing that block's checksum,
through a redo journal so that a crash cannot leave a torn block behind (:func:`recover` finishes
it on the next open). The cost follows the rewritten row groups, not the size of the file.

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
    "ScrubUnavailable",
    "SnapShot",
    "journal_path",
    "locate",
    "metadata_reuse_off",
    "recover",
    "rewrite_blocks",
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


@dataclass
class _Layout:
    starts: list[int] = field(default_factory=list)  # first rowid of each row group, in order
    counts: list[int] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    blocks: dict[int, set[int]] = field(default_factory=dict)  # row group id -> its blocks

    def groups_of(self, rowids: Iterable[int]) -> set[int]:
        out = set()
        for r in rowids:
            i = bisect.bisect_right(self.starts, r) - 1
            if i >= 0 and r < self.starts[i] + self.counts[i]:
                out.add(i)
        return out

    def ranges(self, positions: Iterable[int]) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        for i in sorted(set(positions)):
            a, b = self.starts[i], self.starts[i] + self.counts[i]
            if out and out[-1][1] == a:
                out[-1] = (out[-1][0], b)
            else:
                out.append((a, b))
        return out


def _tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND NOT temporary ORDER BY table_name"
    ).fetchall()
    return [str(r[0]) for r in rows]


def _layout(con: duckdb.DuckDBPyConnection, table: str) -> _Layout:
    rows = con.execute(
        "SELECT row_group_id, column_id, column_path, count, block_id, additional_block_ids "
        f"FROM pragma_storage_info('{table}')"
    ).fetchall()
    lay = _Layout()
    counts: dict[int, int] = {}
    for rg, column, path, count, block, extra in rows:
        # Row counts from the first column's own segments (its validity child repeats them).
        if column == 0 and path == "[0]":
            counts[rg] = counts.get(rg, 0) + int(count)
        if block is not None and block >= 0:
            owned = lay.blocks.setdefault(rg, set())
            owned.add(int(block))
            owned.update(int(b) for b in (extra or []))
    start = 0
    for rg in sorted(counts):
        lay.ids.append(rg)
        lay.starts.append(start)
        lay.counts.append(counts[rg])
        start += counts[rg]
    return lay


def _where_rowids(ranges: Sequence[tuple[int, int]]) -> str:
    return " OR ".join(f"(rowid >= {a} AND rowid < {b})" for a, b in ranges) or "false"


def locate(con: duckdb.DuckDBPyConnection, selections: Sequence[tuple[str, str, Sequence[Any]]]) -> list[int]:
    """The blocks that hold any segment of a row group holding a selected row.

    Checkpoints first, so that every row is in a persistent row group (rows still in the WAL
    and in memory have no block yet, and the checkpoint truncates the WAL)."""
    con.execute("CHECKPOINT")
    present = set(_tables(con))
    layouts: dict[str, _Layout] = {}
    blocks: set[int] = set()
    for table, where, params in selections:
        if table not in present:
            continue
        lay = layouts.get(table) or layouts.setdefault(table, _layout(con, table))
        rowids = [int(r[0]) for r in con.execute(f"SELECT rowid FROM {table} WHERE {where}", list(params)).fetchall()]
        for i in lay.groups_of(rowids):
            blocks |= lay.blocks.get(lay.ids[i], set())
    return sorted(blocks)


def rewrite_blocks(con: duckdb.DuckDBPyConnection, blocks: Iterable[int]) -> dict[str, int]:
    """Delete and re-insert every row group with a segment in ``blocks``; rows rewritten per table.

    Deleted rows are left out of the copy, so a row group that still holds an erased person's
    deleted rows loses them here. The caller checkpoints afterwards."""
    dirty = set(blocks)
    con.execute("CHECKPOINT")
    if not dirty:
        return {}
    plan: dict[str, list[tuple[int, int]]] = {}
    for table in _tables(con):
        lay = _layout(con, table)
        hit = [i for i, rg in enumerate(lay.ids) if lay.blocks.get(rg, set()) & dirty]
        if hit:
            plan[table] = lay.ranges(hit)
    rewritten: dict[str, int] = {}
    con.execute("BEGIN TRANSACTION")
    try:
        for table, ranges in plan.items():
            inside = _where_rowids(ranges)
            # Appended rows get rowids past the table's end, so the DELETE cannot reach them.
            rows = con.execute(f"INSERT INTO {table} SELECT * FROM {table} WHERE {inside}").fetchall()
            con.execute(f"DELETE FROM {table} WHERE {inside}").fetchall()
            rewritten[table] = int(rows[0][0]) if rows else 0
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
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
    live: frozenset[int]  # blocks pragma_storage_info names


def snapshot(con: duckdb.DuckDBPyConnection) -> SnapShot:
    size = con.execute(
        "SELECT block_size, total_blocks, free_blocks FROM pragma_database_size() WHERE database_name = current_database()"
    ).fetchall()
    if not size:
        raise ScrubUnavailable("pragma_database_size() did not describe the database")
    if con.execute("SELECT count(*) FROM duckdb_indexes() WHERE database_name = current_database()").fetchall()[0][0]:
        # Index blocks are not listed anywhere we can check against.
        raise ScrubUnavailable("the database has indexes")
    meta = {int(b): frozenset(int(i) for i in (free or [])) for b, free in con.execute("SELECT block_id, free_list FROM pragma_metadata_info()").fetchall()}
    live: set[int] = set()
    for table in _tables(con):
        for block, extra in con.execute(
            f"SELECT block_id, additional_block_ids FROM pragma_storage_info('{table}') WHERE block_id >= 0"
        ).fetchall():
            live.add(int(block))
            live.update(int(b) for b in (extra or []))
    bs, total, free = (int(v) for v in size[0])
    return SnapShot(bs, total, free, meta, frozenset(live))


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
        # DuckDB truncates free blocks at the end of the file after writing the list.
        free = [b for b in state.free if b < in_file]
        if len(free) < before.free_blocks or set(free) & (before.live | set(before.metadata)):
            raise ScrubUnavailable(
                f"the free list in the file ({len(free)} blocks) does not match DuckDB's ({before.free_blocks})"
            )
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
