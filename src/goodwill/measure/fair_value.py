"""Fair value and the loyalty penalty: what each customer pays against what a new one pays.

The UK rule for home and motor insurance (FCA PS21/5, ICOBS 6B) is that a renewal price may
be no higher than the equivalent new-business price *through the same channel*. goodwill
applies the same test to any subscription: for each active subscription it finds the price a
new customer pays for the same plan through the same channel, and says how it knows:

1. ``subscriptions.new_customer_price`` where the company recorded it for this subscription;
2. ``plans.new_customer_price`` for the plan;
3. otherwise inferred: the median price of subscriptions with a tenure of at most
   ``new_max_tenure_months`` on the same plan and channel (``fair_value`` in the weights
   file), with the number of them; refused when fewer than ``min_new_customers`` stand behind it.

Results land in the ``fair_value`` table, one row per active subscription, each naming its
reference, the n behind it and the rule version.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

from goodwill.errors import ConfigError, NotFoundError
from goodwill.measure.goodwill_ledger import Weights, clean, json_field, load_weights, seconds
from goodwill.model import Column, Table, register_table
from goodwill.store import Store

FAIR_VALUE = register_table(
    Table(
        "fair_value",
        (
            Column("subscription_id", "text", nullable=False),
            Column("customer_id", "text", lookup=True),
            Column("plan_id", "text"),
            Column("channel", "text"),
            Column("product", "text"),
            Column("period", "text"),
            Column("price", "float"),
            Column("tenure_months", "float"),
            Column(
                "reference_price",
                "float",
                doc="what a new customer pays for the same; null when refused",
            ),
            Column("reference_basis", "text", doc="declared, plan, or how it was inferred"),
            Column("reference_n", "int", doc="new customers behind an inferred reference"),
            Column("penalty", "float", doc="price - reference_price, per period"),
            Column("penalty_pct", "float"),
            Column("annual_penalty", "float", doc="the penalty over a year"),
            Column("verdict", "text", doc="fair, penalty, no_reference"),
            Column("as_of", "timestamp"),
            Column("rules_version", "text"),
        ),
        ("subscription_id",),
        "Each active subscription's price against the new-customer price for the same plan and channel.",
        time_column="as_of",
        internal=True,
        sort_key=("customer_id",),
    )
)

PERIODS_PER_YEAR = "CASE WHEN s.period = 'year' THEN 1 WHEN s.period = 'week' THEN 52 WHEN s.period = 'once' THEN 0 ELSE 12 END"

TENURE_BANDS = ((0, 6), (7, 12), (13, 24), (25, 48), (49, 72), (73, 10_000))


def tenure_sql(as_of_param: str = "?") -> str:
    """Months held: the source's own tenure where it has one (Telco), else since started_at."""
    return (
        f"coalesce(CAST({json_field('attrs', 'tenure')} AS DOUBLE PRECISION), "
        f"{seconds(as_of_param, 'started_at')} / 2629800.0)"
    )


def band_sql(col: str) -> str:
    parts = " ".join(
        f"WHEN {col} <= {hi} THEN '{lo}-{hi}'"
        if hi < 10_000
        else f"WHEN {col} > {lo - 1} THEN '{lo}+'"
        for lo, hi in TENURE_BANDS
    )
    return f"CASE {parts} ELSE '(unknown)' END"


