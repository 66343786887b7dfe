"""The customer brief: what a person at the point of contact needs, on one screen.

Open problems, promises owed (overdue first), what the customer told us recently and
how they felt, their goodwill balance and its trend, what not to do to them now (the
guard's answer to the usual outbound actions, nothing recorded) and what would help.

The hot path is ONE :meth:`Store.person_facts` read of the tables the brief uses, plus a
point read of the person's promises in the promise ledger when they have any. Everything
else derives from those rows in Python: the guard's facts (the same
:class:`~goodwill.guard.PersonFacts` its own query would build, checked in a test), the
goodwill balance (the same sum as :func:`goodwill.measure.goodwill_ledger.customer_ledger`),
consents and fair value. What is per store rather than per person (which tables exist,
contact-reason labels, plans, ledger dates, weights) is cached on the :class:`BriefContext`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from goodwill.errors import NotFoundError
from goodwill.guard import Action, Guard, PersonFacts
from goodwill.guard.facts import from_rows as guard_from_rows
from goodwill.measure import fair_value as _fair_value  # noqa: F401  (registers the table person_facts reads)
from goodwill.measure import goodwill_ledger as _ledger
from goodwill.serve.cache import Refreshing
from goodwill.store import Store

__all__ = ["BRIEF_TABLES", "PROBES", "BriefContext", "build_brief", "guard_facts"]

V = TypeVar("V")

# The outbound actions a company most often takes unasked: the guard's verdict on each
# is "what not to do to them now". (kind, channel, purpose, what a person reads)
PROBES: tuple[tuple[str, str, str, str], ...] = (
    ("upsell", "email", "marketing", "an up-sell by e-mail"),
    ("cross_sell", "phone", "marketing", "a cross-sell call"),
    ("offer", "sms", "marketing", "an offer by text message"),
    ("message", "email", "marketing", "a marketing e-mail"),
)
# The fact tables a brief reads. Every other table with a customer column (identifiers,
# actions, decisions, rectifications, runaround cases...) costs a branch of the query and
# shows nowhere in the brief; decisions alone grow with every campaign vetted.
BRIEF_TABLES = (
    "customers",
    "interactions",
    "cases",
    "promises",
    "events",
    "subscriptions",
    "consents",
    "enrichments",
    "text_spans",
    "goodwill_entries",
    "fair_value",
    "promise_status",
)
# Rules whose reason states a sensitive fact: the reason moves under that field class's key
# (redacted for roles that may not see it) and a neutral line stands in its place.
SENSITIVE_RULES = {"vulnerable_care": ("vulnerability", "Needs extra care first: route it to a trained colleague.")}
_ORDER = {"overdue": 0, "open": 1, "broken": 2, "kept_late": 3, "kept": 4, "repeat": 5}
_OWED = ("overdue", "open", "broken")
RECENT = 5
TREND_DAYS = 90
FAR = dt.datetime.max.replace(tzinfo=dt.UTC)


@dataclass
class BriefContext:
    """What a brief needs besides the store, built once per server (not per request).

    Per-store facts (contact-reason labels, plans, ledger dates, weights) are kept with the
    store's write generation: after a write this process makes, or after ``ttl_s`` seconds
    (writes of other processes), the next brief still gets the value it had and starts one
    refresh in the background, so a ledger or enrichment built while the server runs shows
    in the briefs soon after. Only the first brief waits for them. Per-person facts are
    never cached.
    """

    store: Store
    guard: Guard
    ttl_s: float = 60.0
    _cache: Refreshing[Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._cache = Refreshing(self.store, self.ttl_s, workers=1, name="goodwill-brief-refresh")

    def cached(self, key: str, make: Callable[[Store], V]) -> V:
        value: V = self._cache.get(key, make)
        return value

    def has(self, table: str) -> bool:
        # The guard's table memory: a table seen stays known; a missing one is looked for again later.
        return self.guard.tables.has(table)

    def tables(self) -> list[str]:
        return [t for t in BRIEF_TABLES if self.has(t)]

    def reason_labels(self) -> dict[int, str]:
        # A refresh reads on a connection of its own: it asks that connection, not the guard's
        # memory (which asks the owner's), whether the table exists.
        def make(store: Store) -> dict[int, str]:
            if not store.table_exists("reasons"):
                return {}
            return {
                int(r["reason_id"]): str(r["label"] or f"reason {r['reason_id']}")
                for r in store.rows("SELECT reason_id, label FROM reasons")
            }

        return self.cached("reasons", make)

    def plans(self) -> dict[str, tuple[float | None, str | None]]:
        """plan_id -> (new-customer price, channel): what the guard joins to a subscription."""

        def make(store: Store) -> dict[str, tuple[float | None, str | None]]:
            if not store.table_exists("plans"):
                return {}
            return {
                str(r["plan_id"]): (None if r["p"] is None else float(r["p"]), r["channel"])
                for r in store.rows("SELECT plan_id, new_customer_price AS p, channel FROM plans")
            }

        return self.cached("plans", make)

    def meta(self) -> dict[str, str | None]:
        keys = ("goodwill_ledger_as_of", "goodwill_ledger_version", "goodwill_ledger_missing", "fair_value_as_of")
        return self.cached("meta", lambda store: {k: store.get_meta(k) for k in keys})

    def weights(self) -> _ledger.Weights:
        return self.cached("weights", lambda store: _ledger.load_weights())


def _days(a: dt.datetime | None, b: dt.datetime) -> int | None:
    return None if a is None else (b - a).days


def _statuses(facts: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """The promise ledger's verdicts on the person's promises (read with them, keyed by promise)."""
    return {str(r["promise_id"]): r for r in facts.get("promise_status", [])}


def _kept_refs(facts: dict[str, list[dict[str, Any]]]) -> set[str]:
    return {str(e["ref"]) for e in facts.get("events", []) if e.get("ref") is not None}


def _promises(
    facts: dict[str, list[dict[str, Any]]], status: dict[str, dict[str, Any]], now: dt.datetime
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    rows = facts.get("promises", [])
    kept_refs = _kept_refs(facts)
    owed: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    for p in rows:
        s = status.get(p["promise_id"])
        if s is not None:
            st, deadline = str(s["status"]), s["deadline"]
        else:
            # No ledger yet: the promise's own due date and any event naming it decide.
            deadline = p.get("due_at")
            if p["promise_id"] in kept_refs:
                st = "kept"
            elif deadline is not None and deadline < now:
                st = "overdue"
            else:
                st = "open"
        counts[st] = counts.get(st, 0) + 1
        if st not in _OWED:
            continue
        owed.append(
            {
                "promise_id": p["promise_id"],
                "status": st,
                "action": p.get("action"),
                "description": p.get("description"),
                "deadline": deadline,
                "days_overdue": max(0, (now - deadline).days) if deadline and deadline < now else 0,
                "made_at": p.get("made_at"),
                "made_by": p.get("made_by"),
                "team": p.get("team"),
                "channel": p.get("channel"),
                "kind": p.get("kind"),
                "evidence": p.get("evidence"),
                "decided_by": (s or {}).get("rule") or "due date (no ledger built)",
            }
        )
    owed.sort(key=lambda r: (_ORDER.get(r["status"], 9), r["deadline"] or FAR, r["promise_id"]))
    return owed, counts


def _open_problems(facts: dict[str, list[dict[str, Any]]], now: dt.datetime) -> list[dict[str, Any]]:
    out = []
    for c in facts.get("cases", []):
        if (c.get("status") or "open") == "closed" or c.get("closed_at") is not None:
            continue
        out.append(
            {
                "case_id": c["case_id"],
                "kind": c.get("kind"),
                "product": c.get("product"),
                "issue": c.get("issue"),
                "sub_issue": c.get("sub_issue"),
                "opened_at": c.get("opened_at"),
                "days_open": _days(c.get("opened_at"), now),
                "channel": c.get("channel"),
                "company": c.get("company"),
            }
        )
    out.sort(key=lambda c: (c["opened_at"] or FAR, c["case_id"]))
    return out


def _recent(
    facts: dict[str, list[dict[str, Any]]], labels: dict[int, str]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    enr = {e["interaction_id"]: e for e in facts.get("enrichments", [])}
    said = [
        i
        for i in facts.get("interactions", [])
        if i.get("text") and (i.get("direction") in (None, "inbound"))
    ]
    said.sort(key=lambda i: (i["occurred_at"], i["interaction_id"]), reverse=True)
    recent = []
    for i in said[:RECENT]:
        e = enr.get(i["interaction_id"], {})
        rid = e.get("reason_id")
        recent.append(
            {
                "interaction_id": i["interaction_id"],
                "occurred_at": i["occurred_at"],
                "channel": i.get("channel"),
                "function": i.get("function"),
                "text": i["text"],
                "sentiment": e.get("sentiment_label"),
                "sentiment_score": e.get("sentiment_score"),
                "reason_id": rid,
                "reason": labels.get(int(rid)) if rid is not None else None,
            }
        )
    scores = [
        float(enr[i["interaction_id"]]["sentiment_score"])
        for i in said
        if i["interaction_id"] in enr and enr[i["interaction_id"]].get("sentiment_score") is not None
    ]
    recent_scores, earlier = scores[:RECENT], scores[RECENT:]
    mean = sum(recent_scores) / len(recent_scores) if recent_scores else None
    before = sum(earlier) / len(earlier) if earlier else None
    if mean is None:
        mood = "unknown (their words have not been read yet: run goodwill enrich)" if said else "nothing said yet"
    elif mean <= -0.25:
        mood = "unhappy"
    elif mean >= 0.25:
        mood = "content"
    else:
        mood = "mixed"
    feeling = {
        "mood": mood,
        "recent_mean": mean,
        "earlier_mean": before,
        "change": None if mean is None or before is None else mean - before,
        "messages": len(said),
    }
    return recent, feeling


def guard_facts(ctx: BriefContext, customer_id: str, ids: list[str], facts: dict[str, list[dict[str, Any]]], now: dt.datetime) -> PersonFacts:
    """The guard's :class:`PersonFacts` from the rows the brief already read (the guard's own
    derivation, so the brief's "do not" is the guard's verdict)."""
    plans = ctx.plans() if facts.get("subscriptions") else {}
    return guard_from_rows(customer_id, ids, facts, plans=plans, as_of=now, contact_days=ctx.guard.contact_days)


def _do_not(ctx: BriefContext, customer_id: str, facts: PersonFacts, now: dt.datetime) -> list[dict[str, Any]]:
    out = []
    for kind, channel, purpose, words in PROBES:
        action = Action(customer_id=customer_id, kind=kind, action_id=f"probe:{kind}:{channel}", purpose=purpose, channel=channel)
        d = ctx.guard.evaluate(action, facts, now)
        if d.verdict == "allow":
            continue
        out.append(
            {
                "action": words,
                "kind": kind,
                "channel": channel,
                "verdict": d.verdict,
                "reasons": [_reason(h.rule_id, h.reason, h.basis) for h in d.hits],
                "route": d.route,
            }
        )
    return out


def _reason(rule: str, reason: str, basis: str) -> dict[str, Any]:
    if rule in SENSITIVE_RULES:
        key, neutral = SENSITIVE_RULES[rule]
        return {"rule": rule, "reason": neutral, key: reason, "basis": basis}
    return {"rule": rule, "reason": reason, "basis": basis}


def _loyalty(ctx: BriefContext, facts: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Subscriptions on which they pay more than a new customer would: fair value's verdict
    (what `goodwill fair-value` lists, beyond the weights' tolerance) once it has been computed,
    else the new-customer price recorded on the subscription."""
    out = []
    if ctx.meta().get("fair_value_as_of") is not None and ctx.has("fair_value"):
        tol = float(ctx.weights().rules["fair_tolerance_percent"])
        for f in sorted(facts.get("fair_value", []), key=lambda r: r["subscription_id"]):
            if f.get("verdict") != "penalty" or f.get("penalty_pct") is None or f["penalty_pct"] <= tol:
                continue
            out.append(
                {
                    "subscription_id": f["subscription_id"],
                    "product": f.get("product") or f.get("plan_id"),
                    "price": f.get("price"),
                    "new_customer_price": f.get("reference_price"),
                    "over": f["price"] - f["reference_price"],
                    "over_pct": f["penalty_pct"],
                    "annual_penalty": f.get("annual_penalty"),
                    "basis": f.get("reference_basis"),
                    "currency": None,
                }
            )
        return out
    for s in facts.get("subscriptions", []):
        price, new = s.get("price"), s.get("new_customer_price")
        if s.get("status") not in (None, "active") or price is None or new is None or price <= new:
            continue
        out.append(
            {
                "subscription_id": s["subscription_id"],
                "product": s.get("product") or s.get("plan_id"),
                "price": price,
                "new_customer_price": new,
                "over": price - new,
                "over_pct": 100.0 * (price - new) / new if new else None,
                "annual_penalty": None,
                "basis": "declared: subscriptions.new_customer_price (fair value not computed)",
                "currency": s.get("currency"),
            }
        )
    return out


