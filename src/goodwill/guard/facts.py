"""The facts a guard decision rests on, gathered for one person or for a whole campaign.

Rules run in Python on these facts and never touch the store, so the same rule code
serves one action (facts from one UNION ALL point read on tables sorted by customer)
and a campaign of a million (facts for everyone at once by joins in the engine).

A person is every customer_id linked to one person_id in ``customer_links``; rules
apply to the whole person, so a complaint filed under one record stops an up-sell
addressed to another.

Consent is read from ``consents`` directly (the guard does not import its sibling
``goodwill.rights``), with the same semantics: for a purpose and channel, the latest
event whose purpose is that purpose or ``all`` and whose channel is that channel or
``any`` stands. A grant on one channel is not a grant on ``any``. An objection to
direct marketing on any channel is returned separately: it stops marketing on every
channel, until the person grants that purpose again after it.

Overdue promises come from the promise ledger (``promise_status``, built by
``goodwill.measure.promises``) where it exists: status ``overdue``, or ``open`` past its
deadline. A promise the ledger has not reconciled (or every promise, without a ledger) is
overdue when its ``due_at`` has passed and no event names it in ``ref``.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from goodwill.model import Column, Table, register_table
from goodwill.store import Store

SCOPE = register_table(
    Table(
        "guard_scope",
        (
            Column("run_id", "text", nullable=False),
            Column("customer_id", "text", nullable=False),
            Column("person_id", "text"),
        ),
        ("run_id", "customer_id"),
        "Scratch: the customers of one campaign being vetted (emptied after the run).",
        customer_column=None,
        internal=True,
    )
)


@dataclass(frozen=True, slots=True)
class ConsentEvent:
    purpose: str
    channel: str
    state: str
    recorded_at: dt.datetime
    consent_id: str
    source: str | None = None


@dataclass(frozen=True, slots=True)
class Subscription:
    subscription_id: str
    plan_id: str | None
    channel: str | None
    product: str | None
    price: float | None
    new_customer_price: float | None
    plan_price: float | None
    plan_channel: str | None
    ends_at: dt.datetime | None
    status: str | None


@dataclass(frozen=True, slots=True)
class Contact:
    at: dt.datetime
    channel: str | None
    function: str | None
    outcome: str | None


@dataclass(slots=True)
class PersonFacts:
    person_id: str
    customer_ids: tuple[str, ...]
    known: bool = False
    vulnerable: bool = False
    age_band: str | None = None
    region: str | None = None
    segment: str | None = None
    open_complaints: list[str] = field(default_factory=list)
    overdue_promises: list[str] = field(default_factory=list)
    consents: list[ConsentEvent] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)

    def consent(self, purposes: Iterable[str], channel: str) -> ConsentEvent | None:
        """The consent event that stands for these purposes on ``channel`` (None: nothing recorded)."""
        ps = set(purposes) | {"all"}
        best: ConsentEvent | None = None
        for c in self.consents:
            if c.purpose not in ps:
                continue
            if channel == "any":
                if c.channel != "any" and c.state == "granted":
                    continue
            elif c.channel not in (channel, "any"):
                continue
            if best is None or (c.recorded_at, c.consent_id) >= (best.recorded_at, best.consent_id):
                best = c
        return best

    def standing_objection(self, purposes: Iterable[str], channel: str) -> ConsentEvent | None:
        """An objection to these purposes (on any channel) not since lifted by a grant on ``channel``."""
        ps = set(purposes) | {"all"}
        objection: ConsentEvent | None = None
        for c in self.consents:
            if c.purpose in ps and c.state == "objected" and (
                objection is None or c.recorded_at >= objection.recorded_at
            ):
                objection = c
        if objection is None:
            return None
        for c in self.consents:
            if (
                c.purpose in ps
                and c.state == "granted"
                and c.channel in (channel, "any")
                and c.recorded_at > objection.recorded_at
            ):
                return None
        return objection

    def subscription(self, subscription_id: str | None, product: str | None) -> Subscription | None:
        for s in self.subscriptions:
            if subscription_id and s.subscription_id == subscription_id:
                return s
        if subscription_id:
            return None
        active = [s for s in self.subscriptions if s.status in (None, "active")]
        for s in active:
            if product and product in (s.product, s.plan_id):
                return s
        return active[0] if len(active) == 1 else None

    def summary(self) -> dict[str, Any]:
        """The facts as recorded in a decision (compact; ids, not rows)."""
        return {
            "person_id": self.person_id,
            "customer_ids": list(self.customer_ids),
            "known": self.known,
            "vulnerable": self.vulnerable,
            "open_complaints": self.open_complaints,
            "overdue_promises": self.overdue_promises,
            "consents": len(self.consents),
            "subscriptions": [s.subscription_id for s in self.subscriptions],
            "recent_contacts": len(self.contacts),
        }


def _contact(at: dt.datetime, channel: str | None, function: str | None, attrs: str | None) -> Contact:
    outcome = None
    if attrs:
        try:
            a = json.loads(attrs)
            if isinstance(a, dict):
                v = a.get("outcome")
                outcome = str(v) if v is not None else None
        except json.JSONDecodeError:
            outcome = None
    return Contact(at, channel, function, outcome)


class Tables:
    """Which optional tables a store has, remembered so a vet costs one query.

    A table that exists stays known; one that does not is looked for again after
    ``recheck`` seconds, so a long-lived guard (``goodwill serve``) sees a promise
    ledger built after it started.
    """

    def __init__(self, store: Store, recheck: float = 30.0) -> None:
        self.store = store
        self.recheck = recheck
        self._seen: dict[str, tuple[bool, float]] = {}

    def has(self, name: str) -> bool:
        now = time.monotonic()
        hit = self._seen.get(name)
        if hit is not None and (hit[0] or now - hit[1] < self.recheck):
            return hit[0]
        found = self.store.table_exists(name)
        self._seen[name] = (found, now)
        return found


_T, _D, _TS, _B = "CAST(NULL AS TEXT)", "CAST(NULL AS DOUBLE PRECISION)", "CAST(NULL AS TIMESTAMPTZ)", "CAST(NULL AS BOOLEAN)"
_SLOTS = ["k1", "k2", "k3", "k4", "k5", "k6", "n1", "n2", "n3", "t1", "t2", "b"]
_IDS = "IN (SELECT customer_id FROM ids)"


def _branch(tag: str, cols: Sequence[str], rest: str) -> str:
    # Every branch fills the same 12 slots: k1-k6 text, n1-n3 numbers, t1-t2 times, b a flag.
    slots = [_T] * 6 + [_D] * 3 + [_TS] * 2 + [_B]
    for i, c in enumerate(cols):
        if c:
            slots[i] = c
    return f"SELECT '{tag}' AS tag, " + ", ".join(f"{v} AS {n}" for v, n in zip(slots, _SLOTS, strict=True)) + " " + rest


@functools.lru_cache(maxsize=16)
def person_sql(has_links: bool, has_ledger: bool, has_events: bool) -> str:
    """ONE statement for every fact about a person: the ids (through customer_links) in a CTE,
    then a branch per table. A semi-join on the CTE keeps DuckDB's zone-map point reads
    (tables sorted by customer); a parameter list ``IN (?, ?)`` would scan whole tables.
    Parameters: customer_id (twice with links, then once more for the person id), contacts since."""
    ids = "SELECT CAST(? AS TEXT) AS customer_id"
    if has_links:
        ids += (
            " UNION SELECT l2.customer_id FROM customer_links l1 JOIN customer_links l2 "
            "ON l2.person_id = l1.person_id WHERE l1.customer_id = ?"
        )
    parts = []
    if has_links:
        parts.append(_branch("l", ["person_id"], "FROM customer_links WHERE customer_id = ?"))
    parts += [
        _branch("x", ["customer_id"], "FROM ids"),
        _branch("c", ["customer_id", "age_band", "region", "segment", "", "", "", "", "", "", "", "vulnerable"],
                f"FROM customers WHERE customer_id {_IDS}"),
        _branch("k", ["case_id"], f"FROM cases WHERE customer_id {_IDS} AND status = 'open' AND kind = 'complaint'"),
        _branch("p", ["t.promise_id", "s.status", "", "", "", "", "", "", "", "t.due_at", "s.deadline", "s.promise_id IS NOT NULL"],
                f"FROM promises t LEFT JOIN promise_status s ON s.promise_id = t.promise_id WHERE t.customer_id {_IDS}")
        if has_ledger
        else _branch("p", ["promise_id", "", "", "", "", "", "", "", "", "due_at"], f"FROM promises WHERE customer_id {_IDS}"),
        _branch("n", ["purpose", "channel", "state", "consent_id", "source", "", "", "", "", "recorded_at"],
                f"FROM consents WHERE customer_id {_IDS}"),
        _branch(
            "s",
            ["s.subscription_id", "s.plan_id", "s.channel", "s.product", "s.status", "p.channel",
             "s.price", "s.new_customer_price", "p.new_customer_price", "s.ends_at"],
            f"FROM subscriptions s LEFT JOIN plans p ON p.plan_id = s.plan_id WHERE s.customer_id {_IDS}",
        ),
        _branch("i", ["channel", "function", "attrs", "", "", "", "", "", "", "occurred_at"],
                f"FROM interactions WHERE customer_id {_IDS} AND direction = 'outbound' AND occurred_at >= ?"),
    ]
    if has_events:
        parts.append(_branch("e", ["ref"], f"FROM events WHERE customer_id {_IDS} AND ref IS NOT NULL"))
    return f"WITH ids AS ({ids}) " + " UNION ALL ".join(parts)


def person_facts(
    store: Store, customer_id: str, *, as_of: dt.datetime, contact_days: int, tables: Tables | None = None
) -> PersonFacts:
    """Every fact the rules need about the person ``customer_id`` belongs to, in one query."""
    t = tables or Tables(store)
    links, ledger, events = t.has("customer_links"), t.has("promise_status"), t.has("events")
    since = as_of - dt.timedelta(days=contact_days)
    params: list[Any] = [customer_id, customer_id, customer_id, since] if links else [customer_id, since]
    result = store.query(person_sql(links, ledger, events), params)
    cols = {n: result.column(n).to_pylist() for n in ("tag", *_SLOTS)}
    person = customer_id
    ids: set[str] = set()
    f = PersonFacts(customer_id, ())
    promises: dict[str, dt.datetime | None] = {}
    reconciled: dict[str, bool] = {}
    kept: set[str] = set()
    for j, tag in enumerate(cols["tag"]):
        r = {n: cols[n][j] for n in _SLOTS} if tag != "x" else {"k1": cols["k1"][j]}
        if tag == "x":
            ids.add(r["k1"])
        elif tag == "l":
            person = r["k1"]
        elif tag == "c":
            f.known = True
            f.vulnerable = f.vulnerable or bool(r["b"])
            f.age_band = f.age_band or r["k2"]
            f.region = f.region or r["k3"]
            f.segment = f.segment or r["k4"]
        elif tag == "k":
            f.open_complaints.append(r["k1"])
        elif tag == "p":
            promises[r["k1"]] = r["t1"]
            if r["b"]:
                st, deadline = r["k2"], r["t2"]
                reconciled[r["k1"]] = st == "overdue" or (st == "open" and deadline is not None and deadline < as_of)
        elif tag == "n":
            f.consents.append(ConsentEvent(r["k1"], r["k2"] or "any", r["k3"], r["t1"], r["k4"], r["k5"]))
        elif tag == "s":
            f.subscriptions.append(
                Subscription(r["k1"], r["k2"], r["k3"], r["k4"], r["n1"], r["n2"], r["n3"], r["k6"], r["t1"], r["k5"])
            )
        elif tag == "i":
            f.contacts.append(_contact(r["t1"], r["k1"], r["k2"], r["k3"]))
        elif tag == "e":
            kept.add(r["k1"])
    f.person_id = person
    f.customer_ids = tuple(sorted(ids))
    f.open_complaints.sort()
    f.subscriptions.sort(key=lambda s: s.subscription_id)
    f.consents.sort(key=_consent_order)
    f.overdue_promises = sorted(
        p for p, due in promises.items() if reconciled.get(p, due is not None and due < as_of and p not in kept)
    )
    return f


def _consent_order(c: ConsentEvent) -> tuple[dt.datetime, str]:
    # One order for both paths, so ties on recorded_at resolve the same way everywhere.
    return (c.recorded_at, c.consent_id)


# -- a whole campaign ------------------------------------------------------------------------


def campaign_facts(
    store: Store, customer_ids: Sequence[str], *, as_of: dt.datetime, contact_days: int, tables: Tables | None = None
) -> dict[str, PersonFacts]:
    """Facts for every customer of a campaign, keyed by customer_id, gathered by joins in the engine."""
    run = uuid.uuid4().hex[:12]
    uniq = sorted(set(customer_ids))
    store.ensure_table(SCOPE)
    store.append(SCOPE, pa.table({"run_id": pa.array([run] * len(uniq)), "customer_id": pa.array(uniq)}), dedupe=False)
    try:
        return _campaign_facts(store, run, uniq, as_of, contact_days, tables or Tables(store))
    finally:
        store.execute("DELETE FROM guard_scope WHERE run_id = ?", [run])


def _campaign_facts(
    store: Store, run: str, uniq: list[str], as_of: dt.datetime, contact_days: int, tables: Tables
) -> dict[str, PersonFacts]:
    has_links, has_ledger = tables.has("customer_links"), tables.has("promise_status")
    # members: every (person_id, customer_id) of the campaign's persons.
    if has_links:
        m = store.query(
            "WITH p AS (SELECT DISTINCT COALESCE(l.person_id, g.customer_id) AS person_id, g.customer_id AS asked "
            "FROM guard_scope g LEFT JOIN customer_links l ON l.customer_id = g.customer_id WHERE g.run_id = ?) "
            "SELECT p.person_id, p.asked, COALESCE(l2.customer_id, p.asked) AS customer_id FROM p "
            "LEFT JOIN customer_links l2 ON l2.person_id = p.person_id",
            [run],
        )
        person_of_asked = dict(zip(m.column("asked").to_pylist(), m.column("person_id").to_pylist(), strict=True))
        members: dict[str, set[str]] = defaultdict(set)
        for p, c in zip(m.column("person_id").to_pylist(), m.column("customer_id").to_pylist(), strict=True):
            members[p].add(c)
        extra = sorted({c for cs in members.values() for c in cs} - set(uniq))
        if extra:
            store.append(SCOPE, pa.table({"run_id": pa.array([run] * len(extra)), "customer_id": pa.array(extra)}), dedupe=False)
        owner = {c: p for p, cs in members.items() for c in cs}
    else:
        person_of_asked = {c: c for c in uniq}
        owner = person_of_asked
        members = {}
    facts: dict[str, PersonFacts] = {}
    for p in set(person_of_asked.values()):
        ids = tuple(sorted(members[p])) if members else (p,)
        facts[p] = PersonFacts(p, ids)

    def scoped(sql_cols: str, table: str, where: str = "", params: Sequence[Any] = ()) -> pa.Table:
        return store.query(
            f"SELECT t.customer_id AS cid, {sql_cols} FROM guard_scope g JOIN {table} t ON t.customer_id = g.customer_id "
            f"WHERE g.run_id = ?{where}",
            [run, *params],
        )

    t = scoped("t.vulnerable, t.age_band, t.region, t.segment", "customers")
    for cid, vul, age, reg, seg in zip(*(t.column(i).to_pylist() for i in range(5)), strict=True):
        f = facts[owner[cid]]
        f.known = True
        f.vulnerable = f.vulnerable or bool(vul)
        f.age_band = f.age_band or age
        f.region = f.region or reg
        f.segment = f.segment or seg
    t = scoped("t.case_id", "cases", " AND t.status = 'open' AND t.kind = 'complaint'")
    for cid, case in zip(t.column(0).to_pylist(), t.column(1).to_pylist(), strict=True):
        facts[owner[cid]].open_complaints.append(case)
    fallback = (
        "t.due_at < ? AND NOT EXISTS (SELECT 1 FROM events e WHERE e.customer_id = t.customer_id AND e.ref = t.promise_id)"
    )
    if has_ledger:
        t = store.query(
            "SELECT t.customer_id AS cid, t.promise_id FROM guard_scope g JOIN promises t ON t.customer_id = g.customer_id "
            "LEFT JOIN promise_status s ON s.promise_id = t.promise_id WHERE g.run_id = ? AND "
            "((s.promise_id IS NOT NULL AND (s.status = 'overdue' OR (s.status = 'open' AND s.deadline < ?))) "
            f"OR (s.promise_id IS NULL AND {fallback}))",
            [run, as_of, as_of],
        )
    else:
        t = scoped("t.promise_id", "promises", f" AND {fallback}", [as_of])
    for cid, pid in zip(t.column(0).to_pylist(), t.column(1).to_pylist(), strict=True):
        facts[owner[cid]].overdue_promises.append(pid)
    t = scoped("t.purpose, t.channel, t.state, t.recorded_at, t.consent_id, t.source", "consents")
    for cid, pur, ch, st, at, csid, src in zip(*(t.column(i).to_pylist() for i in range(7)), strict=True):
        facts[owner[cid]].consents.append(ConsentEvent(pur, ch or "any", st, at, csid, src))
    t = store.query(
        "SELECT t.customer_id AS cid, t.subscription_id, t.plan_id, t.channel, t.product, t.price, t.new_customer_price, "
        "p.new_customer_price AS pp, p.channel AS pc, t.ends_at, t.status FROM guard_scope g "
        "JOIN subscriptions t ON t.customer_id = g.customer_id LEFT JOIN plans p ON p.plan_id = t.plan_id "
        "WHERE g.run_id = ?",
        [run],
    )
    cols = [t.column(i).to_pylist() for i in range(11)]
    for cid, *rest in zip(*cols, strict=True):
        facts[owner[cid]].subscriptions.append(Subscription(*rest))
    since = as_of - dt.timedelta(days=contact_days)
    t = scoped("t.occurred_at, t.channel, t.function, t.attrs", "interactions", " AND t.direction = 'outbound' AND t.occurred_at >= ?", [since])
    for cid, at, ch, fn, attrs in zip(*(t.column(i).to_pylist() for i in range(5)), strict=True):
        facts[owner[cid]].contacts.append(_contact(at, ch, fn, attrs))
    for f in facts.values():
        if len(f.open_complaints) > 1:
            f.open_complaints.sort()
        if len(f.overdue_promises) > 1:
            f.overdue_promises.sort()
        if len(f.subscriptions) > 1:
            f.subscriptions.sort(key=lambda s: s.subscription_id)
        if len(f.consents) > 1:
            f.consents.sort(key=_consent_order)
    return {c: facts[person_of_asked[c]] for c in uniq}
