"""A SIMULATED book of customers for validating silence after failure (labelled "simulated").

The shared real data cannot test whether silence after failure predicts leaving: Telco has
leaving but no contacts, CFPB and Olist have one contact per person, and TWCS has recurring
people but no leaving. So this seeded generator makes customers with the thing we need to
test, writes them into a store as ordinary facts, and runs the *same* SQL measures on them.
What it shows is that the method recovers the signal when the assumptions below hold, and by
how much it beats plain recency then; it is not evidence that real customers behave so.
Every assumption is in :data:`ASSUMPTIONS` and is printed beside every result.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from goodwill.measure.goodwill_ledger import build_goodwill
from goodwill.measure.silence import silence_scores
from goodwill.store import Store
from goodwill.understand.tables import ENRICHMENTS


@dataclass(frozen=True)
class SimAssumptions:
    customers: int = 20_000
    history_days: int = 730  # facts from day 0 up to the as-of day
    horizon_days: int = (
        90  # a customer "leaves" when their subscription ends within this after as-of
    )
    gap_median_days: float = (
        30.0  # each customer's own mean gap between contacts: lognormal around this
    )
    gap_sigma: float = 0.9  # spread of those personal rhythms (log scale)
    gap_min_days: float = 3.0
    gap_max_days: float = 365.0
    failure_per_contact: float = 0.05  # chance a contact goes wrong
    leave_after_failure: float = 0.30  # chance a failure makes the customer decide to leave
    leave_base_per_year: float = 0.10  # deciding to leave for reasons of their own
    notice_min_days: int = 30  # deciding to leaving: the subscription ends this long after
    notice_max_days: int = 150  # ... up to this; the customer stops all contact on deciding
    complaint_share: float = (
        0.5  # a failure is a complaint closed without relief; else a very unhappy message
    )
    seed: int = 7


ASSUMPTIONS = SimAssumptions()

START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _describe(a: SimAssumptions) -> list[str]:
    return [
        f"SIMULATED: {a.customers:,} customers, {a.history_days} days of history, seed {a.seed}.",
        f"Each customer contacts the company as a Poisson process with their own mean gap, lognormal with "
        f"median {a.gap_median_days:g} days and log-sd {a.gap_sigma:g}, clipped to [{a.gap_min_days:g}, {a.gap_max_days:g}].",
        f"Each contact goes wrong with probability {a.failure_per_contact:g} "
        f"({a.complaint_share:.0%} a complaint closed without relief, the rest a very unhappy message, sentiment -0.8).",
        f"After a failure the customer decides to leave with probability {a.leave_after_failure:g}; "
        f"independently, {a.leave_base_per_year:g} a year decide to leave for their own reasons.",
        f"On deciding, the customer stops all contact; the subscription ends {a.notice_min_days}-{a.notice_max_days} "
        "days later (uniform).",
        f"Label: among customers still subscribed on the as-of day, whether the subscription ends within "
        f"{a.horizon_days} days. Customers already gone are left out.",
        "Not modelled: customers who complain louder before leaving, seasonality, contact driven by the company, "
        "failures the company never records. Real customers may differ in all of these.",
    ]


@dataclass
class SimBook:
    assumptions: SimAssumptions
    as_of: dt.datetime
    labels: dict[str, int]  # customer id -> left within the horizon (still subscribed at as-of)
    contacts: int
    failures: int


def generate(store: Store, a: SimAssumptions = ASSUMPTIONS) -> SimBook:
    """Write the simulated customers' facts into ``store`` (source 'simulated')."""
    rng = np.random.default_rng(a.seed)
    n, T = a.customers, float(a.history_days)
    gaps = np.clip(
        rng.lognormal(np.log(a.gap_median_days), a.gap_sigma, n), a.gap_min_days, a.gap_max_days
    )
    base_rate = -np.log(1 - a.leave_base_per_year) / 365.0
    own_decision = rng.exponential(1 / base_rate, n)  # day of deciding to leave for own reasons
    ids: list[str] = []
    i_ids: list[str] = []
    i_cust: list[str] = []
    i_at: list[dt.datetime] = []
    en_ids: list[str] = []
    en_cust: list[str] = []
    en_at: list[dt.datetime] = []
    case_rows: list[dict[str, Any]] = []
    labels: dict[str, int] = {}
    n_fail = 0
    horizon_end = T + a.horizon_days
    for k in range(n):
        cid = f"sim:{k}"
        ids.append(cid)
        decided = float(own_decision[k])
        t = float(rng.exponential(gaps[k]))
        j = 0
        while t < min(decided, horizon_end):
            iid = f"sim:{k}:{j}"
            at = START + dt.timedelta(days=t)
            if t <= T:
                i_ids.append(iid)
                i_cust.append(cid)
                i_at.append(at)
            if rng.random() < a.failure_per_contact:
                if t <= T:
                    n_fail += 1
                    if rng.random() < a.complaint_share:
                        case_rows.append(
                            {
                                "case_id": f"simcase:{k}:{j}",
                                "customer_id": cid,
                                "kind": "complaint",
                                "opened_at": at,
                                "closed_at": at + dt.timedelta(days=7),
                                "status": "closed",
                                "outcome": "Closed without relief",
                                "source": "simulated",
                            }
                        )
                    else:
                        en_ids.append(iid)
                        en_cust.append(cid)
                        en_at.append(at)
                if rng.random() < a.leave_after_failure:
                    decided = min(decided, t)
            j += 1
            t += float(rng.exponential(gaps[k]))
        ends = decided + float(rng.uniform(a.notice_min_days, a.notice_max_days))
        if ends > T:
            labels[cid] = int(ends <= horizon_end)
    ts = pa.timestamp("us", tz="UTC")
    store.append("customers", pa.table({"customer_id": ids, "source": ["simulated"] * n}))
    m = len(i_ids)
    store.append(
        "interactions",
        pa.table(
            {
                "interaction_id": i_ids,
                "customer_id": i_cust,
                "occurred_at": pa.array(i_at, ts),
                "direction": ["inbound"] * m,
                "channel": ["phone"] * m,
                "function": ["service"] * m,
                "source": ["simulated"] * m,
            }
        ),
    )
    if case_rows:
        store.append("cases", pa.Table.from_pylist(case_rows))
    store.ensure_table(ENRICHMENTS)
    if en_ids:
        now = dt.datetime.now(dt.UTC)
        store.append(
            ENRICHMENTS,
            pa.table(
                {
                    "interaction_id": en_ids,
                    "customer_id": en_cust,
                    "occurred_at": pa.array(en_at, ts),
                    "sentiment_score": [-0.8] * len(en_ids),
                    "sentiment_label": ["negative"] * len(en_ids),
                    "sentiment_model": ["simulated"] * len(en_ids),
                    "enriched_at": pa.array([now] * len(en_ids), ts),
                }
            ),
        )
    return SimBook(a, START + dt.timedelta(days=T), labels, m, n_fail)


