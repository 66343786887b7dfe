"""What each dashboard section and feed shows, as plain data (the JSON twin of every page).

Each section is a function ``(store, now) -> dict`` built on the public functions of the
layers below (understand's reason report, measure's promise gap, guard's audit log,
rights' request queue). A section whose inputs have not been built yet raises the lower
layer's own error, which says which command builds them; the dashboard shows that line
in the section's place.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable
from typing import Any

from goodwill.errors import GoodwillError, NotFoundError
from goodwill.guard import audit
from goodwill.measure import promises as ledger
from goodwill.rights import list_requests
from goodwill.store import Store
from goodwill.understand.service import reason_report

__all__ = ["SECTIONS", "Section", "feed", "section_or_error"]

SILENT_AFTER_DAYS = 30
LIST_LIMIT = 25


def broken(store: Store, now: dt.datetime) -> dict[str, Any]:
    """What customers say is broken: contact reasons, their trend, sentiment and verbatims."""
    rep = reason_report(store)
    for r in rep["reasons"]:
        # "evidence" names quoted text elsewhere; here it is the emerging test's numbers.
        r["emerging_evidence"] = r.pop("evidence")
    return rep


def promises(store: Store, now: dt.datetime) -> dict[str, Any]:
    """The promise gap overall and per team, worst first, with the weekly kept rate."""
    overall = ledger.gap(store, by="all")
    return {
        "overall": overall[0] if overall else None,
        "by_team": ledger.gap(store, by="team", limit=LIST_LIMIT),
        "weekly": ledger.weekly_series(store),
        "as_of": store.get_meta("promise_ledger_as_of"),
    }


def _let_down_sql(store: Store) -> str:
    # A person we let down: a promise overdue or broken, or a complaint still open.
    parts = ["SELECT customer_id, min(opened_at) AS let_at, 'open complaint' AS why FROM cases "
             "WHERE kind = 'complaint' AND (status IS NULL OR status <> 'closed') AND customer_id IS NOT NULL "
             "GROUP BY customer_id"]
    if store.table_exists("promise_status"):
        parts.append(
            "SELECT p.customer_id, min(s.deadline) AS let_at, 'promise ' || min(s.status) AS why FROM promises p "
            "JOIN promise_status s ON s.promise_id = p.promise_id "
            "WHERE s.status IN ('overdue', 'broken') AND p.customer_id IS NOT NULL GROUP BY p.customer_id"
        )
    return " UNION ALL ".join(parts)


def silent(store: Store, now: dt.datetime) -> dict[str, Any]:
    """The dog that doesn't bark: people we let down who have not contacted us since.

    Let down means a promise overdue or broken, or a complaint still open; silent means
    no message from them in the ``SILENT_AFTER_DAYS`` days before now and none after the
    let-down began.
    """
    since = now - dt.timedelta(days=SILENT_AFTER_DAYS)
    sql = (
        f"WITH down AS (SELECT customer_id, min(let_at) AS let_at, min(why) AS why FROM ({_let_down_sql(store)}) d "
        "GROUP BY customer_id), "
        "said AS (SELECT customer_id, max(occurred_at) AS last_said FROM interactions "
        "WHERE direction = 'inbound' AND customer_id IN (SELECT customer_id FROM down) GROUP BY customer_id) "
        "SELECT down.customer_id, down.let_at AS let_down_at, down.why, said.last_said FROM down "
        "LEFT JOIN said ON said.customer_id = down.customer_id "
        "WHERE (said.last_said IS NULL OR said.last_said < ?) "
        "AND (said.last_said IS NULL OR down.let_at IS NULL OR said.last_said <= down.let_at) "
    )
    total = int(store.scalar(f"SELECT count(*) FROM ({sql}) q", [since]) or 0)
    rows = store.rows(sql + "ORDER BY down.let_at NULLS LAST, down.customer_id LIMIT ?", [since, LIST_LIMIT])
    let_down = int(store.scalar(f"SELECT count(DISTINCT customer_id) FROM ({_let_down_sql(store)}) d") or 0)
    why = Counter(str(r["why"]) for r in store.rows(f"SELECT why FROM ({sql}) q", [since]))
    return {
        "silent": total,
        "let_down": let_down,
        "silent_share": total / let_down if let_down else None,
        "after_days": SILENT_AFTER_DAYS,
        "by_why": dict(why.most_common()),
        "customers": [
            {
                "customer_id": r["customer_id"],
                "let_down_at": r["let_down_at"],
                "why": r["why"],
                "last_said": r["last_said"],
                "quiet_days": (now - r["last_said"]).days if r["last_said"] else None,
            }
            for r in rows
        ],
    }


def loyalty(store: Store, now: dt.datetime) -> dict[str, Any]:
    """The loyalty penalty: what active customers pay over a new customer's price, by the year they joined."""
    base = (
        "FROM subscriptions WHERE (status IS NULL OR status = 'active') "
        "AND price IS NOT NULL AND new_customer_price IS NOT NULL"
    )
    rows = store.rows(
        "SELECT CAST(EXTRACT(YEAR FROM started_at) AS INTEGER) AS joined, count(*) AS n, "
        "avg(price) AS price, avg(new_customer_price) AS new_price, avg(price - new_customer_price) AS over, "
        "sum(CASE WHEN price > new_customer_price THEN 1 ELSE 0 END) AS paying_more "
        f"{base} GROUP BY 1 ORDER BY 1",
    )
    total = store.rows(
        "SELECT count(*) AS n, sum(CASE WHEN price > new_customer_price THEN 1 ELSE 0 END) AS paying_more, "
        f"sum(CASE WHEN price > new_customer_price THEN price - new_customer_price ELSE 0 END) AS over_total {base}"
    )[0]
    if not int(total["n"] or 0):
        raise NotFoundError(
            "No active subscription has both its price and a new customer's price.",
            hint="Load subscriptions with new_customer_price, or plans with it (the Telco mapping infers it).",
        )
    n = int(total["n"])
    return {
        "subscriptions": n,
        "paying_more": int(total["paying_more"] or 0),
        "paying_more_share": int(total["paying_more"] or 0) / n,
        "over_per_period_total": float(total["over_total"] or 0.0),
        "by_joined": [
            {
                "joined": r["joined"],
                "subscriptions": int(r["n"]),
                "mean_price": float(r["price"]),
                "mean_new_customer_price": float(r["new_price"]),
                "mean_over": float(r["over"]),
                "paying_more_share": int(r["paying_more"] or 0) / int(r["n"]),
            }
            for r in rows
        ],
    }


