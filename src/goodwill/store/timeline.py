"""One person's facts from every function, in time order.

A person is every customer_id that identity resolution linked to one person_id
(a customer with no link is a person alone). Facts keep their source customer_id,
so the timeline shows where each came from and how the records were joined.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from goodwill.errors import NotFoundError
from goodwill.model import TABLES
from goodwill.store.base import Store


@dataclass(frozen=True)
class TimelineEntry:
    at: dt.datetime | None
    kind: str
    id: str
    customer_id: str | None
    function: str | None
    channel: str | None
    direction: str | None
    summary: str
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat() if self.at else None,
            "kind": self.kind,
            "id": self.id,
            "customer_id": self.customer_id,
            "function": self.function,
            "channel": self.channel,
            "direction": self.direction,
            "summary": self.summary,
            "detail": self.detail,
        }


@dataclass
class Timeline:
    person_id: str
    customer_ids: list[str]
    customers: list[dict[str, Any]]
    identifiers: list[dict[str, Any]]
    links: list[dict[str, Any]]
    entries: list[TimelineEntry]

    def to_dict(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "customer_ids": self.customer_ids,
            "customers": self.customers,
            "identifiers": self.identifiers,
            "links": self.links,
            "entries": [e.to_dict() for e in self.entries],
        }


def _short(text: Any, n: int = 160) -> str:
    s = " ".join(str(text or "").split())
    return s if len(s) <= n else s[: n - 1] + "…"


def _fmt_money(v: Any) -> str:
    return "" if v is None else f"{v:,.2f}"


def _summary(kind: str, r: dict[str, Any]) -> str:
    if kind == "interactions":
        who = r.get("author") or r.get("direction") or ""
        return f"{who}: {_short(r.get('text'))}" if r.get("text") else f"{who} ({r.get('channel')})"
    if kind == "cases":
        what = r.get("issue") or r.get("product") or r.get("kind")
        end = f" → {r['outcome']}" if r.get("outcome") else ""
        return f"{r.get('kind') or 'case'} opened: {what} [{r.get('status') or '?'}]{end}"
    if kind == "promises":
        due = r.get("due_at")
        due_s = f" by {due:%Y-%m-%d %H:%M}" if isinstance(due, dt.datetime) else ""
        return f"promised to {r.get('action')}{due_s}: {_short(r.get('description') or r.get('evidence'), 100)}"
    if kind == "events":
        val = f" ({r['value']:g})" if isinstance(r.get("value"), int | float) else ""
        return f"{r.get('kind')}{val}" + (f" for {r['ref']}" if r.get("ref") else "")
    if kind == "subscriptions":
        return f"holds {r.get('product')} at {_fmt_money(r.get('price'))} {r.get('currency') or ''}/{r.get('period') or '?'} [{r.get('status')}]"
    if kind == "consents":
        return f"consent for {r.get('purpose')} by {r.get('channel')}: {r.get('state')}"
    if kind == "actions":
        return f"planned {r.get('kind')} by {r.get('channel')}: {_short(r.get('text'), 100)}"
    if kind == "decisions":
        return f"guard decided {r.get('verdict')} on {r.get('action_id')}"
    if kind == "customers":
        return "first seen"
    shown = {k: v for k, v in r.items() if v is not None and not k.endswith("_id")}
    return _short(", ".join(f"{k}={v}" for k, v in list(shown.items())[:4]), 120)


_SKIP_AS_ENTRIES = {"customers", "identifiers"}


def timeline(store: Store, customer_id: str, *, limit: int | None = None) -> Timeline:
    ids, facts = store.person_facts(customer_id)
    links = sorted(facts.pop("customer_links", []), key=lambda r: r["customer_id"])
    for link in links:
        if isinstance(link.get("evidence"), str):
            with contextlib.suppress(ValueError):
                link["evidence"] = json.loads(link["evidence"])
    person = links[0]["person_id"] if links else customer_id
    if not any(facts.values()):
        like = store.rows(
            "SELECT customer_id FROM customers WHERE customer_id LIKE ? ORDER BY customer_id LIMIT 3",
            [f"%{customer_id}%"],
        )
        hint = (
            "Did you mean: " + ", ".join(r["customer_id"] for r in like) + "?"
            if like
            else "Run `goodwill status` to see what is stored; ids look like 'cfpb:1234'."
        )
        raise NotFoundError(f"No customer {customer_id!r} in this store.", hint=hint)
    entries: list[TimelineEntry] = []
    for name, rows in facts.items():
        if name in _SKIP_AS_ENTRIES or name not in TABLES:
            continue
        t = TABLES[name]
        pk = t.primary_key[0]
        for r in rows:
            at = r.get(t.time_column) if t.time_column else None
            entries.append(
                TimelineEntry(
                    at=at,
                    kind=name.removesuffix("s") if name.endswith("s") else name,
                    id=str(r.get(pk)),
                    customer_id=r.get(t.customer_column or "customer_id"),
                    function=r.get("function"),
                    channel=r.get("channel"),
                    direction=r.get("direction"),
                    summary=_summary(name, r),
                    detail={k: v for k, v in r.items() if v is not None},
                )
            )
            if name == "cases" and r.get("closed_at"):
                entries.append(
                    TimelineEntry(
                        at=r["closed_at"],
                        kind="case",
                        id=str(r.get(pk)),
                        customer_id=r.get("customer_id"),
                        function=r.get("function"),
                        channel=r.get("channel"),
                        direction=None,
                        summary=f"case closed: {r.get('outcome') or r.get('status')}",
                    )
                )
    far_future = dt.datetime.max.replace(tzinfo=dt.UTC)
    entries.sort(key=lambda e: (e.at or far_future, e.kind, e.id))
    if limit is not None:
        entries = entries[-limit:]
    return Timeline(
        person_id=person,
        customer_ids=ids,
        customers=sorted(facts.get("customers", []), key=lambda r: r["customer_id"]),
        identifiers=facts.get("identifiers", []),
        links=links,
        entries=entries,
    )
