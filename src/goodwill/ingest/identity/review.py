"""A person's decisions: review candidates, merge and unmerge by hand, and explain a person.

Every decision is logged with who made it and when. A manual merge obeys the same
law as the resolver: never two different values of a strong identifier in one person.
An unmerge undoes merges (kept as history) and records a separation, so that the next
resolution run does not merge the records again.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pyarrow as pa

from goodwill.errors import GoodwillError, NotFoundError
from goodwill.ingest.identity.links import MERGE_COLUMNS, link_rows
from goodwill.ingest.identity.resolve import TS, now_utc, rule_version
from goodwill.ingest.identity.rules import Rules, load_rules
from goodwill.ingest.identity.tables import (
    IDENTITY_MERGES,
    IDENTITY_SEPARATIONS,
    ensure_identity_tables,
)
from goodwill.model import CUSTOMER_LINKS
from goodwill.store import Store


class IdentityConflictError(GoodwillError):
    code = "identity_conflict"
    http_status = 409


def person_of(store: Store, customer_id: str) -> str:
    pid = store.scalar("SELECT person_id FROM customer_links WHERE customer_id = ?", [customer_id])
    return str(pid) if pid is not None else customer_id


def members_of(store: Store, customer_id: str) -> list[str]:
    """Every record of the person ``customer_id`` belongs to (itself alone when not merged)."""
    pid = person_of(store, customer_id)
    rows = store.rows("SELECT customer_id FROM customer_links WHERE person_id = ? ORDER BY customer_id", [pid])
    return [r["customer_id"] for r in rows] or [customer_id]


def _require_customer(store: Store, customer_id: str) -> None:
    known = store.scalar(
        "SELECT count(*) FROM (SELECT customer_id FROM customers WHERE customer_id = ? "
        "UNION ALL SELECT customer_id FROM identifiers WHERE customer_id = ?) t",
        [customer_id, customer_id],
    )
    if not known:
        raise NotFoundError(
            f"There is no customer {customer_id!r} in this store.",
            hint="Check the id with `goodwill identity show ID`, or ingest the source that holds it.",
        )


def _marks(ids: list[str]) -> str:
    return ", ".join("?" for _ in ids)


def _strong_values(store: Store, ids: list[str], rules: Rules) -> dict[str, set[str]]:
    if not rules.strong_kinds:
        return {}
    kinds = list(rules.strong_kinds)
    rows = store.rows(
        f"SELECT kind, value FROM identifiers WHERE customer_id IN ({_marks(ids)}) AND kind IN ({_marks(kinds)})",
        [*ids, *kinds],
    )
    out: dict[str, set[str]] = {}
    for r in rows:
        out.setdefault(r["kind"], set()).add(r["value"])
    return out


def _recompute(store: Store, ids: list[str]) -> None:
    """Rewrite the ``customer_links`` rows of ``ids`` (a closed set of persons) from the active merges."""
    marks = _marks(ids)
    active = store.query(
        f"SELECT {', '.join(MERGE_COLUMNS)} FROM identity_merges WHERE undone_at IS NULL "
        f"AND (customer_a IN ({marks}) OR customer_b IN ({marks}))",
        [*ids, *ids],
    )
    schema = IDENTITY_MERGES.arrow_schema()
    active = pa.table({c: active[c].cast(schema.field(c).type) if active.num_rows else pa.array([], schema.field(c).type) for c in MERGE_COLUMNS})
    rows = link_rows(active)
    store.execute(f"DELETE FROM customer_links WHERE customer_id IN ({marks})", ids)
    if rows.num_rows:
        store.append(CUSTOMER_LINKS, rows, dedupe=False)


def merge(
    store: Store,
    customer_a: str,
    customer_b: str,
    *,
    by: str,
    note: str | None = None,
    rule: str = "manual",
    score: float | None = None,
    evidence: str | None = None,
    rules: Rules | None = None,
    at: dt.datetime | None = None,
) -> str:
    """Merge the persons of two records by hand; returns the merge id."""
    rules = rules or load_rules()
    ensure_identity_tables(store)
    if customer_a == customer_b:
        raise IdentityConflictError("A record cannot be merged with itself.", hint="Give two different customer ids.")
    for c in (customer_a, customer_b):
        _require_customer(store, c)
    side_a, side_b = members_of(store, customer_a), members_of(store, customer_b)
    if set(side_a) & set(side_b):
        raise IdentityConflictError(
            f"{customer_a} and {customer_b} are already one person ({person_of(store, customer_a)}).",
            hint="See why with `goodwill identity show " + customer_a + "`.",
        )
    va, vb = _strong_values(store, side_a, rules), _strong_values(store, side_b, rules)
    for kind in sorted(va.keys() & vb.keys()):
        if va[kind] != vb[kind]:
            raise IdentityConflictError(
                f"Refusing to merge: {customer_a} has {kind} {', '.join(sorted(va[kind]))} and "
                f"{customer_b} has {kind} {', '.join(sorted(vb[kind]))}; one person holds one {kind}.",
                hint=f"If people here really hold several, remove {kind!r} from strong_kinds in the identity rules.",
            )
    when = at or now_utc()
    a, b = sorted((customer_a, customer_b))
    merge_id = "m" + when.strftime("%Y%m%d%H%M%S%f") + "-manual"
    ev = evidence or json.dumps({"rule": rule, "note": note or "", "by": by})
    row = pa.table(
        {
            "merge_id": [merge_id],
            "customer_a": [a],
            "customer_b": [b],
            "rule": [rule],
            "rule_version": [rule_version(rules)],
            "score": pa.array([score], pa.float64()),
            "evidence": [ev],
            "decided_at": pa.array([when], TS),
            "decided_by": [by],
        }
    )
    with store.transaction():
        # A person's explicit merge overrides their earlier "these are two people".
        both = side_a + side_b
        store.execute(
            f"DELETE FROM identity_separations WHERE customer_a IN ({_marks(both)}) AND customer_b IN ({_marks(both)})",
            [*both, *both],
        )
        store.append(IDENTITY_MERGES, row)
        _recompute(store, both)
    return merge_id


def _separate(store: Store, pairs: list[tuple[str, str]], *, reason: str, by: str, ref: str, when: dt.datetime) -> None:
    if not pairs:
        return
    ordered = [tuple(sorted(p)) for p in pairs]
    store.append(
        IDENTITY_SEPARATIONS,
        pa.table(
            {
                "customer_a": [p[0] for p in ordered],
                "customer_b": [p[1] for p in ordered],
                "reason": [reason] * len(ordered),
                "decided_at": pa.array([when] * len(ordered), TS),
                "decided_by": [by] * len(ordered),
                "ref": [ref] * len(ordered),
            }
        ),
    )


def unmerge(
    store: Store, customer_id: str, *, by: str, reason: str = "", at: dt.datetime | None = None
) -> dict[str, Any]:
    """Take one record out of its person: undo every merge that touches it.

    The record becomes its own person again, the rest keep what their other merges
    say, and the record is kept apart from them in later resolution runs.
    """
    ensure_identity_tables(store)
    _require_customer(store, customer_id)
    members = members_of(store, customer_id)
    if len(members) == 1:
        raise NotFoundError(
            f"{customer_id} is not merged with any other record.",
            hint="`goodwill identity show " + customer_id + "` lists its merges.",
        )
    when = at or now_utc()
    undone = store.rows(
        "SELECT merge_id FROM identity_merges WHERE undone_at IS NULL AND (customer_a = ? OR customer_b = ?) ORDER BY merge_id",
        [customer_id, customer_id],
    )
    with store.transaction():
        store.execute(
            "UPDATE identity_merges SET undone_at = ?, undone_by = ?, undo_reason = ? "
            "WHERE undone_at IS NULL AND (customer_a = ? OR customer_b = ?)",
            [when, by, reason or None, customer_id, customer_id],
        )
        _separate(
            store,
            [(customer_id, m) for m in members if m != customer_id],
            reason=reason or "unmerged",
            by=by,
            ref=",".join(r["merge_id"] for r in undone),
            when=when,
        )
        _recompute(store, members)
    return {"customer_id": customer_id, "undone": [r["merge_id"] for r in undone], "former_members": members}


def unmerge_merge(store: Store, merge_id: str, *, by: str, reason: str = "", at: dt.datetime | None = None) -> dict[str, Any]:
    """Undo one merge: the person splits back into the two sides it joined."""
    ensure_identity_tables(store)
    rows = store.rows("SELECT customer_a, customer_b, undone_at FROM identity_merges WHERE merge_id = ?", [merge_id])
    if not rows:
        raise NotFoundError(f"There is no merge {merge_id!r}.", hint="`goodwill identity show ID` lists a person's merges.")
    if rows[0]["undone_at"] is not None:
        raise IdentityConflictError(f"Merge {merge_id} was already undone.", hint="Nothing to do.")
    a, b = rows[0]["customer_a"], rows[0]["customer_b"]
    members = members_of(store, a)
    when = at or now_utc()
    with store.transaction():
        store.execute(
            "UPDATE identity_merges SET undone_at = ?, undone_by = ?, undo_reason = ? WHERE merge_id = ?",
            [when, by, reason or None, merge_id],
        )
        _separate(store, [(a, b)], reason=reason or "unmerged", by=by, ref=merge_id, when=when)
        _recompute(store, members)
    return {"merge_id": merge_id, "customer_a": a, "customer_b": b, "side_a": members_of(store, a), "side_b": members_of(store, b)}


def _candidate(store: Store, candidate_id: str) -> dict[str, Any]:
    ensure_identity_tables(store)
    rows = store.rows("SELECT * FROM identity_candidates WHERE candidate_id = ?", [candidate_id])
    if not rows:
        raise NotFoundError(f"There is no merge candidate {candidate_id!r}.", hint="List them with `goodwill identity review`.")
    if rows[0]["status"] != "open":
        raise IdentityConflictError(
            f"Candidate {candidate_id} was already {rows[0]['status']} by {rows[0]['decided_by']}.", hint="Nothing to do."
        )
    return rows[0]


def accept(store: Store, candidate_id: str, *, by: str, rules: Rules | None = None, at: dt.datetime | None = None) -> str:
    """Accept a candidate: merge its two records (the strong-identifier law still holds)."""
    c = _candidate(store, candidate_id)
    when = at or now_utc()
    ev = c["evidence"]
    merge_id = merge(
        store, c["customer_a"], c["customer_b"], by=by, rule=c["rule"], score=c["score"], evidence=ev, rules=rules, at=when
    )
    store.execute(
        "UPDATE identity_candidates SET status = 'accepted', decided_at = ?, decided_by = ? WHERE candidate_id = ?",
        [when, by, candidate_id],
    )
    return merge_id


def reject(store: Store, candidate_id: str, *, by: str, note: str = "", at: dt.datetime | None = None) -> None:
    """Reject a candidate: the two records are two people, now and in later runs."""
    c = _candidate(store, candidate_id)
    when = at or now_utc()
    with store.transaction():
        _separate(store, [(c["customer_a"], c["customer_b"])], reason=note or "rejected in review", by=by, ref=candidate_id, when=when)
        store.execute(
            "UPDATE identity_candidates SET status = 'rejected', decided_at = ?, decided_by = ? WHERE candidate_id = ?",
            [when, by, candidate_id],
        )


def _record(store: Store, customer_id: str) -> dict[str, Any]:
    cust = store.rows(
        "SELECT customer_id, display_name, source, first_seen_at FROM customers WHERE customer_id = ?", [customer_id]
    )
    ids = store.rows(
        "SELECT kind, value, raw_value, verified, source FROM identifiers WHERE customer_id = ? ORDER BY kind, value",
        [customer_id],
    )
    base = cust[0] if cust else {"customer_id": customer_id, "display_name": None, "source": None, "first_seen_at": None}
    return {**base, "person_id": person_of(store, customer_id), "identifiers": ids}


def list_candidates(store: Store, *, status: str = "open", limit: int = 20) -> list[dict[str, Any]]:
    """Candidates to decide, strongest first, each with both records side by side."""
    ensure_identity_tables(store)
    rows = store.rows(
        "SELECT c.* FROM identity_candidates c "
        "LEFT JOIN customer_links la ON la.customer_id = c.customer_a "
        "LEFT JOIN customer_links lb ON lb.customer_id = c.customer_b "
        "WHERE c.status = ? AND (la.person_id IS NULL OR lb.person_id IS NULL OR la.person_id <> lb.person_id) "
        "ORDER BY c.score DESC, c.found_at, c.candidate_id LIMIT ?",
        [status, int(limit)],
    )
    out = []
    for r in rows:
        r["evidence"] = json.loads(r["evidence"]) if r["evidence"] else None
        r["a"] = _record(store, r["customer_a"])
        r["b"] = _record(store, r["customer_b"])
        out.append(r)
    return out


def explain(store: Store, customer_id: str) -> dict[str, Any]:
    """The person a record belongs to: its records, why each is there, and the merge history."""
    ensure_identity_tables(store)
    _require_customer(store, customer_id)
    members = members_of(store, customer_id)
    links = {
        r["customer_id"]: r
        for r in store.rows(f"SELECT * FROM customer_links WHERE customer_id IN ({_marks(members)})", members)
    }
    history = store.rows(
        f"SELECT * FROM identity_merges WHERE customer_a IN ({_marks(members)}) OR customer_b IN ({_marks(members)}) "
        "ORDER BY decided_at, merge_id",
        [*members, *members],
    )
    for h in history:
        h["evidence"] = json.loads(h["evidence"]) if h["evidence"] else None
    seps = store.rows(
        f"SELECT * FROM identity_separations WHERE customer_a IN ({_marks(members)}) OR customer_b IN ({_marks(members)}) "
        "ORDER BY decided_at",
        [*members, *members],
    )
    records = []
    for m in members:
        rec = _record(store, m)
        link = links.get(m)
        rec["rule"] = link["rule"] if link else None
        rec["link_evidence"] = json.loads(link["evidence"]) if link and link["evidence"] else None
        records.append(rec)
    return {"person_id": person_of(store, customer_id), "records": records, "merges": history, "separations": seps}