def _goodwill(ctx: BriefContext, facts: dict[str, list[dict[str, Any]]], now: dt.datetime) -> dict[str, Any] | None:
    """The person's goodwill account, summed as :func:`goodwill_ledger.customer_ledger` sums it,
    with its trend over the last ``TREND_DAYS`` days before the ledger's date."""
    meta = ctx.meta()
    if meta.get("goodwill_ledger_as_of") is None or not ctx.has("goodwill_entries"):
        return None
    entries = sorted(facts.get("goodwill_entries", []), key=lambda e: (e["occurred_at"] or FAR, e["entry_id"]))
    as_of = min(now, dt.datetime.fromisoformat(str(meta["goodwill_ledger_as_of"])))
    since = as_of - dt.timedelta(days=TREND_DAYS)
    running = 0.0
    months: dict[str, float] = {}
    for e in entries:
        running += float(e["amount"])
        if e["occurred_at"] is not None:
            months[e["occurred_at"].strftime("%Y-%m")] = running
    recent = sum(float(e["amount"]) for e in entries if e["occurred_at"] is not None and e["occurred_at"] > since)
    direction = "rising" if recent > 0 else "falling" if recent < 0 else "steady"
    latest = sorted(entries, key=lambda e: (e["occurred_at"] or FAR, e["entry_id"]), reverse=True)[:RECENT]
    return {
        "balance": running,
        "deposits": sum(float(e["amount"]) for e in entries if e["amount"] > 0),
        "withdrawals": sum(float(e["amount"]) for e in entries if e["amount"] < 0),
        "entries": len(entries),
        "trend": f"{direction} ({recent:+.1f} in the {TREND_DAYS} days to {as_of:%d %b %Y})",
        "trend_direction": direction,
        "trend_change": recent,
        "balance_before": running - recent,
        "by_month": [{"month": m, "balance": b} for m, b in months.items()],
        "latest": [
            {k: e.get(k) for k in ("occurred_at", "kind", "amount", "reason", "fact_table", "fact_id")} for e in latest
        ],
        "as_of": meta["goodwill_ledger_as_of"],
        "rules_version": meta.get("goodwill_ledger_version"),
        "missing": [m for m in (meta.get("goodwill_ledger_missing") or "").split("\n") if m],
    }


