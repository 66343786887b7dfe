"""Campaign vetting, set-based: fact columns by joins in the engine, rules as numpy masks.

The per-action path (:func:`goodwill.guard.facts.person_facts` and each rule's ``check``)
is the reference. This module gives the same verdicts, reasons and changes for a whole
campaign without a Python object per person:

1. the campaign's actions go into the engine as one Arrow table (``guard_batch``);
2. per action, the facts every built-in sales rule needs come back as columns (open
   complaints, overdue promises, the consent that stands for the purpose and channel,
   a standing objection, contacts in each cap window, rejections, vulnerability);
3. the rules run as masks over those columns; a :class:`Hit` is built only when a
   decision is looked at, by the same helpers the rules' ``check`` methods use.

Rows the masks cannot decide alone go through the per-action path: every action of a
person with more than one action in the campaign (what the campaign sends counts
towards its own later caps), actions a price or notice rule has a view on (subscription
matching), and every action when the pack holds a rule without a batch form.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from goodwill.errors import GoodwillError
from goodwill.guard import builtin
from goodwill.guard.action import Action
from goodwill.guard.facts import ConsentEvent, PersonFacts, Tables
from goodwill.guard.registry import BoundRule, Hit
from goodwill.model import Column, Table, register_table
from goodwill.store import Store

if TYPE_CHECKING:
    from goodwill.guard.engine import Guard

BATCH = register_table(
    Table(
        "guard_batch",
        (
            Column("run_id", "text", nullable=False),
            Column("i", "int", nullable=False),
            Column("customer_id", "text", nullable=False),
            Column("channel", "text"),
            Column("chan", "text"),
            Column("purpose", "text"),
            Column("mk", "bool"),
            Column("ch_since", "timestamp"),
            Column("all_since", "timestamp"),
            Column("rej_since", "timestamp"),
        ),
        ("run_id", "i"),
        "Scratch: the actions of one campaign being vetted set-based (emptied after the run).",
        customer_column=None,
        internal=True,
    )
)

# The rules this module evaluates as masks; any other enabled rule sends every row to the per-action path.
BATCH_RULES: dict[str, type] = {
    "fix_first": builtin.FixFirst,
    "marketing_consent": builtin.MarketingConsent,
    "marketing_objection": builtin.MarketingObjection,
    "withdrawn_consent": builtin.WithdrawnConsent,
    "contact_cap": builtin.ContactCap,
    "rejection_suppression": builtin.RejectionSuppression,
    "vulnerable_care": builtin.VulnerableCare,
    "copy_lint": builtin.CopyLint,
    # These two decide nothing on the rows kept here (see per_action_rows).
    "renewal_price_cap": builtin.RenewalPriceCap,
    "contract_notice": builtin.ContractNotice,
}


def batchable(guard: Guard) -> bool:
    return all(type(b.rule) is BATCH_RULES.get(b.ctx.spec.id) for b in guard.pack.bound)


def _applies(b: BoundRule, a: Action) -> bool:
    return b.kinds is None or a.kind in b.kinds


def per_action_rows(guard: Guard, actions: Sequence[Action], person: list[str]) -> np.ndarray:
    """Mask of the rows that go through the per-action path."""
    n = len(actions)
    slow = np.zeros(n, dtype=bool)
    by_id = {b.ctx.spec.id: b for b in guard.pack.bound}
    price = by_id.get("renewal_price_cap")
    notice = by_id.get("contract_notice")
    required = (notice.ctx.params.get("required_content") or {}) if notice else {}
    for j, a in enumerate(actions):
        if (price is not None and _applies(price, a)) or (notice is not None and a.attrs.get("notice") in required):
            slow[j] = True
    _, inverse, counts = np.unique(np.asarray(person, dtype=object).astype(str), return_inverse=True, return_counts=True)
    slow |= counts[inverse] > 1
    return slow


@dataclass
class Columns:
    """Per-row facts of the set-based rows (index = position among those rows)."""

    person: list[str]
    customer_ids: list[list[str]]
    known: np.ndarray
    vulnerable: np.ndarray
    complaints: list[list[str]]
    promises: list[list[str]]
    n_consents: np.ndarray
    subscriptions: list[list[str]]
    n_contacts: np.ndarray
    consent: dict[str, list[Any]]
    objection: dict[str, list[Any]]
    n_channel: np.ndarray
    n_all: np.ndarray
    rejections: np.ndarray
    rejection_until: list[dt.datetime | None]


def _groups(i: np.ndarray, values: list[Any], n: int) -> list[list[Any]]:
    out: list[list[Any]] = [[] for _ in range(n)]
    order = np.argsort(i, kind="stable")
    for j in order.tolist():
        out[int(i[j])].append(values[j])
    return out


def _dense(t: pa.Table, col: str, n: int, dtype: Any, fill: Any) -> np.ndarray:
    out = np.full(n, fill, dtype=dtype)
    if t.num_rows:
        idx = t.column("i").to_numpy()
        vals = t.column(col).fill_null(fill).to_numpy(zero_copy_only=False)
        out[idx] = vals
    return out


def _by_row(t: pa.Table, cols: Sequence[str], n: int) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {c: [None] * n for c in cols}
    if t.num_rows:
        idx = t.column("i").to_pylist()
        for c in cols:
            dst = out[c]
            for j, v in zip(idx, t.column(c).to_pylist(), strict=True):
                dst[j] = v
    return out


def gather(
    guard: Guard, actions: Sequence[Action], as_of: dt.datetime, tables: Tables
) -> Columns:
    """The fact columns for ``actions`` (each the only action of its person in the campaign)."""
    store: Store = guard.store
    n = len(actions)
    pack = guard.pack
    by_id = {b.ctx.spec.id: b for b in pack.bound}
    caps: dict[str, dict[str, Any]] = by_id["contact_cap"].ctx.params.get("caps") or {} if "contact_cap" in by_id else {}
    rej = by_id.get("rejection_suppression")
    rej_days = int(rej.ctx.params.get("days", 90)) if rej else 0
    fetch_since = as_of - dt.timedelta(days=guard.contact_days)
    at = [a.planned_at or as_of for a in actions]

    def since(days: int | None) -> list[dt.datetime | None]:
        if days is None:
            return [None] * n
        d = dt.timedelta(days=days)
        return [max(fetch_since, t - d) for t in at]

    ch_since: list[dt.datetime | None] = [
        max(fetch_since, t - dt.timedelta(days=int(caps[a.channel]["days"]))) if a.channel and a.channel in caps else None
        for a, t in zip(actions, at, strict=True)
    ]
    mk = [guard._is_marketing(a) for a in actions]
    run = uuid.uuid4().hex[:12]
    ts = pa.timestamp("us", tz="UTC")
    batch = pa.table({
        "run_id": pa.array([run] * n, pa.string()),
        "i": pa.array(np.arange(n, dtype=np.int64)),
        "customer_id": pa.array([a.customer_id for a in actions], pa.string()),
        "channel": pa.array([a.channel for a in actions], pa.string()),
        "chan": pa.array([a.channel or "any" for a in actions], pa.string()),
        "purpose": pa.array([a.purpose for a in actions], pa.string()),
        "mk": pa.array(mk, pa.bool_()),
        "ch_since": pa.array(ch_since, ts),
        "all_since": pa.array(since(int(caps["all"]["days"])) if "all" in caps else [None] * n, ts),
        "rej_since": pa.array(since(rej_days) if rej else [None] * n, ts),
    })
    store.ensure_table(BATCH)
    store.append(BATCH, batch, dedupe=False)
    try:
        return _gather(store, run, n, as_of, fetch_since, tables, sorted(pack.marketing_purposes), rej)
    finally:
        store.execute("DELETE FROM guard_batch WHERE run_id = ?", [run])


def _gather(
    store: Store, run: str, n: int, as_of: dt.datetime, fetch_since: dt.datetime, tables: Tables,
    marketing: list[str], rej: BoundRule | None,
) -> Columns:
    links, ledger = tables.has("customer_links"), tables.has("promise_status")
    members = "SELECT b.i, b.customer_id AS cid FROM guard_batch b WHERE b.run_id = ?"
    params: list[Any] = [run]
    if links:
        members += (
            " UNION SELECT b.i, l2.customer_id FROM guard_batch b JOIN customer_links l1 ON l1.customer_id = b.customer_id "
            "JOIN customer_links l2 ON l2.person_id = l1.person_id WHERE b.run_id = ?"
        )
        params.append(run)
    cte = f"WITH m AS ({members}) "

    def q(sql: str, extra: Sequence[Any] = ()) -> pa.Table:
        return store.query(cte + sql, [*params, *extra])

    m = q("SELECT i, cid FROM m ORDER BY i, cid")
    mi = m.column("i").to_numpy()
    customer_ids = _groups(mi, m.column("cid").to_pylist(), n)
    person = [a[0] if a else "" for a in customer_ids]
    if links:
        t = store.query(
            "SELECT b.i, l.person_id FROM guard_batch b JOIN customer_links l ON l.customer_id = b.customer_id WHERE b.run_id = ?",
            [run],
        )
        for j, p in zip(t.column("i").to_pylist(), t.column("person_id").to_pylist(), strict=True):
            person[j] = p
    no_link = [True] * n
    if links:
        for j in t.column("i").to_pylist():
            no_link[j] = False
    t = store.query("SELECT i, customer_id FROM guard_batch WHERE run_id = ?", [run])
    for j, c in zip(t.column("i").to_pylist(), t.column("customer_id").to_pylist(), strict=True):
        if no_link[j]:
            person[j] = c
    t = q("SELECT m.i, count(*) AS n, bool_or(c.vulnerable) AS v FROM m JOIN customers c ON c.customer_id = m.cid GROUP BY m.i")
    known = _dense(t, "n", n, np.int64, 0) > 0
    vulnerable = _dense(t, "v", n, bool, False)
    t = q("SELECT m.i, c.case_id FROM m JOIN cases c ON c.customer_id = m.cid WHERE c.status = 'open' AND c.kind = 'complaint' "
          "ORDER BY m.i, c.case_id")
    complaints = _groups(t.column("i").to_numpy(), t.column("case_id").to_pylist(), n)
    fallback = "t.due_at < ? AND NOT EXISTS (SELECT 1 FROM events e WHERE e.customer_id = t.customer_id AND e.ref = t.promise_id)"
    if ledger:
        t = q("SELECT m.i, t.promise_id FROM m JOIN promises t ON t.customer_id = m.cid "
              "LEFT JOIN promise_status s ON s.promise_id = t.promise_id WHERE "
              "((s.promise_id IS NOT NULL AND (s.status = 'overdue' OR (s.status = 'open' AND s.deadline < ?))) "
              f"OR (s.promise_id IS NULL AND {fallback})) ORDER BY m.i, t.promise_id", [as_of, as_of])
    else:
        t = q(f"SELECT m.i, t.promise_id FROM m JOIN promises t ON t.customer_id = m.cid WHERE {fallback} "
              "ORDER BY m.i, t.promise_id", [as_of])
    promises = _groups(t.column("i").to_numpy(), t.column("promise_id").to_pylist(), n)
    t = q("SELECT m.i, count(*) AS n FROM m JOIN consents c ON c.customer_id = m.cid GROUP BY m.i")
    n_consents = _dense(t, "n", n, np.int64, 0)
    t = q("SELECT m.i, s.subscription_id FROM m JOIN subscriptions s ON s.customer_id = m.cid ORDER BY m.i, s.subscription_id")
    subscriptions = _groups(t.column("i").to_numpy(), t.column("subscription_id").to_pylist(), n)
    # The consent that stands (FixFirst's siblings read it through PersonFacts.consent).
    mk_in = ", ".join("?" for _ in marketing) or "NULL"
    ps = f"(c.purpose = 'all' OR (b.mk AND c.purpose IN ({mk_in})) OR (NOT b.mk AND c.purpose = b.purpose))"
    chan = "CASE WHEN b.chan = 'any' THEN NOT (COALESCE(c.channel, 'any') <> 'any' AND c.state = 'granted') " \
           "ELSE COALESCE(c.channel, 'any') IN (b.chan, 'any') END"
    t = q(
        "SELECT DISTINCT ON (m.i) m.i, c.purpose, COALESCE(c.channel, 'any') AS channel, c.state, c.recorded_at, c.consent_id, "
        "c.source FROM m JOIN guard_batch b ON b.run_id = ? AND b.i = m.i JOIN consents c ON c.customer_id = m.cid "
        f"WHERE (b.mk OR b.purpose IS NOT NULL) AND {ps} AND {chan} ORDER BY m.i, c.recorded_at DESC, c.consent_id DESC",
        [run, *marketing],
    )
    consent = _by_row(t, ["purpose", "channel", "state", "recorded_at", "consent_id", "source"], n)
    ops = f"(c.purpose = 'all' OR c.purpose IN ({mk_in}) OR (b.purpose IS NULL AND c.purpose = 'marketing'))"
    gps = ops.replace("c.", "g.")
    t = q(
        "SELECT o.* FROM (SELECT DISTINCT ON (m.i) m.i, c.purpose, c.recorded_at, COALESCE(c.channel, 'any') AS channel, c.consent_id, "
        "c.source FROM m JOIN guard_batch b ON b.run_id = ? AND b.i = m.i JOIN consents c ON c.customer_id = m.cid "
        f"WHERE b.mk AND c.state = 'objected' AND {ops} ORDER BY m.i, c.recorded_at DESC, c.consent_id DESC) o "
        "JOIN guard_batch b ON b.run_id = ? AND b.i = o.i WHERE NOT EXISTS (SELECT 1 FROM m m2 JOIN consents g "
        f"ON g.customer_id = m2.cid WHERE m2.i = o.i AND g.state = 'granted' AND {gps} "
        "AND COALESCE(g.channel, 'any') IN (b.chan, 'any') AND g.recorded_at > o.recorded_at)",
        [run, *marketing, run, *marketing],
    )
    objection = _by_row(t, ["purpose", "recorded_at", "channel", "consent_id", "source"], n)
    sales = "i.function IN ('marketing', 'sales')"
    t = q(
        "SELECT m.i, count(*) AS n, "
        f"sum(CASE WHEN {sales} AND i.channel = b.channel AND i.occurred_at >= b.ch_since THEN 1 ELSE 0 END) AS n_ch, "
        f"sum(CASE WHEN {sales} AND i.occurred_at >= b.all_since THEN 1 ELSE 0 END) AS n_all "
        "FROM m JOIN guard_batch b ON b.run_id = ? AND b.i = m.i JOIN interactions i ON i.customer_id = m.cid "
        "WHERE i.direction = 'outbound' AND i.occurred_at >= ? GROUP BY m.i",
        [run, fetch_since],
    )
    n_contacts = _dense(t, "n", n, np.int64, 0)
    n_channel = _dense(t, "n_ch", n, np.int64, 0)
    n_all = _dense(t, "n_all", n, np.int64, 0)
    rejections = np.zeros(n, dtype=np.int64)
    until: list[dt.datetime | None] = [None] * n
    if rej is not None:
        rejections, until = _rejections(q, run, n, rej)
    return Columns(person, customer_ids, known, vulnerable, complaints, promises, n_consents, subscriptions, n_contacts,
                   consent, objection, n_channel, n_all, rejections, until)


def _outcome(attrs: str | None) -> str | None:
    # The same reading as goodwill.guard.facts._contact.
    if not attrs:
        return None
    try:
        a = json.loads(attrs)
    except json.JSONDecodeError:
        return None
    if isinstance(a, dict):
        v = a.get("outcome")
        return str(v) if v is not None else None
    return None


def _rejections(q: Any, run: str, n: int, rej: BoundRule) -> tuple[np.ndarray, list[dt.datetime | None]]:
    days = int(rej.ctx.params.get("days", 90))
    most = int(rej.ctx.params.get("max_rejections", 3))
    outcomes = set(rej.ctx.params.get("outcomes") or ())
    t = q(
        "SELECT m.i, i.occurred_at, i.attrs FROM m JOIN guard_batch b ON b.run_id = ? AND b.i = m.i "
        "JOIN interactions i ON i.customer_id = m.cid WHERE b.mk AND i.direction = 'outbound' AND i.occurred_at >= b.rej_since "
        "AND i.attrs IS NOT NULL",
        [run],
    )
    counts = np.zeros(n, dtype=np.int64)
    until: list[dt.datetime | None] = [None] * n
    if not t.num_rows or not outcomes:
        return counts, until
    # Parse each distinct attrs text once: a campaign's contacts repeat a handful of shapes.
    enc = pc.dictionary_encode(t.column("attrs")).combine_chunks()
    hit_dict = np.array([_outcome(v) in outcomes for v in enc.dictionary.to_pylist()], dtype=bool)
    hit = hit_dict[enc.indices.to_numpy()]
    idx = t.column("i").to_numpy()[hit]
    counts = np.bincount(idx, minlength=n).astype(np.int64)
    fire = np.flatnonzero(counts >= most)
    if fire.size:
        us = pc.cast(t.column("occurred_at"), pa.int64()).to_numpy()[hit]
        order = np.lexsort((us, idx))
        idx_s, us_s = idx[order], us[order]
        ends = np.searchsorted(idx_s, fire, side="right")
        for j, e in zip(fire.tolist(), ends.tolist(), strict=True):
            at = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=int(us_s[e - most]))
            until[j] = at + dt.timedelta(days=days)
    return counts, until


@dataclass
class Masks:
    """Which rule fires on which row, in the pack's order."""

    fired: dict[str, np.ndarray]
    lint: dict[str, Hit | None]