def build_fair_value(
    store: Store,
    *,
    as_of: dt.datetime | None = None,
    weights: str | Path | Weights | None = None,
    match_channel: bool | None = None,
) -> dict[str, Any]:
    """Rebuild ``fair_value``; returns counts by verdict and reference basis."""
    w = weights if isinstance(weights, Weights) else load_weights(weights)
    cfg = w.fair_value
    max_t, min_n = float(cfg["new_max_tenure_months"]), int(cfg["min_new_customers"])
    same_channel = bool(cfg["match_channel"]) if match_channel is None else match_channel
    now = (as_of or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    store.ensure_table(FAIR_VALUE)
    ch_key = "channel" if same_channel else "lower('any')"
    ch_join = "AND r.ch IS NOT DISTINCT FROM s.channel" if same_channel else ""
    via = "this channel" if same_channel else "any channel"
    inferred = (
        f"'inferred: median of ' || CAST(r.n AS TEXT) || ' subscriptions with tenure <= {max_t:g} months "
        f"on this plan via {via}'"
    )
    sql = (
        "INSERT INTO fair_value (subscription_id, customer_id, plan_id, channel, product, period, price, "
        "tenure_months, reference_price, reference_basis, reference_n, penalty, penalty_pct, annual_penalty, "
        "verdict, as_of, rules_version) "
        "SELECT subscription_id, customer_id, plan_id, channel, product, period, price, tenure, ref, basis, ref_n, "
        "price - ref, CASE WHEN ref > 0 THEN 100.0 * (price - ref) / ref END, "
        "CASE WHEN price > ref THEN (price - ref) * ppy ELSE 0 END, "
        "CASE WHEN ref IS NULL THEN 'no_reference' WHEN price > ref THEN 'penalty' ELSE 'fair' END, ?, ? FROM ("
        "SELECT s.subscription_id, s.customer_id, s.plan_id, s.channel, s.product, s.period, s.price, s.tenure, "
        f"{PERIODS_PER_YEAR} AS ppy, "
        f"CASE WHEN s.new_customer_price IS NOT NULL THEN s.new_customer_price "
        f"WHEN pl.new_customer_price IS NOT NULL THEN pl.new_customer_price "
        f"WHEN r.n >= {min_n} THEN r.med END AS ref, "
        "CASE WHEN s.new_customer_price IS NOT NULL THEN 'declared: subscriptions.new_customer_price' "
        "WHEN pl.new_customer_price IS NOT NULL THEN 'declared: plans.new_customer_price' "
        f"WHEN r.n >= {min_n} THEN {inferred} "
        f"ELSE 'refused: ' || CAST(coalesce(r.n, 0) AS TEXT) || ' subscriptions with tenure <= {max_t:g} months "
        f"on this plan via {via}; at least {min_n} needed' END AS basis, "
        "CASE WHEN s.new_customer_price IS NULL AND pl.new_customer_price IS NULL THEN coalesce(r.n, 0) END AS ref_n "
        f"FROM (SELECT *, {tenure_sql()} AS tenure FROM subscriptions) s "
        "LEFT JOIN plans pl ON pl.plan_id = s.plan_id "
        f"LEFT JOIN (SELECT plan_id, {ch_key} AS ch, count(*) AS n, "
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY price) AS med "
        f"FROM (SELECT plan_id, channel, price, {tenure_sql()} AS tenure FROM subscriptions "
        f"WHERE price IS NOT NULL AND plan_id IS NOT NULL) t WHERE tenure <= {max_t} GROUP BY 1, 2) r "
        f"ON r.plan_id = s.plan_id {ch_join} "
        "WHERE s.price IS NOT NULL AND coalesce(s.status, 'active') <> 'ended') x"
    )
    with store.transaction():
        store.execute("DELETE FROM fair_value")
        store.execute(sql, [now, w.version, now, now])
    store.set_meta("fair_value_as_of", now.isoformat())
    store.set_meta("fair_value_version", w.version)
    return {
        "as_of": now.isoformat(),
        "rules_version": w.version,
        "match_channel": same_channel,
        "by_verdict": {
            r["verdict"]: int(r["n"])
            for r in store.rows(
                "SELECT verdict, count(*) AS n FROM fair_value GROUP BY verdict ORDER BY verdict"
            )
        },
    }


