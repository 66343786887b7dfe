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
import json
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


def _sql_tables(store: Store) -> tuple[bool, bool]:
    return store.table_exists("customer_links"), store.table_exists("promise_status")


_T, _D, _TS, _B = "CAST(NULL AS TEXT)", "CAST(NULL AS DOUBLE PRECISION)", "CAST(NULL AS TIMESTAMPTZ)", "CAST(NULL AS BOOLEAN)"


def _branch(tag: str, cols: Sequence[str], rest: str) -> str:
    # Every branch fills the same 12 slots: k1-k6 text, n1-n3 numbers, t1-t2 times, b a flag.
    slots = [_T] * 6 + [_D] * 3 + [_TS] * 2 + [_B]
    for i, c in enumerate(cols):
        if c:
            slots[i] = c
    return f"SELECT '{tag}' AS tag, " + ", ".join(
        f"{v} AS {n}" for v, n in zip(slots, ["k1", "k2", "k3", "k4", "k5", "k6", "n1", "n2", "n3", "t1", "t2", "b"], strict=True)
    ) + " " + rest


def _person_sql(n: int, with_events: bool) -> str:
    marks = ", ".join("?" for _ in range(n))
    inn = f"IN ({marks})"
    parts = [
        _branch("c", ["customer_id", "age_band", "region", "segment", "", "", "", "", "", "", "", "vulnerable"],
                f"FROM customers WHERE customer_id {inn}"),
        _branch("k", ["case_id"], f"FROM cases WHERE customer_id {inn} AND status = 'open' AND kind = 'complaint'"),
        _branch("p", ["promise_id", "", "", "", "", "", "", "", "", "due_at"], f"FROM promises WHERE customer_id {inn}"),
        _branch("n", ["purpose", "channel", "state", "consent_id", "source", "", "", "", "", "recorded_at"],
                f"FROM consents WHERE customer_id {inn}"),
        _branch(
            "s",
            ["s.subscription_id", "s.plan_id", "s.channel", "s.product", "s.status", "p.channel",
             "s.price", "s.new_customer_price", "p.new_customer_price", "s.ends_at"],
            f"FROM subscriptions s LEFT JOIN plans p ON p.plan_id = s.plan_id WHERE s.customer_id {inn}",
        ),
        _branch("i", ["channel", "function", "attrs", "", "", "", "", "", "", "occurred_at"],
                f"FROM interactions WHERE customer_id {inn} AND direction = 'outbound' AND occurred_at >= ?"),
    ]
    if with_events:
        parts.append(_branch("e", ["ref"], f"FROM events WHERE customer_id {inn} AND ref IS NOT NULL"))
    return " UNION ALL ".join(parts)


def person_ids(store: Store, customer_id: str) -> tuple[str, tuple[str, ...]]:
    """The person a customer belongs to and all their customer_ids (one point read)."""
    if not store.table_exists("customer_links"):
        return customer_id, (customer_id,)
    rows = store.rows(
        "SELECT l2.customer_id, l2.person_id FROM customer_links l1 "
        "JOIN customer_links l2 ON l2.person_id = l1.person_id WHERE l1.customer_id = ?",
        [customer_id],
    )
    if not rows:
        return customer_id, (customer_id,)
    ids = sorted({r["customer_id"] for r in rows} | {customer_id})
    return str(rows[0]["person_id"]), tuple(ids)


def person_facts(store: Store, customer_id: str, *, as_of: dt.datetime, contact_days: int) -> PersonFacts:
    """Every fact the rules need about the person ``customer_id`` belongs to."""
    person, ids = person_ids(store, customer_id)
    has_ledger = store.table_exists("promise_status")
    n = len(ids)
    since = as_of - dt.timedelta(days=contact_days)
    params: list[Any] = [*ids, *ids, *ids, *ids, *ids, *ids, since, *ids]
    table = store.query(_person_sql(n, True), params)
    f = PersonFacts(person, ids)
    promises: dict[str, dt.datetime | None] = {}
    kept: set[str] = set()
    for r in table.to_pylist():
        tag = r["tag"]
        if tag == "c":
            f.known = True
            f.vulnerable = f.vulnerable or bool(r["b"])
            f.age_band = f.age_band or r["k2"]
            f.region = f.region or r["k3"]
            f.segment = f.segment or r["k4"]
        elif tag == "k":
            f.open_complaints.append(r["k1"])
        elif tag == "p":
            promises[r["k1"]] = r["t1"]
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
    f.open_complaints.sort()
    f.subscriptions.sort(key=lambda s: s.subscription_id)
    if promises:
        ledger = _ledger(store, list(promises), as_of) if has_ledger else {}
        f.overdue_promises = sorted(
            p for p, due in promises.items()
            if ledger.get(p, due is not None and due < as_of and p not in kept)
        )
    return f


def _ledger(store: Store, promise_ids: list[str], as_of: dt.datetime) -> dict[str, bool]:
    """The ledger's word (overdue or not) on the promises it has reconciled; others use the fallback."""
    marks = ", ".join("?" for _ in promise_ids)
    rows = store.rows(
        f"SELECT promise_id, status, deadline FROM promise_status WHERE promise_id IN ({marks})", promise_ids
    )
    return {
        r["promise_id"]: r["status"] == "overdue" or (r["status"] == "open" and r["deadline"] is not None and r["deadline"] < as_of)
        for r in rows
    }


# -- a whole campaign ------------------------------------------------------------------------


def campaign_facts(
    store: Store, customer_ids: Sequence[str], *, as_of: dt.datetime, contact_days: int
) -> dict[str, PersonFacts]:
    """Facts for every customer of a campaign, keyed by customer_id, gathered by joins in the engine."""
    run = uuid.uuid4().hex[:12]
    uniq = sorted(set(customer_ids))
    store.ensure_table(SCOPE)
    store.append(SCOPE, pa.table({"run_id": pa.array([run] * len(uniq)), "customer_id": pa.array(uniq)}), dedupe=False)
    try:
        return _campaign_facts(store, run, uniq, as_of, contact_days)
    finally:
        store.execute("DELETE FROM guard_scope WHERE run_id = ?", [run])


def _campaign_facts(
    store: Store, run: str, uniq: list[str], as_of: dt.datetime, contact_days: int
) -> dict[str, PersonFacts]:
    has_links, has_ledger = _sql_tables(store)
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
    return {c: facts[person_of_asked[c]] for c in uniq}