def evaluate(guard: Guard, actions: Sequence[Action], cols: Columns, as_of: dt.datetime) -> Masks:
    n = len(actions)
    kinds = np.array([a.kind for a in actions], dtype=object)
    mk = np.array([guard._is_marketing(a) for a in actions], dtype=bool)
    has_purpose = np.array([a.purpose is not None for a in actions], dtype=bool)
    state = np.array(cols.consent["state"], dtype=object)
    fired: dict[str, np.ndarray] = {}
    lint: dict[str, Hit | None] = {}
    for b in guard.pack.bound:
        rid = b.ctx.spec.id
        applies = np.ones(n, dtype=bool) if b.kinds is None else np.isin(kinds, list(b.kinds))
        if rid == "fix_first":
            outstanding = np.array([bool(c) or bool(p) for c, p in zip(cols.complaints, cols.promises, strict=True)], dtype=bool)
            f = outstanding
        elif rid == "marketing_consent":
            f = mk & ~np.isin(state, ["granted", "withdrawn", "objected"])
        elif rid == "marketing_objection":
            f = mk & np.array([o is not None for o in cols.objection["consent_id"]], dtype=bool)
        elif rid == "withdrawn_consent":
            f = (mk | has_purpose) & (state == "withdrawn")
        elif rid == "contact_cap":
            caps: dict[str, dict[str, Any]] = b.ctx.params.get("caps") or {}
            ch = np.array([a.channel in caps if a.channel else False for a in actions], dtype=bool)
            ch_max = np.array([int(caps[a.channel]["max"]) if a.channel and a.channel in caps else 0 for a in actions])
            f = mk & ch & (cols.n_channel >= ch_max)
            if "all" in caps:
                f |= mk & (cols.n_all >= int(caps["all"]["max"]))
        elif rid == "rejection_suppression":
            f = mk & (cols.rejections >= int(b.ctx.params.get("max_rejections", 3)))
        elif rid == "vulnerable_care":
            f = cols.vulnerable.copy()
        elif rid == "copy_lint":
            b.ctx.as_of = as_of
            for t in {a.text for a in actions if a.text}:
                lint[t] = b.rule.check(Action("", "message", text=t), None, b.ctx)  # type: ignore[arg-type]
            f = np.array([lint.get(a.text or "") is not None for a in actions], dtype=bool)
        else:
            # renewal_price_cap and contract_notice: rows they would decide went to the per-action path.
            continue
        fired[rid] = applies & f
    return Masks(fired, lint)