def guard(store: Store, now: dt.datetime) -> dict[str, Any]:
    """What the guard allowed, changed and stopped, by rule, and the latest stops."""
    counts = {
        str(r["verdict"]): int(r["n"])
        for r in store.rows("SELECT verdict, count(*) AS n FROM decisions GROUP BY verdict")
    }
    if not counts:
        raise NotFoundError(
            "The guard has not decided anything in this store yet.",
            hint="Vet an action or a campaign: goodwill vet-campaign FILE.",
        )
    by_rule: Counter[str] = Counter()
    for r in store.rows(
        "SELECT reasons FROM decisions WHERE verdict <> 'allow' ORDER BY decision_id DESC LIMIT 5000"
    ):
        for h in json.loads(r["reasons"] or "[]"):
            by_rule[f"{h.get('rule')} ({h.get('effect')})"] += 1
    latest = []
    for d in audit.query(store, verdict="deny", limit=LIST_LIMIT) + audit.query(store, verdict="change", limit=10):
        latest.append(
            {
                "decision_id": d["decision_id"],
                "decided_at": d["decided_at"],
                "customer_id": d["customer_id"],
                "kind": d["kind"],
                "campaign_id": d["campaign_id"],
                "verdict": d["verdict"],
                "reasons": [h.get("reason") for h in d["reasons"] or []],
            }
        )
    latest.sort(key=lambda d: str(d["decision_id"]), reverse=True)
    return {
        "counts": {v: counts.get(v, 0) for v in ("allow", "change", "deny")},
        "decisions": sum(counts.values()),
        "by_rule": dict(by_rule.most_common()),
        # Per person, so it names people and why they were spared: hidden with identity.
        "latest_by_person": latest,
    }


