"""One company's facts, loaded the same way into any store, and every measure read back.

The facts are the committed real samples (CFPB complaints, Telco subscriptions, Olist
orders with their delivery promises and reviews) plus the generated awkward cases of
tests/measures (ties in time, missing channels and ids, consents by channel, reopened cases).
Every step runs through the store's own engine: ingest with identity resolution, enrichment
with reason discovery, the promise ledger, fair value, runaround, the goodwill ledger and
silence. :func:`measures` returns what each measure shows, as plain Python values that compare
equal across engines when the numbers are the same.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from typing import Any

from tests.measures.helpers import CORE_DATA, PROMISE_DATA
from tests.measures.test_same_as_before import AS_OF, generate

from goodwill.ingest import ingest_file
from goodwill.measure import fair_value as fv
from goodwill.measure import goodwill_ledger as gl
from goodwill.measure import promises as pr
from goodwill.measure import runaround as ra
from goodwill.measure import silence as si
from goodwill.measure.report import build_measures
from goodwill.store import Store
from goodwill.store.timeline import timeline
from goodwill.understand.embed import HashingEmbedder
from goodwill.understand.sentiment import LexiconSentiment
from goodwill.understand.service import enrich_store, reason_report

__all__ = ["AS_OF", "load", "measures", "normal"]


def load(store: Store) -> None:
    """The same facts into ``store``, through its own engine, then every measure built."""
    ingest_file(store, CORE_DATA / "cfpb-150.csv.gz", "cfpb")
    ingest_file(store, CORE_DATA / "telco-200.csv", "telco")
    ingest_file(store, PROMISE_DATA / "olist_sample.csv.gz", "olist")
    generate(store)
    # The deterministic test embedder and lexicon: the same vectors on every engine, so any
    # difference in reasons comes from the store, not the model.
    enrich_store(store, embedder=HashingEmbedder(), sentiment=LexiconSentiment(), batch_size=512)
    build_measures(store, as_of=AS_OF, refresh=True)


def _sig(v: float) -> float:
    # Engines add floating-point terms in different orders: keep 9 significant digits.
    if v == 0 or not math.isfinite(v):
        return v
    return round(v, 8 - math.floor(math.log10(abs(v))))


def normal(value: Any) -> Any:
    """Engine-neutral values: Decimals and floats to 9 significant digits, times in UTC."""
    if isinstance(value, dict):
        return {k: normal(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normal(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, decimal.Decimal):
        value = float(value)
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < 2**53 else _sig(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _table(store: Store, name: str, key: str, drop: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    rows = [{k: v for k, v in r.items() if k not in drop} for r in store.rows(f"SELECT * FROM {name}")]
    return sorted(normal(rows), key=lambda r: str(r[key]))


def measures(store: Store) -> dict[str, Any]:
    """What each measure shows, read back from ``store``."""
    out: dict[str, Any] = {}
    # Promise gap.
    out["promise_status"] = _table(store, "promise_status", "promise_id")
    out["gap_by_team"] = normal(pr.gap(store, "team"))
    out["gap_all"] = normal(pr.gap(store, "all"))
    out["gap_weekly"] = normal(pr.weekly_series(store))
    # Goodwill ledger.
    out["goodwill_entries"] = _table(store, "goodwill_entries", "entry_id", drop=("built_at",))
    out["balances_by_segment"] = normal(gl.balances(store, "segment"))
    out["balances_by_customer"] = normal(gl.balances(store, "customer", limit=15))
    out["balance_series"] = normal(gl.balance_series(store, "company"))
    out["customer_ledger"] = normal(gl.customer_ledger(store, "c0"))
    # Runaround.
    out["runaround_cases"] = _table(store, "runaround_cases", "case_key")
    out["worst_cases"] = normal(ra.worst_cases(store, limit=15))
    out["effort_by_source"] = normal(ra.summary(store, "source"))
    # Silence.
    scores = si.silence_scores(store, as_of=AS_OF).to_pylist()
    out["silence_scores"] = sorted(normal(scores), key=lambda r: str(r["person_id"]))
    out["silent"] = normal(si.silent(store, as_of=AS_OF, include_book_rhythm=True))
    # Fair value.
    out["fair_value"] = _table(store, "fair_value", "subscription_id")
    out["penalty_by_tenure"] = normal(fv.penalty_by(store, "tenure"))
    out["fair_value_book"] = normal(fv.book_summary(store))
    out["price_tenure"] = normal(fv.price_tenure(store, as_of=AS_OF))
    # Contact reasons and their weekly trends.
    out["reasons"] = normal(reason_report(store, weeks=12))
    out["enrichments"] = _table(store, "enrichments", "interaction_id", drop=("enriched_at",))
    # One person's timeline: the point read behind the brief (person_facts), on every engine.
    for person in ("c0", "olist:1", "cfpb:6960951"):
        out[f"timeline {person}"] = _timeline(store, person)
    return out


# When goodwill computed a row (not a fact about the person): differs between any two builds.
_STAMPS = ("built_at", "enriched_at", "linted_at", "read_at")


def _timeline(store: Store, person: str) -> dict[str, Any]:
    t = normal(timeline(store, person).to_dict())
    for e in t["entries"]:
        for k in _STAMPS:
            e["detail"].pop(k, None)
    return t
