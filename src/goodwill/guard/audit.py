"""The audit log: every guard decision, append-only, hash-chained, queryable.

The log is the ``decisions`` table. Each row's ``hash`` is the SHA-256 of the canonical
JSON of its fields (``reasons``, ``rule_versions`` and ``facts`` exactly as stored, the
decision time to the microsecond in UTC) together with the previous row's hash, in
``decision_id`` order (ids are zero-padded sequence numbers). Changing, deleting or
inserting any past row breaks every hash after it, which :func:`verify` finds.

A person with write access to the store could rewrite the whole chain from the changed
row onwards; to rule that out too, publish the head hash (``goodwill audit verify``
prints it) somewhere they cannot write, and compare it later.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import weakref
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from goodwill.errors import ConfigError
from goodwill.store import Store

GENESIS = "0" * 64
ID_PREFIX = "gd-"


def _default(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        return v.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, set | frozenset | tuple):
        return sorted(v) if isinstance(v, set | frozenset) else list(v)
    return str(v)


def to_json(value: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, UTC times; the same value always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default)


def stamp(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_hash(row: dict[str, Any], prev_hash: str) -> str:
    payload = "\x1f".join(
        [
            prev_hash,
            row["decision_id"],
            row["action_id"] or "",
            row["customer_id"] or "",
            row["verdict"],
            row["reasons"] or "",
            row["rule_versions"] or "",
            row["facts"] or "",
            stamp(row["decided_at"]),
        ]
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def decision_id(seq: int) -> str:
    return f"{ID_PREFIX}{seq:014d}"


# The chain's head as this process last wrote it, per store, with the store's write generation
# at that moment. Reading the head is a top-1 over every decision ever made (a scan that grows
# with the log); a DuckDB store has one owner process, so while no other write has happened
# since (same generation) the head it wrote is still the head. PostgreSQL may have other
# writers, so it always reads.
_HEADS: weakref.WeakKeyDictionary[Store, tuple[int, int, str]] = weakref.WeakKeyDictionary()


def head(store: Store) -> tuple[int, str]:
    """The last sequence number and hash of the chain (0 and the genesis hash when empty)."""
    known = _HEADS.get(store)
    if known is not None and store.engine == "duckdb" and known[0] == store.generation:
        return known[1], known[2]
    rows = store.rows("SELECT decision_id, hash FROM decisions ORDER BY decision_id DESC LIMIT 1")
    if not rows:
        return 0, GENESIS
    return int(rows[0]["decision_id"].removeprefix(ID_PREFIX)), rows[0]["hash"]


def append_chain(store: Store, rows: list[dict[str, Any]], actions: pa.Table | None = None) -> tuple[int, str]:
    """Give ``rows`` ids and hashes after the current head and append them, in one transaction."""
    with store.transaction():
        if store.engine == "postgres":
            # Two writers must not both extend the same head.
            store.execute("SELECT pg_advisory_xact_lock(8080808)")
        seq, prev = head(store)
        for r in rows:
            seq += 1
            r["decision_id"] = decision_id(seq)
            r["prev_hash"] = prev
            prev = r["hash"] = row_hash(r, prev)
        store.append("decisions", _decisions_table(rows), dedupe=False)
        if actions is not None and actions.num_rows:
            store.append("actions", actions)
    _HEADS[store] = (store.generation, seq, prev)
    return seq, prev


def _decisions_table(rows: list[dict[str, Any]]) -> pa.Table:
    cols = ["decision_id", "action_id", "customer_id", "verdict", "reasons", "rule_versions", "facts", "decided_at", "prev_hash", "hash"]
    data = {c: [r[c] for r in rows] for c in cols}
    return pa.table({**{c: pa.array(data[c], pa.string()) for c in cols if c != "decided_at"},
                     "decided_at": pa.array(data["decided_at"], pa.timestamp("us", tz="UTC"))})


@dataclass
class VerifyReport:
    ok: bool
    checked: int
    head: str
    first_bad: str | None = None
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked, "head": self.head, "first_bad": self.first_bad, "problem": self.problem}


def verify(store: Store) -> VerifyReport:
    """Recompute the chain from the first decision; report the first row that does not match."""
    prev = GENESIS
    expected_seq = 0
    n = 0
    sql = (
        "SELECT decision_id, action_id, customer_id, verdict, reasons, rule_versions, facts, decided_at, prev_hash, hash "
        "FROM decisions ORDER BY decision_id"
    )
    for batch in store.scan(sql, batch_size=100_000):
        for r in batch.to_pylist():
            n += 1
            expected_seq += 1
            did = r["decision_id"]
            if did != decision_id(expected_seq):
                return VerifyReport(False, n, prev, did, f"expected {decision_id(expected_seq)} next: a decision was removed or inserted")
            if r["prev_hash"] != prev:
                return VerifyReport(False, n, prev, did, "prev_hash does not match the hash of the decision before it")
            h = row_hash(r, prev)
            if h != r["hash"]:
                return VerifyReport(False, n, prev, did, "its contents do not match its hash: it was changed after it was recorded")
            prev = h
    return VerifyReport(True, n, prev)


def query(
    store: Store,
    *,
    customer_id: str | None = None,
    action_id: str | None = None,
    verdict: str | None = None,
    rule: str | None = None,
    campaign_id: str | None = None,
    since: dt.datetime | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Decisions, newest first, with their reasons, rule versions and facts decoded."""
    where: list[str] = []
    params: list[Any] = []
    if verdict is not None:
        if verdict not in ("allow", "deny", "change"):
            raise ConfigError(f"{verdict!r} is not a verdict.", hint="Use allow, deny or change.")
        where.append("d.verdict = ?")
        params.append(verdict)
    for col, val in (("d.customer_id", customer_id), ("d.action_id", action_id), ("a.campaign_id", campaign_id)):
        if val is not None:
            where.append(f"{col} = ?")
            params.append(val)
    if since is not None:
        where.append("d.decided_at >= ?")
        params.append(since)
    if rule is not None:
        # Rule ids are plain identifiers, so a quoted substring match on the stored JSON is exact.
        where.append("d.rule_versions LIKE ? AND d.reasons LIKE ?")
        params += [f'%"{rule}"%', f'%"rule":"{rule}"%']
    sql = (
        "SELECT d.decision_id, d.action_id, d.customer_id, d.verdict, d.reasons, d.rule_versions, d.facts, "
        "d.decided_at, d.prev_hash, d.hash, a.campaign_id, a.kind FROM decisions d "
        "LEFT JOIN actions a ON a.action_id = d.action_id"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY d.decision_id DESC LIMIT ?"
    )
    out = []
    for r in store.rows(sql, [*params, int(limit)]):
        for k in ("reasons", "rule_versions", "facts"):
            r[k] = json.loads(r[k]) if r[k] else None
        out.append(r)
    return out