def need_fair_value(store: Store) -> None:
    if not store.table_exists("fair_value") or store.get_meta("fair_value_as_of") is None:
        raise NotFoundError(
            "Fair value has not been computed in this store.",
            hint="Run `goodwill fair-value --refresh` (or goodwill.measure.fair_value.build_fair_value).",
        )


GROUPS = {
    "tenure": band_sql("f.tenure_months"),
    "product": "coalesce(f.product, '(none)')",
    "channel": "coalesce(f.channel, '(none)')",
    "segment": "coalesce(cu.segment, '(none)')",
    "age_band": "coalesce(cu.age_band, '(not recorded)')",
    "vulnerable": "CASE WHEN cu.vulnerable THEN 'vulnerable' WHEN cu.vulnerable IS NULL THEN '(not recorded)' ELSE 'not vulnerable' END",
    "plan": "coalesce(f.plan_id, '(none)')",
    "all": "lower('all')",
}


def penalty_by(store: Store, by: str = "tenure") -> list[dict[str, Any]]:
    """Who pays the loyalty penalty: per group, how many are judged, how many pay more than a
    new customer, how much (per year), and how many could not be judged."""
    need_fair_value(store)
    if by not in GROUPS:
        raise ConfigError(
            f"Cannot group fair value by {by!r}.", hint=f"Use one of: {', '.join(GROUPS)}."
        )
    g = GROUPS[by]
    order = "min(f.tenure_months)" if by == "tenure" else g
    return clean(
        store.rows(
            f"SELECT {g} AS grp, count(*) AS subscriptions, "
            "sum(CASE WHEN f.verdict <> 'no_reference' THEN 1 ELSE 0 END) AS judged, "
            "sum(CASE WHEN f.verdict = 'penalty' THEN 1 ELSE 0 END) AS paying_more, "
            "sum(CASE WHEN f.verdict = 'no_reference' THEN 1 ELSE 0 END) AS no_reference, "
            "sum(CASE WHEN f.verdict = 'penalty' THEN f.annual_penalty ELSE 0 END) AS annual_penalty, "
            "avg(CASE WHEN f.verdict <> 'no_reference' THEN f.penalty_pct END) AS mean_penalty_pct, "
            "avg(f.tenure_months) AS mean_tenure_months "
            f"FROM fair_value f LEFT JOIN customers cu ON cu.customer_id = f.customer_id GROUP BY {g} ORDER BY {order}"
        )
    )


def owed_better_deal(
    store: Store,
    *,
    min_pct: float | None = None,
    limit: int = 50,
    weights: str | Path | Weights | None = None,
) -> list[dict[str, Any]]:
    """Customers paying more than a new customer for the same (beyond the tolerance), largest
    yearly penalty first, each with the reference and the n behind it."""
    need_fair_value(store)
    w = weights if isinstance(weights, Weights) else load_weights(weights)
    pct = float(w.rules["fair_tolerance_percent"]) if min_pct is None else min_pct
    return store.rows(
        "SELECT f.customer_id, f.subscription_id, f.plan_id, f.channel, f.product, f.tenure_months, f.price, "
        "f.reference_price, f.reference_basis, f.reference_n, f.penalty, f.penalty_pct, f.annual_penalty, "
        "f.rules_version FROM fair_value f WHERE f.verdict = 'penalty' AND f.penalty_pct > ? "
        "ORDER BY f.annual_penalty DESC, f.customer_id LIMIT ?",
        [pct, int(limit)],
    )


