"""Which contract notices are due, which were sent, and which were missed.

Ofcom General Conditions C1.3: an end-of-contract notification goes to the customer
between 10 and 40 days before their minimum term ends (the window comes from the
``contract_notice`` rule's parameters). C1.7: a customer out of contract gets a
best-tariff notice at least once a year.

A notice counts as sent when the guard allowed (or changed) a ``notice`` action for it,
or when an outbound interaction carries ``attrs.notice`` of that kind. Both may name the
subscription in ``attrs.subscription_id``; one that names none counts for every
subscription of that customer.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from goodwill.guard.registry import RulePack, load_pack
from goodwill.store import Store


@dataclass
class NoticeItem:
    customer_id: str
    subscription_id: str
    notice: str
    status: str  # due, sent, missed
    ends_at: dt.datetime
    window_opens: dt.datetime
    window_closes: dt.datetime
    sent_at: dt.datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "subscription_id": self.subscription_id,
            "notice": self.notice,
            "status": self.status,
            "ends_at": self.ends_at.isoformat(),
            "window_opens": self.window_opens.isoformat(),
            "window_closes": self.window_closes.isoformat(),
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
        }


@dataclass
class NoticesReport:
    as_of: dt.datetime
    items: list[NoticeItem] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = defaultdict(lambda: {"due": 0, "sent": 0, "missed": 0})
        for i in self.items:
            out[i.notice][i.status] += 1
        return dict(out)

    def to_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "counts": self.counts, "items": [i.to_dict() for i in self.items]}


def _attrs(v: str | None) -> dict[str, Any]:
    if not v:
        return {}
    try:
        a = json.loads(v)
    except json.JSONDecodeError:
        return {}
    return a if isinstance(a, dict) else {}


def _sent(store: Store) -> dict[tuple[str, str], list[tuple[dt.datetime, str | None]]]:
    """(customer_id, notice kind) -> [(when, subscription_id or None)] for every notice sent."""
    out: dict[tuple[str, str], list[tuple[dt.datetime, str | None]]] = defaultdict(list)
    rows = store.rows(
        "SELECT a.customer_id, a.attrs, a.planned_at, d.decided_at, d.verdict, d.facts FROM actions a "
        "JOIN decisions d ON d.action_id = a.action_id WHERE a.kind = 'notice' AND d.verdict IN ('allow', 'change')"
    )
    for r in rows:
        a = _attrs(r["attrs"])
        at = r["planned_at"] or r["decided_at"]
        if r["verdict"] == "change":
            moved = (_attrs(r["facts"]).get("changes") or {}).get("planned_at")
            if moved:
                at = dt.datetime.fromisoformat(moved)
        if a.get("notice"):
            out[(r["customer_id"], a["notice"])].append((at, a.get("subscription_id")))
    for r in store.rows(
        "SELECT customer_id, attrs, occurred_at FROM interactions WHERE direction = 'outbound' AND attrs LIKE ?",
        ['%"notice"%'],
    ):
        a = _attrs(r["attrs"])
        if a.get("notice"):
            out[(r["customer_id"], a["notice"])].append((r["occurred_at"], a.get("subscription_id")))
    return out


def notice_status(store: Store, *, as_of: dt.datetime | None = None, pack: RulePack | None = None, lookback_days: int = 365) -> NoticesReport:
    """End-of-contract notices due, sent and missed, and annual best-deal notices due or missed."""
    now = as_of or dt.datetime.now(dt.UTC)
    p = (pack or load_pack()).specs["contract_notice"].params
    lo, hi = int(p.get("min_days", 10)), int(p.get("max_days", 40))
    every = int(p.get("best_deal_every_days", 365))
    sent = _sent(store)
    report = NoticesReport(now)
    subs = store.rows(
        "SELECT customer_id, subscription_id, ends_at FROM subscriptions WHERE (status IS NULL OR status = 'active') "
        "AND ends_at IS NOT NULL AND ends_at <= ? AND ends_at >= ? ORDER BY ends_at, subscription_id",
        [now + dt.timedelta(days=hi), now - dt.timedelta(days=lookback_days + every)],
    )
    for s in subs:
        cid, sid, ends = s["customer_id"], s["subscription_id"], s["ends_at"]
        opens, closes = ends - dt.timedelta(days=hi), ends - dt.timedelta(days=lo)
        mine = [at for at, sub in sent.get((cid, "end_of_contract"), []) if sub in (None, sid)]
        in_window = sorted(at for at in mine if opens <= at <= closes)
        if ends >= now - dt.timedelta(days=lookback_days):
            if in_window:
                report.items.append(NoticeItem(cid, sid, "end_of_contract", "sent", ends, opens, closes, in_window[0]))
            elif closes < now:
                report.items.append(NoticeItem(cid, sid, "end_of_contract", "missed", ends, opens, closes))
            else:
                report.items.append(NoticeItem(cid, sid, "end_of_contract", "due", ends, opens, closes))
        if ends < now:
            best = [at for at, sub in sent.get((cid, "annual_best_deal"), []) if sub in (None, sid) and at >= ends]
            last = max(best, default=ends)
            due_at = last + dt.timedelta(days=every)
            if due_at <= now + dt.timedelta(days=hi):
                status = "missed" if due_at < now else "due"
                report.items.append(NoticeItem(cid, sid, "annual_best_deal", status, ends, due_at - dt.timedelta(days=hi), due_at))
    return report