def _event(d: dict[str, list[Any]], j: int, state: str | None = None) -> ConsentEvent | None:
    if d["consent_id"][j] is None:
        return None
    return ConsentEvent(d["purpose"][j], d["channel"][j], state or d["state"][j], d["recorded_at"][j], d["consent_id"][j],
                        d["source"][j])


def hits_for(guard: Guard, a: Action, cols: Columns, masks: Masks, j: int) -> tuple[list[Hit], dict[str, Any]]:
    """The hits of row ``j``, built by the rules' own code (or the same values) from its fact columns."""
    consents = [c for c in (_event(cols.consent, j), _event(cols.objection, j, "objected")) if c is not None]
    consents.sort(key=lambda c: (c.recorded_at, c.consent_id))
    f = PersonFacts(cols.person[j], tuple(cols.customer_ids[j]), bool(cols.known[j]), bool(cols.vulnerable[j]),
                    open_complaints=cols.complaints[j], overdue_promises=cols.promises[j], consents=consents)
    summary = {
        "person_id": f.person_id,
        "customer_ids": list(f.customer_ids),
        "known": f.known,
        "vulnerable": f.vulnerable,
        "open_complaints": f.open_complaints,
        "overdue_promises": f.overdue_promises,
        "consents": int(cols.n_consents[j]),
        "subscriptions": cols.subscriptions[j],
        "recent_contacts": int(cols.n_contacts[j]),
    }
    hits: list[Hit] = []
    for b in guard.pack.bound:
        rid = b.ctx.spec.id
        m = masks.fired.get(rid)
        if m is None or not m[j]:
            continue
        h: Hit | None
        if rid == "copy_lint":
            h = masks.lint[a.text or ""]
        elif rid == "contact_cap":
            h = _cap_hit(b, a, cols, j, f.person_id)
        elif rid == "rejection_suppression":
            h = b.ctx.hit("deny", {"customer": f.person_id, "count": int(cols.rejections[j]), "days": int(b.ctx.params.get("days", 90)),
                                   "max": int(b.ctx.params.get("max_rejections", 3)), "until": cols.rejection_until[j]})
        else:
            h = b.rule.check(a, f, b.ctx)
        if h is None:
            raise GoodwillError(f"The set-based guard and rule {rid} disagree on action {a.action_id}.",
                                hint="Vet the campaign with batch=False and report this as a bug.")
        hits.append(h)
    return hits, summary


def _cap_hit(b: BoundRule, a: Action, cols: Columns, j: int, person: str) -> Hit:
    caps: dict[str, dict[str, Any]] = b.ctx.params.get("caps") or {}
    for key, n in ((a.channel, cols.n_channel[j]), ("all", cols.n_all[j])):
        if not key or key not in caps:
            continue
        days, most = int(caps[key]["days"]), int(caps[key]["max"])
        if n >= most:
            return b.ctx.hit("deny", {"customer": person, "count": int(n), "channel": "all channels" if key == "all" else key,
                                      "days": days, "max": most})
    raise GoodwillError(f"The set-based contact cap disagrees on action {a.action_id}.", hint="Report this as a bug.")