def book_summary(store: Store, *, weights: str | Path | Weights | None = None) -> dict[str, Any]:
    """The size of the loyalty penalty across the book."""
    need_fair_value(store)
    w = weights if isinstance(weights, Weights) else load_weights(weights)
    tol = float(w.rules["fair_tolerance_percent"])
    r = clean(
        store.rows(
            "SELECT count(*) AS subscriptions, sum(CASE WHEN verdict <> 'no_reference' THEN 1 ELSE 0 END) AS judged, "
            "sum(CASE WHEN verdict = 'penalty' THEN 1 ELSE 0 END) AS paying_more, "
            "sum(CASE WHEN verdict = 'penalty' AND penalty_pct > ? THEN 1 ELSE 0 END) AS owed_better_deal, "
            "sum(annual_penalty) AS annual_penalty, "
            "sum(CASE WHEN reference_basis LIKE 'declared%' THEN 1 ELSE 0 END) AS declared_references, "
            "sum(CASE WHEN reference_basis LIKE 'inferred%' THEN 1 ELSE 0 END) AS inferred_references, "
            "min(rules_version) AS rules_version, min(as_of) AS as_of FROM fair_value",
            [tol],
        )
    )[0]
    r["tolerance_pct"] = tol
    return r


def price_tenure(
    store: Store, *, where: str = "s.plan_id IS NOT NULL", as_of: dt.datetime | None = None
) -> dict[str, Any]:
    """How price relates to tenure, raw and like-for-like (within the same plan).

    The raw slope mixes plans: long-tenure customers hold more services and longer contracts.
    The like-for-like slope regresses each price's difference from its plan's mean price on
    tenure, pooling plans (a within-plan, fixed-effects estimate), with its standard error.
    Both are cross-sectional: one price per customer at one moment, no price history.
    """
    now = (as_of or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    base = (
        f"SELECT s.plan_id, s.price, {tenure_sql()} AS tenure, "
        f"avg(s.price) OVER (PARTITION BY s.plan_id) AS plan_mean, count(*) OVER (PARTITION BY s.plan_id) AS plan_n "
        f"FROM subscriptions s WHERE s.price IS NOT NULL AND {where}"
    )
    stats = "regr_slope({y}, tenure) AS slope, regr_sxx({y}, tenure) AS sxx, regr_syy({y}, tenure) AS syy, regr_count({y}, tenure) AS n"
    raw = clean(store.rows(f"SELECT {stats.format(y='price')} FROM ({base}) b", [now]))[0]
    within = clean(
        store.rows(
            f"SELECT {stats.format(y='price - plan_mean')}, count(DISTINCT plan_id) AS plans, "
            "avg(abs(price - plan_mean)) AS mean_abs_dev FROM (" + base + ") b WHERE plan_n >= 2",
            [now],
        )
    )[0]
    bands = clean(
        store.rows(
            f"SELECT {band_sql('tenure')} AS band, min(tenure) AS lo, count(*) AS n, avg(price) AS mean_price, "
            "avg(price - plan_mean) AS mean_within_plan_diff "
            f"FROM ({base}) b WHERE plan_n >= 2 GROUP BY 1 ORDER BY lo",
            [now],
        )
    )

    def fit(r: dict[str, Any]) -> dict[str, Any]:
        n = int(r["n"] or 0)
        slope = r["slope"]
        se = None
        if n > 2 and slope is not None and r["sxx"]:
            resid = max(0.0, float(r["syy"]) - float(slope) ** 2 * float(r["sxx"]))
            se = math.sqrt(resid / (n - 2) / float(r["sxx"]))
        out: dict[str, Any] = {
            "n": n,
            "slope_per_month": slope,
            "se": se,
            "ci95": None,
            "per_year": None,
        }
        if se is not None and slope is not None:
            out["ci95"] = (slope - 1.96 * se, slope + 1.96 * se)
            out["per_year"] = slope * 12
        return out

    return {
        "raw": fit(raw),
        "within_plan": {
            **fit(within),
            "plans": within["plans"],
            "mean_abs_dev": within["mean_abs_dev"],
        },
        "bands": bands,
    }


__all__ = [
    "FAIR_VALUE",
    "GROUPS",
    "TENURE_BANDS",
    "band_sql",
    "book_summary",
    "build_fair_value",
    "need_fair_value",
    "owed_better_deal",
    "penalty_by",
    "price_tenure",
    "tenure_sql",
]
