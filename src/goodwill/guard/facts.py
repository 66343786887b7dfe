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
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from goodwill.measure import promises as _promises  # noqa: F401  (registers promise_status, which a person read types)
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


def _contact(at: dt.datetime, channel: str | None, function: str | None, attrs: Any) -> Contact:
    # attrs is JSON: an object once a row comes back through to_json/row_to_json, text otherwise.
    a = attrs
    if isinstance(attrs, str) and attrs:
        try:
            a = json.loads(attrs)
        except json.JSONDecodeError:
            a = None
    v = a.get("outcome") if isinstance(a, dict) else None
    return Contact(at, channel, function, None if v is None else str(v))


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


# The tables a guard decision reads about a person (``promise_status`` is the ledger's verdicts).
GUARD_TABLES = ("customers", "cases", "promises", "promise_status", "events", "consents", "subscriptions", "interactions")


def person_facts(
    store: Store,
    customer_id: str,
    *,
    as_of: dt.datetime,
    contact_days: int,
    tables: Tables | None = None,
    plans: dict[str, tuple[float | None, str | None]] | None = None,
) -> PersonFacts:
    """Every fact the rules need about the person ``customer_id`` belongs to, from ONE person read
    (:meth:`Store.person_facts`: a single document on DuckDB, indexed reads on PostgreSQL).

    ``plans`` (plan_id -> new-customer price, channel) may be given by a caller that keeps the
    catalogue; otherwise the plans of the person's subscriptions are read."""
    t = tables or Tables(store)
    ids, facts = store.person_facts(customer_id, [n for n in GUARD_TABLES if t.has(n)])
    if plans is None:
        wanted = sorted({str(s["plan_id"]) for s in facts.get("subscriptions", []) if s.get("plan_id") is not None})
        plans = {}
        if wanted and t.has("plans"):
            marks = ", ".join("?" for _ in wanted)
            plans = {
                str(r["plan_id"]): (None if r["p"] is None else float(r["p"]), r["channel"])
                for r in store.rows(f"SELECT plan_id, new_customer_price AS p, channel FROM plans WHERE plan_id IN ({marks})", wanted)
            }
    return from_rows(customer_id, ids, facts, plans=plans, as_of=as_of, contact_days=contact_days)


def from_rows(
    customer_id: str,
    ids: Sequence[str],
    facts: dict[str, list[dict[str, Any]]],
    *,
    plans: dict[str, tuple[float | None, str | None]],
    as_of: dt.datetime,
    contact_days: int,
) -> PersonFacts:
    """The guard's facts from a person's rows (as :meth:`Store.person_facts` returns them), so
    the brief, which reads the same rows, derives the same facts without reading again."""
    person = customer_id
    for link in facts.get("customer_links", []):
        if link.get("customer_id") == customer_id and link.get("person_id"):
            person = str(link["person_id"])
    f = PersonFacts(person, tuple(sorted(ids)))
    for c in facts.get("customers", []):
        f.known = True
        f.vulnerable = f.vulnerable or bool(c.get("vulnerable"))
        f.age_band = f.age_band or c.get("age_band")
        f.region = f.region or c.get("region")
        f.segment = f.segment or c.get("segment")
    f.open_complaints = sorted(
        str(c["case_id"]) for c in facts.get("cases", []) if c.get("status") == "open" and c.get("kind") == "complaint"
    )
    status = {str(r["promise_id"]): r for r in facts.get("promise_status", [])}
    kept = {str(e["ref"]) for e in facts.get("events", []) if e.get("ref") is not None}
    overdue = []
    for p in facts.get("promises", []):
        pid = str(p["promise_id"])
        s = status.get(pid)
        if s is not None:
            late = s["status"] == "overdue" or (s["status"] == "open" and s["deadline"] is not None and s["deadline"] < as_of)
        else:
            late = p.get("due_at") is not None and p["due_at"] < as_of and pid not in kept
        if late:
            overdue.append(pid)
    f.overdue_promises = sorted(overdue)
    f.consents = sorted(
        (
            ConsentEvent(c["purpose"], c.get("channel") or "any", c["state"], c["recorded_at"], c["consent_id"], c.get("source"))
            for c in facts.get("consents", [])
        ),
        key=_consent_order,
    )
    f.subscriptions = sorted(
        (
            Subscription(
                s["subscription_id"], s.get("plan_id"), s.get("channel"), s.get("product"), s.get("price"),
                s.get("new_customer_price"), *plans.get(str(s.get("plan_id")), (None, None)), s.get("ends_at"),
                s.get("status"),
            )
            for s in facts.get("subscriptions", [])
        ),
        key=lambda s: s.subscription_id,
    )
    since = as_of - dt.timedelta(days=contact_days)
    f.contacts = [
        _contact(i["occurred_at"], i.get("channel"), i.get("function"), i.get("attrs"))
        for i in facts.get("interactions", [])
        if i.get("direction") == "outbound" and i.get("occurred_at") is not None and i["occurred_at"] >= since
    ]
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