def _would_help(
    problems: list[dict[str, Any]],
    owed: list[dict[str, Any]],
    recent: list[dict[str, Any]],
    loyalty: list[dict[str, Any]],
    facts: dict[str, list[dict[str, Any]]],
) -> list[dict[str, Any]]:
    """Plain next steps, each tied to the fact that prompts it."""
    out: list[dict[str, Any]] = []
    for p in owed:
        if p["status"] in ("overdue", "broken"):
            late = f", {p['days_overdue']} days late" if p["days_overdue"] else ""
            out.append(
                {
                    "do": f"Keep the promise to {p['action'] or 'act'} first ({p['status']}{late}), or tell them honestly when it will be kept.",
                    "because": p["promise_id"],
                }
            )
    for c in problems:
        what = c["issue"] or c["product"] or c["kind"] or "their problem"
        days = f" for {c['days_open']} days" if c["days_open"] is not None else ""
        out.append({"do": f"Resolve the open {c['kind'] or 'case'} about {what}{days}.", "because": c["case_id"]})
    neg = [r for r in recent if r["sentiment"] == "negative"]
    if neg:
        about = f" about {neg[0]['reason']}" if neg[0]["reason"] else ""
        out.append(
            {
                "do": f"Acknowledge what they told us on {neg[0]['occurred_at']:%d %b %Y}{about} before anything else.",
                "because": neg[0]["interaction_id"],
            }
        )
    repeats = [s for s in facts.get("text_spans", []) if s.get("kind") == "repeat_contact"]
    if repeats:
        out.append(
            {
                "do": "They have had to contact us again: do not make them repeat their story.",
                "because": repeats[0]["interaction_id"],
            }
        )
    for s in loyalty:
        out.append(
            {
                "do": f"They pay {s['over']:.2f} more per period than a new customer for {s['product']}: offer them the new-customer price.",
                "because": s["subscription_id"],
            }
        )
    return out


