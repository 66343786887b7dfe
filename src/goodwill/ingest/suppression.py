"""The suppression list: erased people are not brought back by re-ingesting an old file.

When a person is erased, goodwill keeps only keyed hashes (HMAC-SHA256) of their
customer ids and normalised identifiers, never the values. The key is a per-store
secret kept in ``goodwill_meta`` and created on first use, so a hash from one store
says nothing in another, and a list of guessed e-mail addresses cannot be checked
against it without the store itself.

Ingest calls :func:`suppressed` (customer ids) and :func:`suppressed_identifiers`
(kind + normalised value) on each batch and drops the rows of erased people. Only the
distinct values of a batch are hashed, and nothing is hashed at all while the list
is empty, so ingest of a store with no erasures pays one cached lookup per batch.

This module lives in ``ingest`` (layer 3) so that ingest can use it; ``rights``
(layer 6) writes to it through :func:`add_suppressions`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

from goodwill.model import Column, Table, register_table
from goodwill.store import Store

__all__ = [
    "SUPPRESSIONS",
    "add_suppressions",
    "hash_customer_id",
    "hash_identifier",
    "suppressed",
    "suppressed_identifiers",
    "suppression_count",
]

META_KEY = "suppression_key"

SUPPRESSIONS = register_table(
    Table(
        "suppressions",
        (
            Column("hash", "text", False, "HMAC-SHA256 (hex) of 'customer:ID' or 'KIND:VALUE'", lookup=True),
            Column("kind", "text", False, "customer, or the identifier kind (email, phone, ...)"),
            Column("reason", "text", doc="erasure, objection, ..."),
            Column("ref", "text", doc="the rights request or job that added it"),
            Column("added_at", "timestamp", False),
        ),
        ("hash",),
        "Keyed hashes of erased people's ids and identifiers: ingest drops their rows. Holds no values.",
        customer_column=None,
        time_column="added_at",
        internal=True,
    )
)


def _key(store: Store, *, create: bool) -> bytes | None:
    raw = store.get_meta(META_KEY)
    if raw is None:
        if not create:
            return None
        raw = secrets.token_hex(32)
        store.set_meta(META_KEY, raw)
    return bytes.fromhex(raw)


def _hmac(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def hash_customer_id(store: Store, customer_id: str) -> str:
    """The keyed hash under which a customer id is suppressed (creates the store's key if needed)."""
    key = _key(store, create=True)
    assert key is not None
    return _hmac(key, f"customer:{customer_id}")


def hash_identifier(store: Store, kind: str, value: str) -> str:
    """The keyed hash of a normalised identifier (``kind`` as stored, e.g. ``email``)."""
    key = _key(store, create=True)
    assert key is not None
    return _hmac(key, f"{kind}:{value}")


def suppression_count(store: Store) -> int:
    if not store.table_exists(SUPPRESSIONS.name):
        return 0
    return int(store.scalar(f"SELECT count(*) FROM {SUPPRESSIONS.name}"))


def add_suppressions(
    store: Store,
    customer_ids: Iterable[str],
    identifiers: Iterable[tuple[str, str]] = (),
    *,
    reason: str = "erasure",
    ref: str | None = None,
) -> int:
    """Suppress these customer ids and ``(kind, normalised value)`` identifiers. Idempotent."""
    store.ensure_table(SUPPRESSIONS)
    key = _key(store, create=True)
    assert key is not None
    now = dt.datetime.now(dt.UTC)
    rows: dict[str, str] = {}
    for cid in customer_ids:
        rows[_hmac(key, f"customer:{cid}")] = "customer"
    for kind, value in identifiers:
        rows[_hmac(key, f"{kind}:{value}")] = kind
    if not rows:
        return 0
    data = pa.table(
        {
            "hash": list(rows),
            "kind": list(rows.values()),
            "reason": [reason] * len(rows),
            "ref": [ref] * len(rows),
            "added_at": [now] * len(rows),
        }
    )
    return store.append(SUPPRESSIONS, data)


def _match(store: Store, key: bytes, texts: pa.Array) -> pa.Array:
    """For each of ``texts`` (already prefixed), whether its hash is on the list."""
    uniq = pc.unique(texts.drop_null())
    if len(uniq) == 0:
        return pa.array([False] * len(texts), pa.bool_())
    hashes = [_hmac(key, t) for t in uniq.to_pylist()]
    found: set[str] = set()
    # Chunked so a large batch never builds an unbounded parameter list.
    for i in range(0, len(hashes), 5_000):
        chunk = hashes[i : i + 5_000]
        marks = ", ".join("?" for _ in chunk)
        found.update(
            r["hash"]
            for r in store.rows(f"SELECT hash FROM {SUPPRESSIONS.name} WHERE hash IN ({marks})", chunk)
        )
    if not found:
        return pa.array([False] * len(texts), pa.bool_())
    hit_values = pa.array([u for u, h in zip(uniq.to_pylist(), hashes, strict=True) if h in found], pa.string())
    return pc.fill_null(pc.is_in(texts, value_set=hit_values), False)


def _flat(a: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(a, pa.ChunkedArray):
        return a.combine_chunks() if a.num_chunks else pa.array([], a.type)
    return a


def suppressed(store: Store, customer_ids: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A boolean array: True where the customer id belongs to an erased person (nulls: False)."""
    ids = _flat(customer_ids).cast(pa.string())
    if suppression_count(store) == 0:
        return pa.array([False] * len(ids), pa.bool_())
    key = _key(store, create=False)
    if key is None:
        return pa.array([False] * len(ids), pa.bool_())
    return _match(store, key, pc.binary_join_element_wise("customer:", ids, ""))


def suppressed_identifiers(
    store: Store, kinds: pa.Array | pa.ChunkedArray, values: pa.Array | pa.ChunkedArray
) -> pa.Array:
    """A boolean array: True where ``(kind, normalised value)`` is an erased person's identifier."""
    k = _flat(kinds).cast(pa.string())
    v = _flat(values).cast(pa.string())
    if suppression_count(store) == 0:
        return pa.array([False] * len(v), pa.bool_())
    key = _key(store, create=False)
    if key is None:
        return pa.array([False] * len(v), pa.bool_())
    return _match(store, key, pc.binary_join_element_wise(k, v, ":"))