def rights(store: Store, now: dt.datetime) -> dict[str, Any]:
    """The rights queue, soonest deadline first, with days left."""
    today = now.date()
    reqs = list_requests(store, today=today)
    open_ = [r for r in reqs if r.is_open]
    return {
        "open": len(open_),
        "overdue": sum(1 for r in open_ if r.overdue(today)),
        "due_in_7_days": sum(1 for r in open_ if 0 <= r.days_left(today) <= 7),
        "requests": [
            {
                "request_id": r.request_id,
                "person_id": r.person_id,
                "kind": r.kind,
                "status": r.status,
                "received_at": r.received_at,
                "deadline": r.deadline,
                "days_left": r.days_left(today),
                "overdue": r.overdue(today),
            }
            for r in open_[:100]
        ],
    }


Section = Callable[[Store, dt.datetime], dict[str, Any]]

# name -> (title, scope, function); the order is the dashboard's.
SECTIONS: dict[str, tuple[str, str, Section]] = {
    "broken": ("What customers say is broken", "dash_broken", broken),
    "promises": ("The promise gap", "dash_promises", promises),
    "silent": ("Silent customers", "dash_silent", silent),
    "loyalty": ("The loyalty penalty", "dash_loyalty", loyalty),
    "guard": ("Guard decisions", "dash_guard", guard),
    "rights": ("Rights queue", "dash_rights", rights),
}


def section_or_error(name: str, store: Store, now: dt.datetime) -> dict[str, Any]:
    """A section's data, or the one error shape saying what to run first (for the dashboard)."""
    try:
        return {"ok": True, **SECTIONS[name][2](store, now)}
    except GoodwillError as exc:
        return {"ok": False, "status": exc.http_status, **exc.to_dict()}


def feed(store: Store, team: str, now: dt.datetime) -> dict[str, Any]:
    """What needs action now for one team: its overdue promises, emerging reasons, silent customers."""
    items: list[dict[str, Any]] = []
    if store.table_exists("promise_status"):
        for r in store.rows(
            "SELECT p.promise_id, p.customer_id, p.action, p.description, s.deadline, s.status FROM promises p "
            "JOIN promise_status s ON s.promise_id = p.promise_id "
            "WHERE p.team = ? AND s.status = 'overdue' ORDER BY s.deadline, p.promise_id LIMIT ?",
            [team, LIST_LIMIT],
        ):
            items.append(
                {
                    "kind": "overdue_promise",
                    "id": r["promise_id"],
                    "customer_id": r["customer_id"],
                    "what": f"Promise to {r['action'] or 'act'} is overdue"
                    + (f" since {r['deadline']:%d %b %Y}" if r["deadline"] else ""),
                    "at": r["deadline"],
                }
            )
    try:
        rep = reason_report(store)
    except GoodwillError:
        rep = {"reasons": []}
    for r in rep["reasons"]:
        if r["emerging"]:
            items.append(
                {
                    "kind": "emerging_reason",
                    "id": f"reason:{r['reason_id']}",
                    "customer_id": None,
                    "what": f"More customers are raising: {r['label']}",
                    "at": None,
                }
            )
    quiet = silent(store, now)
    handled = set()
    ids = [c["customer_id"] for c in quiet["customers"]]
    if ids:
        marks = ", ".join("?" for _ in ids)
        handled = {
            r["customer_id"]
            for r in store.rows(
                f"SELECT DISTINCT customer_id FROM interactions WHERE team = ? AND customer_id IN ({marks})",
                [team, *ids],
            )
        }
    for c in quiet["customers"]:
        if c["customer_id"] in handled:
            items.append(
                {
                    "kind": "silent_customer",
                    "id": f"silent:{c['customer_id']}",
                    "customer_id": c["customer_id"],
                    "what": f"Gone quiet after a {c['why']}",
                    "at": c["let_down_at"],
                }
            )
    return {"team": team, "as_of": now, "items": items}
