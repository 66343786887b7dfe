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

import pyarrow as pa
import pyarrow.compute as pc

from goodwill.errors import GoodwillError, NotFoundError
from goodwill.guard import audit
from goodwill.measure import fair_value, silence
from goodwill.measure import promises as ledger
from goodwill.measure.goodwill_ledger import clean, load_weights
from goodwill.rights import list_requests
from goodwill.store import Store
from goodwill.understand.service import reason_report

__all__ = ["SECTIONS", "Section", "feed", "section_or_error"]

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


def silent(store: Store, now: dt.datetime) -> dict[str, Any]:
    """The dog that doesn't bark: people we let down who then went quiet for longer than their own
    rhythm. The same answer as `goodwill silent` (:func:`goodwill.measure.silence.silent`, as of the
    latest fact in the store, people judged on their own rhythm only; a test holds them equal).

    Counted, filtered and ranked in Arrow, so that only the rows shown become Python objects:
    ``silence.silent`` turns every person's scores into Python in one call, which held the
    interpreter lock for 8.6 s at 1,000,000 people (measured), and a server refreshing this
    section in the background would answer nothing else meanwhile."""
    w = load_weights()
    as_of = silence.data_horizon(store).astimezone(dt.UTC)
    thr = float(w.silence["silent_ratio"])
    t = silence.silence_scores(store, as_of=as_of, weights=w)
    failed = pc.is_valid(t["failure_kind"])
    own = pc.equal(t["rhythm"], "own")
    keep = pc.and_kleene(pc.and_kleene(t["quiet_since_failure"], pc.greater_equal(t["ratio"], thr)), own)
    quiet = t.filter(pc.fill_null(keep, False))
    order = pc.sort_indices(quiet, sort_keys=[("ratio", "descending"), ("person_id", "ascending")])
    rows = clean(quiet.take(order[:LIST_LIMIT]).to_pylist())
    for r in rows:
        r["why"] = (
            f"{r['failure_reason']} on {r['fail_d']} ({r['failure_table']} {r['failure_fact']}); "
            f"quiet for {r['quiet_days']} days since, {r['ratio']:.1f} x their usual gap of {r['usual_gap_days']:.0f} days"
        )
    return {
        "as_of": as_of.isoformat(),
        "rules_version": w.version,
        "threshold_ratio": thr,
        "people_with_a_failure": _count(failed),
        "silent": quiet.num_rows,
        "failed_without_own_rhythm": _count(pc.and_kleene(failed, pc.equal(t["rhythm"], "book"))),
        "judged_on_book_rhythm": False,
        "rows": rows,
    }


def _count(mask: Any) -> int:
    return int(pc.sum(pc.fill_null(mask, False).cast(pa.int64())).as_py() or 0)


def loyalty(store: Store, now: dt.datetime) -> dict[str, Any]:
    """The loyalty penalty: what customers pay against a new customer's price for the same plan
    and channel, by tenure, and who is owed a better deal. The same answer as `goodwill fair-value`."""
    book = fair_value.book_summary(store)
    return {
        "book": book,
        "by_tenure": fair_value.penalty_by(store, "tenure"),
        # Names people: hidden with the identity field class.
        "owed_by_person": fair_value.owed_better_deal(store, limit=LIST_LIMIT),
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


def feed(store: Store, team: str, now: dt.datetime, quiet: dict[str, Any] | None = None) -> dict[str, Any]:
    """What needs action now for one team: its overdue promises, emerging reasons, and the silent
    people it has dealt with. ``quiet`` is the silent section already computed (the app passes its
    cached copy, so a feed never recomputes silence over the whole book)."""
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
    if quiet is None:
        quiet = section_or_error("silent", store, now)
    people = quiet.get("rows", []) if quiet.get("ok", True) else []
    handled: set[str] = set()
    ids = [str(p["person_id"]) for p in people]
    if ids:
        marks = ", ".join("?" for _ in ids)
        # A person is theirs when the team has dealt with any of the person's records.
        handled = {
            str(r["person_id"])
            for r in store.rows(
                "SELECT DISTINCT coalesce(l.person_id, i.customer_id) AS person_id FROM interactions i "
                "LEFT JOIN customer_links l ON l.customer_id = i.customer_id "
                f"WHERE i.team = ? AND coalesce(l.person_id, i.customer_id) IN ({marks})",
                [team, *ids],
            )
        }
    for p in people:
        if str(p["person_id"]) in handled:
            items.append(
                {
                    "kind": "silent_customer",
                    "id": f"silent:{p['person_id']}",
                    "customer_id": p["person_id"],
                    "what": f"Gone quiet after: {p['failure_reason']}",
                    "at": p["fail_d"],
                }
            )
    return {"team": team, "as_of": now, "items": items}