def build_brief(ctx: BriefContext, customer_id: str, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """The brief for the person ``customer_id`` belongs to."""
    now = now or dt.datetime.now(dt.UTC)
    ids, facts = ctx.store.person_facts(customer_id, ctx.tables())
    if not facts or (set(facts) <= {"customer_links"}):
        raise NotFoundError(
            f"goodwill holds nothing about a customer {customer_id!r}.",
            hint="Check the id (e.g. cfpb:1234567 or telco:0019-EFAEP).",
        )
    customers = facts.get("customers", [])
    first = customers[0] if customers else {}
    status = _statuses(facts)
    owed, promise_counts = _promises(facts, status, now)
    problems = _open_problems(facts, now)
    recent, feeling = _recent(facts, ctx.reason_labels())
    loyalty = _loyalty(ctx, facts)
    consents = sorted(facts.get("consents", []), key=lambda c: (c["recorded_at"], c["consent_id"]))
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for c in consents:
        latest[(c["purpose"], c.get("channel") or "any")] = c
    return {
        "customer_id": customer_id,
        "customer_ids": ids,
        "as_of": now,
        "customer": {
            "display_name": first.get("display_name"),
            "segment": first.get("segment"),
            "region": first.get("region"),
            "first_seen_at": min((c["first_seen_at"] for c in customers if c.get("first_seen_at")), default=None),
            "vulnerable": any(bool(c.get("vulnerable")) for c in customers),
        },
        "open_problems": problems,
        "promises_owed": owed,
        "promise_record": promise_counts,
        "recent": recent,
        "feeling": feeling,
        "goodwill": _goodwill(ctx, facts, now),
        "do_not": _do_not(ctx, customer_id, guard_facts(ctx, customer_id, ids, facts, now), now),
        "would_help": _would_help(problems, owed, recent, loyalty, facts),
        "loyalty_penalty": loyalty,
        "consents": [
            {"purpose": p, "channel": ch, "state": c["state"], "recorded_at": c["recorded_at"]}
            for (p, ch), c in sorted(latest.items())
        ],
        "contacts": len(facts.get("interactions", [])),
    }