def auc(y: np.ndarray, s: np.ndarray) -> float:
    """Area under the ROC curve with ties counted half (Mann-Whitney)."""
    pos = y == 1
    n1, n0 = int(pos.sum()), int((~pos).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    r = (ends - (counts - 1) / 2.0)[inverse]
    return float((r[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def precision_at(y: np.ndarray, s: np.ndarray, k: int, rng: np.random.Generator) -> float:
    # Ties at the cut are broken at random, so a score with many ties gains nothing from order.
    order = np.lexsort((rng.random(len(s)), -s))
    return float(y[order[:k]].mean())


def evaluate(
    y: np.ndarray, scores: dict[str, np.ndarray], *, ks: tuple[int, ...], resamples: int, seed: int
) -> dict[str, Any]:
    """AUC and precision@k per score with bootstrap 95% intervals, and each score's gain over
    the first one (the baseline) with its interval."""
    rng = np.random.default_rng(seed)
    names = list(scores)
    point = {
        nm: {"auc": auc(y, s), **{f"p@{k}": precision_at(y, s, k, rng) for k in ks}}
        for nm, s in scores.items()
    }
    boots: dict[str, dict[str, list[float]]] = {nm: {m: [] for m in point[nm]} for nm in names}
    n = len(y)
    for _ in range(resamples):
        idx = rng.integers(0, n, n)
        yb = y[idx]
        for nm, s in scores.items():
            sb = s[idx]
            boots[nm]["auc"].append(auc(yb, sb))
            for k in ks:
                boots[nm][f"p@{k}"].append(precision_at(yb, sb, k, rng))
    out: dict[str, Any] = {}
    base = names[0]
    for nm in names:
        out[nm] = {}
        for m, v in point[nm].items():
            b = np.array(boots[nm][m])
            row = {
                "value": v,
                "ci95": [float(np.nanquantile(b, 0.025)), float(np.nanquantile(b, 0.975))],
            }
            if nm != base:
                d = b - np.array(boots[base][m])
                row["gain_over_baseline"] = v - point[base][m]
                row["gain_ci95"] = [
                    float(np.nanquantile(d, 0.025)),
                    float(np.nanquantile(d, 0.975)),
                ]
            out[nm][m] = row
    return out


def validate_silence(
    store: Store,
    a: SimAssumptions = ASSUMPTIONS,
    *,
    resamples: int = 500,
    ks: tuple[int, ...] = (100, 500),
) -> dict[str, Any]:
    """Generate the simulated book into an empty ``store``, build the goodwill ledger, score
    silence as of the last history day, and compare against plain recency."""
    book = generate(store, a)
    build_goodwill(store, as_of=book.as_of, lint_copy=False)
    t = silence_scores(store, as_of=book.as_of).to_pylist()
    by_id = {r["person_id"]: r for r in t}
    ids = sorted(book.labels)
    y = np.array([book.labels[i] for i in ids])
    # A customer with no contact in the history has no row: quietest of all on recency, no failure.
    recency = np.array(
        [by_id[i]["recency_days"] if i in by_id else a.history_days for i in ids], dtype=float
    )
    saf = np.array([by_id[i]["score"] if i in by_id else 0.0 for i in ids], dtype=float)
    ratio = np.array([by_id[i]["ratio"] if i in by_id else 0.0 for i in ids], dtype=float)
    # Silence after failure ranks people quiet since a failure first (by their ratio), then
    # everyone else by plain recency: a list a team can work from top to bottom.
    saf_then_recency = np.where(saf > 0, 1e6 + saf, recency)
    scores = {
        "plain recency (baseline)": recency,
        "silence after failure": saf,
        "silence after failure, then recency": saf_then_recency,
        "own-rhythm silence (no failure needed)": ratio,
    }
    return {
        "label": "simulated",
        "assumptions": asdict(a),
        "assumptions_text": _describe(a),
        "as_of": book.as_of.isoformat(),
        "customers_scored": len(ids),
        "left_within_horizon": int(y.sum()),
        "contacts": book.contacts,
        "failures": book.failures,
        "resamples": resamples,
        "metrics": evaluate(y, scores, ks=ks, resamples=resamples, seed=a.seed),
    }


__all__ = [
    "ASSUMPTIONS",
    "SimAssumptions",
    "SimBook",
    "auc",
    "evaluate",
    "generate",
    "precision_at",
    "validate_silence",
]
