"""Silence after failure: the customers we let down who then went quiet (the dog that doesn't bark).

A customer is *silent after failure* when the goodwill ledger holds a failure for them (the
kinds under ``silence.failures`` in ``goodwill_weights.yaml``: a broken or overdue promise, a
complaint left open or closed without relief, a very unhappy message, a bad review), they
have not been in touch since (beyond ``grace_days``), and the quiet is long *for them*: the
days since the failure or their last contact, divided by their own usual gap between
contacts, is at least ``silent_ratio``.

Their usual gap is (last contact day - first contact day) / (contact days - 1), over days on
which they wrote, called, opened a case or bought. With fewer than ``min_contacts`` contact
days there is no personal rhythm; such customers are judged on the book's median rhythm and
flagged ``rhythm = 'book'``, so nobody mistakes it for their own.

Everything is computed as of a date, from facts up to that date, in SQL both engines accept.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa

from goodwill.measure.goodwill_ledger import Weights, clean, in_list, load_weights, need_goodwill
from goodwill.store import Store

# Events that are the customer acting (buying, paying, logging in), not the company.
ACTIVITY_EVENTS = ("purchase", "order", "payment", "login", "renewed", "reviewed")


def _person(col: str) -> str:
    return (
        f"coalesce((SELECT l.person_id FROM customer_links l WHERE l.customer_id = {col}), {col})"
    )


def scores_sql(w: Weights) -> str:
    """One row per person with any contact: rhythm, recency, latest failure and the silence ratio.

    Parameters, in order: as_of (x4: three activity sources and the failures), as_of date (x2).
    """
    s = w.silence
    fails = in_list([str(k) for k in s["failures"]])
    grace = int(s["grace_days"])
    min_n = int(s["min_contacts"])
    return (
        "WITH act AS ("
        f"SELECT DISTINCT {_person('a.customer_id')} AS person_id, CAST(a.at AS DATE) AS d FROM ("
        "SELECT customer_id, occurred_at AS at FROM interactions WHERE direction = 'inbound' AND customer_id IS NOT NULL AND occurred_at <= ? "
        "UNION ALL SELECT customer_id, opened_at FROM cases WHERE customer_id IS NOT NULL AND opened_at <= ? "
        f"UNION ALL SELECT customer_id, occurred_at FROM events WHERE kind IN {in_list(ACTIVITY_EVENTS)} "
        "AND customer_id IS NOT NULL AND occurred_at <= ?) a), "
        "rhythm AS (SELECT person_id, count(*) AS n, min(d) AS first_d, max(d) AS last_d FROM act GROUP BY person_id), "
        f"book AS (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY CAST(last_d - first_d AS DOUBLE PRECISION) / (n - 1)) AS gap "
        f"FROM rhythm WHERE n >= {min_n}), "
        "fail AS (SELECT person_id, d AS fail_d, kind, reason, entry_id, fact_table, fact_id, detail FROM ("
        f"SELECT {_person('e.customer_id')} AS person_id, CAST(e.occurred_at AS DATE) AS d, e.kind, e.reason, e.entry_id, "
        "e.fact_table, e.fact_id, e.detail, row_number() OVER (PARTITION BY "
        f"{_person('e.customer_id')} ORDER BY e.occurred_at DESC, e.entry_id) AS rn "
        f"FROM goodwill_entries e WHERE e.kind IN {fails} AND e.occurred_at <= ?) f WHERE rn = 1) "
        "SELECT r.person_id, r.n AS contact_days, r.first_d, r.last_d, "
        f"CASE WHEN r.n >= {min_n} THEN CAST(r.last_d - r.first_d AS DOUBLE PRECISION) / (r.n - 1) ELSE b.gap END AS usual_gap_days, "
        f"CASE WHEN r.n >= {min_n} THEN 'own' ELSE 'book' END AS rhythm, "
        "CAST(? AS DATE) - r.last_d AS recency_days, "
        "f.fail_d, f.kind AS failure_kind, f.reason AS failure_reason, f.entry_id AS failure_entry, "
        "f.fact_table AS failure_table, f.fact_id AS failure_fact, f.detail AS failure_detail, "
        f"CASE WHEN f.fail_d IS NOT NULL AND r.last_d <= f.fail_d + {grace} THEN true ELSE false END AS quiet_since_failure, "
        "CAST(? AS DATE) - greatest(r.last_d, coalesce(f.fail_d, r.last_d)) AS quiet_days "
        "FROM rhythm r CROSS JOIN book b LEFT JOIN fail f ON f.person_id = r.person_id"
    )


def data_horizon(store: Store) -> dt.datetime:
    """The latest contact or case in the store: the natural 'as of' for data that has ended."""
    v = store.scalar(
        "SELECT max(t) FROM (SELECT max(occurred_at) AS t FROM interactions UNION ALL "
        "SELECT max(opened_at) FROM cases UNION ALL SELECT max(occurred_at) FROM events) x"
    )
    return v.astimezone(dt.UTC) if v is not None else dt.datetime.now(dt.UTC)


def silence_scores(
    store: Store, *, as_of: dt.datetime | None = None, weights: str | Path | Weights | None = None
) -> pa.Table:
    """Every person's silence measures as of a date (the input to ranking and validation).

    ``ratio`` is quiet days over the usual gap; ``score`` is the ratio for people quiet since a
    failure and 0 otherwise; ``recency_days`` is the plain-recency baseline.
    """
    need_goodwill(store)
    w = weights if isinstance(weights, Weights) else load_weights(weights)
    now = (as_of or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    day = now.date()
    sql = (
        "SELECT q.*, CAST(q.quiet_days AS DOUBLE PRECISION) / greatest(coalesce(q.usual_gap_days, 1), 1) AS ratio "
        f"FROM ({scores_sql(w)}) q"
    )
    t = store.query(
        f"SELECT z.*, CASE WHEN z.quiet_since_failure THEN z.ratio ELSE 0 END AS score FROM ({sql}) z",
        [now, now, now, now, day, day],
    )
    return t


def silent(
    store: Store,
    *,
    as_of: dt.datetime | None = None,
    weights: str | Path | Weights | None = None,
    limit: int = 50,
    include_book_rhythm: bool = False,
) -> dict[str, Any]:
    """The ranked list: people quiet since a failure for at least ``silent_ratio`` of their usual
    gaps, longest quiet (relative to their rhythm) first, each with the reason and its facts."""
    w = weights if isinstance(weights, Weights) else load_weights(weights)
    need_goodwill(store)
    now = (as_of or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    thr = float(w.silence["silent_ratio"])
    t = silence_scores(store, as_of=now, weights=w)
    all_rows = t.to_pylist()
    rows = [r for r in all_rows if r["quiet_since_failure"] and r["ratio"] >= thr]
    no_rhythm = sum(1 for r in all_rows if r["failure_kind"] is not None and r["rhythm"] == "book")
    if not include_book_rhythm:
        rows = [r for r in rows if r["rhythm"] == "own"]
    rows.sort(key=lambda r: (-r["ratio"], r["person_id"]))
    failed = sum(1 for r in all_rows if r["failure_kind"] is not None)
    for r in clean(rows):
        gap = r["usual_gap_days"]
        whose = (
            "their usual gap"
            if r["rhythm"] == "own"
            else "the book's median gap (too few contacts of their own)"
        )
        r["why"] = (
            f"{r['failure_reason']} on {r['fail_d']} ({r['failure_table']} {r['failure_fact']}); "
            f"quiet for {r['quiet_days']} days since, {r['ratio']:.1f} x {whose} of {gap:.0f} days"
        )
    return {
        "as_of": now.isoformat(),
        "rules_version": w.version,
        "threshold_ratio": thr,
        "people_with_a_failure": failed,
        "silent": len(rows),
        # Said, not hidden: people let down whose quiet cannot be judged against a rhythm of their own.
        "failed_without_own_rhythm": no_rhythm,
        "judged_on_book_rhythm": include_book_rhythm,
        "rows": rows[:limit],
    }


__all__ = ["ACTIVITY_EVENTS", "data_horizon", "scores_sql", "silence_scores", "silent"]
