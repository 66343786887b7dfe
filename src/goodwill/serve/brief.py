"""The customer brief: what a person at the point of contact needs, on one screen.

Open problems, promises owed (overdue first), what the customer told us recently and
how they felt, their goodwill balance and its trend, what not to do to them now (the
guard's answer to the usual outbound actions, nothing recorded) and what would help.

The hot path is one :meth:`Store.person_facts` query (every row about the person),
one point read of their promises' status in the ledger, and the guard's own facts
read; contact-reason labels come from a small in-process cache.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from goodwill.errors import NotFoundError
from goodwill.guard import Action, Guard
from goodwill.guard.facts import person_facts as guard_facts
from goodwill.store import Store

__all__ = ["PROBES", "BriefContext", "build_brief"]

# The outbound actions a company most often takes unasked: the guard's verdict on each
# is "what not to do to them now". (kind, channel, purpose, what a person reads)
PROBES: tuple[tuple[str, str, str, str], ...] = (
    ("upsell", "email", "marketing", "an up-sell by e-mail"),
    ("cross_sell", "phone", "marketing", "a cross-sell call"),
    ("offer", "sms", "marketing", "an offer by text message"),
    ("message", "email", "marketing", "a marketing e-mail"),
)
# Rules whose reason states a sensitive fact: the reason moves under that field class's key
# (redacted for roles that may not see it) and a neutral line stands in its place.
SENSITIVE_RULES = {"vulnerable_care": ("vulnerability", "Needs extra care first: route it to a trained colleague.")}
_ORDER = {"overdue": 0, "open": 1, "broken": 2, "kept_late": 3, "kept": 4, "repeat": 5}
_OWED = ("overdue", "open", "broken")
RECENT = 5


@dataclass
class BriefContext:
    """What a brief needs besides the store, built once per server (not per request)."""

    store: Store
    guard: Guard
    reason_ttl_s: float = 60.0
    goodwill: Callable[[Store, str, list[str], dt.datetime], dict[str, Any] | None] | None = None
    _labels: dict[int, str] = field(default_factory=dict)
    _labels_at: float = -1e9

    def reason_labels(self) -> dict[int, str]:
        if time.monotonic() - self._labels_at > self.reason_ttl_s:
            labels: dict[int, str] = {}
            if self.store.table_exists("reasons"):
                for r in self.store.rows("SELECT reason_id, label FROM reasons"):
                    labels[int(r["reason_id"])] = str(r["label"] or f"reason {r['reason_id']}")
            self._labels, self._labels_at = labels, time.monotonic()
        return self._labels


def _days(a: dt.datetime | None, b: dt.datetime) -> int | None:
    return None if a is None else (b - a).days


def _statuses(store: Store, promise_ids: list[str]) -> dict[str, dict[str, Any]]:
    if not promise_ids or not store.table_exists("promise_status"):
        return {}
    marks = ", ".join("?" for _ in promise_ids)
    return {
        r["promise_id"]: r
        for r in store.rows(
            "SELECT promise_id, status, deadline, kept_at, late_days, repeats, rule "
            f"FROM promise_status WHERE promise_id IN ({marks})",
            promise_ids,
        )
    }


def _promises(
    store: Store, facts: dict[str, list[dict[str, Any]]], now: dt.datetime
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    rows = facts.get("promises", [])
    status = _statuses(store, [r["promise_id"] for r in rows])
    kept_refs = {e.get("ref") for e in facts.get("events", []) if e.get("ref")}
    owed: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
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
    owed.sort(key=lambda r: (_ORDER.get(r["status"], 9), r["deadline"] or far, r["promise_id"]))
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
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    out.sort(key=lambda c: (c["opened_at"] or far, c["case_id"]))
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


def _do_not(ctx: BriefContext, customer_id: str, now: dt.datetime) -> list[dict[str, Any]]:
    facts = guard_facts(ctx.store, customer_id, as_of=now, contact_days=ctx.guard.contact_days)
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


def _loyalty(facts: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    out = []
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
                "currency": s.get("currency"),
            }
        )
    return out


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
    store = ctx.store
    ids, facts = store.person_facts(customer_id)
    if not facts or (set(facts) <= {"customer_links"}):
        raise NotFoundError(
            f"goodwill holds nothing about a customer {customer_id!r}.",
            hint="Check the id (e.g. cfpb:1234567 or telco:0019-EFAEP).",
        )
    customers = facts.get("customers", [])
    first = customers[0] if customers else {}
    owed, promise_counts = _promises(store, facts, now)
    problems = _open_problems(facts, now)
    recent, feeling = _recent(facts, ctx.reason_labels())
    loyalty = _loyalty(facts)
    consents = sorted(facts.get("consents", []), key=lambda c: (c["recorded_at"], c["consent_id"]))
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for c in consents:
        latest[(c["purpose"], c.get("channel") or "any")] = c
    goodwill = ctx.goodwill(store, customer_id, ids, now) if ctx.goodwill else None
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
        "goodwill": goodwill,
        "do_not": _do_not(ctx, customer_id, now),
        "would_help": _would_help(problems, owed, recent, loyalty, facts),
        "loyalty_penalty": loyalty,
        "consents": [
            {"purpose": p, "channel": ch, "state": c["state"], "recorded_at": c["recorded_at"]}
            for (p, ch), c in sorted(latest.items())
        ],
        "contacts": len(facts.get("interactions", [])),
    }
