"""Brief latency at scale (SYNTHETIC data), against a bare person_facts read as the baseline.

    .venv/bin/python benchmarks/bench_serve.py            # 1,000,000 customers / 10,000,000 interactions
    .venv/bin/python benchmarks/bench_serve.py --quick    # 100,000 / 1,000,000
    .venv/bin/python benchmarks/bench_serve.py --store X  # an existing store (e.g. the demo's)

Builds a DuckDB goodwill store in bench-out/ with synthetic customers, interactions, enrichments,
cases, promises and their ledger status, subscriptions and fair value, consents and goodwill
entries (generated inside DuckDB from row numbers; every row is labelled source='synthetic' or
rules_version='synthetic'), sorts it for point reads (Store.optimize), then times N briefs of
random customers: the baseline (person_facts over every table), each part of the brief, the
whole brief in process (build_brief) and through the app (httpx.ASGITransport, token check,
redaction, JSON). A store already built with the same sizes is reused (--rebuild to force).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa

from goodwill.guard import Action, Guard
from goodwill.model import get_table
from goodwill.serve import Settings, create_app, issue_token
from goodwill.serve.brief import BriefContext, build_brief, guard_facts
from goodwill.store import Store, open_store
from goodwill.store.base import Store as LiveStore

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
SECRET = b"bench-serve-secret-of-32-bytes!!"
# Bumped when build() changes what a store holds, so an older store is rebuilt, not reused.
BUILD_VERSION = 2
# The synthetic texts and the contact reason each stands for.
REASONS = (
    ("my bill is wrong again", "bill is wrong"),
    ("the engineer did not turn up", "engineer did not come"),
    ("I was promised a refund", "refund promised"),
    ("please call me back", "asks for a call back"),
    ("thanks for sorting it out", "thanks"),
    ("why did my price go up", "price went up"),
)


def build(path: Path, customers: int, interactions: int) -> Store:
    # Built beside the old store and moved over it at the end: a failed build loses nothing.
    tmp = path.with_name(path.name + ".building")
    for p in (tmp, Path(f"{tmp}.wal")):
        p.unlink(missing_ok=True)
    s = open_store(tmp)
    for name in ("promise_status", "goodwill_entries", "fair_value", "enrichments", "reasons"):
        s.ensure_table(get_table(name))
    t = time.perf_counter()
    c = customers
    s.execute(
        "INSERT INTO customers (customer_id, source, first_seen_at, segment, vulnerable) "
        "SELECT 'c' || i, 'synthetic', TIMESTAMPTZ '2020-01-01' + to_days((hash(i) % 1500)::BIGINT), "
        f"['a','b','c'][(1 + hash(i * 5) % 3)::BIGINT], hash(i * 17) % 50 = 0 FROM range({c}) r(i)"
    )
    s.execute(
        "INSERT INTO interactions (interaction_id, customer_id, occurred_at, channel, function, direction, team, text, source) "
        f"SELECT 'syn:' || i, 'c' || (hash(i * 7 + 1) % {c}), "
        "TIMESTAMPTZ '2025-06-01' + to_seconds((hash(i * 13 + 5) % 31536000)::BIGINT), "
        "['phone','email','chat','web'][(1 + hash(i * 3) % 4)::BIGINT], "
        "['service','field','sales','billing'][(1 + hash(i * 11) % 4)::BIGINT], "
        "CASE WHEN hash(i * 19) % 2 = 0 THEN 'inbound' ELSE 'outbound' END, "
        "['t1','t2','t3','t4'][(1 + hash(i * 23) % 4)::BIGINT], "
        "['my bill is wrong again','the engineer did not turn up','I was promised a refund','please call me back',"
        "'thanks for sorting it out','why did my price go up'][(1 + hash(i * 29) % 6)::BIGINT], 'synthetic' "
        f"FROM range({interactions}) r(i)"
    )
    # Contact reasons, one per synthetic phrase, as `goodwill enrich` would save them (labelled SYNTHETIC).
    s.append("reasons", pa.Table.from_pylist([
        {"reason_id": k, "label": f"SYNTHETIC: {label}", "keywords": json.dumps(label.split()),
         "representatives": json.dumps([phrase]), "fit_size": 1000, "fit_share": 1 / len(REASONS),
         "centroid": base64.b64encode(np.eye(384, dtype="<f4")[k].tobytes()).decode(), "threshold": 0.5,
         "embedder": "synthetic", "model_version": "synthetic", "active": True, "created_at": NOW, "updated_at": NOW}
        for k, (phrase, label) in enumerate(REASONS, start=1)
    ]))
    phrases = "[" + ",".join("'" + p + "'" for p, _ in REASONS) + "]"
    # Sentiment and a contact reason for the inbound half, as `goodwill enrich` would leave them
    # (one text in ten left unassigned, as a real model leaves some).
    s.execute(
        "INSERT INTO enrichments (interaction_id, customer_id, occurred_at, sentiment_score, sentiment_label, "
        "sentiment_model, reason_id, reason_distance, reason_model, embedder, enriched_at) "
        "SELECT interaction_id, customer_id, occurred_at, "
        "((hash(interaction_id) % 200)::DOUBLE - 100) / 100, "
        "CASE WHEN hash(interaction_id) % 200 < 70 THEN 'negative' WHEN hash(interaction_id) % 200 > 130 "
        f"THEN 'positive' ELSE 'neutral' END, 'synthetic', CASE WHEN hash(interaction_id) % 10 = 0 THEN NULL "
        f"ELSE list_position({phrases}, text) END, (hash(interaction_id) % 40)::DOUBLE / 100, 'synthetic', "
        "'synthetic', TIMESTAMPTZ '2026-11-01' FROM interactions WHERE direction = 'inbound'"
    )
    s.execute(
        "INSERT INTO cases (case_id, customer_id, kind, opened_at, status, issue, source) "
        f"SELECT 'k' || i, 'c' || (hash(i * 31) % {c}), 'complaint', "
        "TIMESTAMPTZ '2025-01-01' + to_days((hash(i * 37) % 600)::BIGINT), "
        "CASE WHEN hash(i * 41) % 4 = 0 THEN 'open' ELSE 'closed' END, 'billing', 'synthetic' "
        f"FROM range({c // 2}) r(i)"
    )
    s.execute(
        "INSERT INTO promises (promise_id, customer_id, action, description, made_at, due_at, team, kind, source) "
        f"SELECT 'p' || i, 'c' || (hash(i * 43) % {c}), 'call_back', 'call back', "
        "TIMESTAMPTZ '2025-01-01' + to_days((hash(i * 47) % 600)::BIGINT), "
        "TIMESTAMPTZ '2025-01-03' + to_days((hash(i * 47) % 600)::BIGINT), 't1', 'structured', 'synthetic' "
        f"FROM range({c}) r(i)"
    )
    s.execute(
        "INSERT INTO promise_status (promise_id, rule, status, deadline, repeats, as_of, rules_version) "
        "SELECT promise_id, 'synthetic', ['kept','kept','kept_late','broken','overdue','open'][(1 + hash(promise_id) % 6)::BIGINT], "
        f"due_at, 0, TIMESTAMPTZ '{NOW.isoformat()}', 'synthetic' FROM promises"
    )
    s.execute(
        "INSERT INTO subscriptions (subscription_id, customer_id, plan_id, product, channel, price, new_customer_price, "
        "currency, period, started_at, status, source) "
        "SELECT 's' || i, 'c' || i, 'plan' || (hash(i * 53) % 20), 'Broadband', 'web', "
        "30 + (hash(i * 59) % 2000)::DOUBLE / 100, 30 + (hash(i * 53) % 20)::DOUBLE / 2, 'GBP', 'month', "
        f"TIMESTAMPTZ '2018-01-01' + to_days((hash(i * 61) % 2500)::BIGINT), 'active', 'synthetic' FROM range({c}) r(i)"
    )
    s.execute(
        "INSERT INTO fair_value (subscription_id, customer_id, plan_id, channel, product, period, price, reference_price, "
        "reference_basis, penalty, penalty_pct, annual_penalty, verdict, as_of, rules_version) "
        "SELECT subscription_id, customer_id, plan_id, channel, product, period, price, new_customer_price, "
        "'declared: subscriptions.new_customer_price', price - new_customer_price, "
        "100 * (price - new_customer_price) / new_customer_price, greatest(0, price - new_customer_price) * 12, "
        f"CASE WHEN price > new_customer_price THEN 'penalty' ELSE 'fair' END, TIMESTAMPTZ '{NOW.isoformat()}', "
        "'synthetic' FROM subscriptions"
    )
    s.execute(
        "INSERT INTO consents (consent_id, customer_id, purpose, channel, state, recorded_at, source) "
        f"SELECT 'n' || i, 'c' || i, 'marketing', ['email','sms','any'][(1 + hash(i * 67) % 3)::BIGINT], "
        "CASE WHEN hash(i * 71) % 5 = 0 THEN 'withdrawn' ELSE 'granted' END, "
        f"TIMESTAMPTZ '2022-01-01' + to_days((hash(i * 73) % 1000)::BIGINT), 'synthetic' FROM range({c}) r(i)"
    )
    # Goodwill entries: one per case, promise decided and enriched message, as the ledger would write.
    s.execute(
        "INSERT INTO goodwill_entries (entry_id, customer_id, occurred_at, kind, amount, reason, fact_table, fact_id, "
        "rules_version, built_at) "
        "SELECT 'complaint_made:' || case_id, customer_id, opened_at, 'complaint_made', -2, 'complained', 'cases', "
        f"case_id, 'synthetic', TIMESTAMPTZ '{NOW.isoformat()}' FROM cases UNION ALL "
        "SELECT 'promise_' || s.status || ':' || p.promise_id, p.customer_id, p.due_at, 'promise_' || s.status, "
        "CASE WHEN s.status = 'kept' THEN 1 WHEN s.status = 'kept_late' THEN 0 ELSE -3 END, 'promise ' || s.status, "
        f"'promises', p.promise_id, 'synthetic', TIMESTAMPTZ '{NOW.isoformat()}' FROM promises p "
        "JOIN promise_status s USING (promise_id) WHERE s.status <> 'open' UNION ALL "
        "SELECT 'contact:' || interaction_id, customer_id, occurred_at, CASE WHEN sentiment_score < 0 THEN "
        "'negative_contact' ELSE 'positive_contact' END, CASE WHEN sentiment_score < 0 THEN -1 ELSE 1 END, 'said', "
        f"'interactions', interaction_id, 'synthetic', TIMESTAMPTZ '{NOW.isoformat()}' FROM enrichments "
        "WHERE abs(sentiment_score) > 0.4"
    )
    # Guard decisions: a SYNTHETIC up-sell campaign to one person in fifty, vetted and recorded by
    # the guard itself (its decisions, reasons and hash chain are the real ones).
    campaign = [
        Action(f"c{i}", "upsell", action_id=f"synthetic-bench-{i}", purpose="marketing", channel="email",
               text="SYNTHETIC up-sell", campaign_id="synthetic-bench")
        for i in range(0, customers, 50)
    ]
    Guard(s).vet_campaign(campaign, as_of=NOW)
    s.set_meta("goodwill_ledger_as_of", NOW.isoformat())
    s.set_meta("goodwill_ledger_version", "synthetic")
    s.set_meta("fair_value_as_of", NOW.isoformat())
    s.set_meta("promise_ledger_as_of", NOW.isoformat())
    s.set_meta("bench_serve_size", f"{customers}/{interactions}/{BUILD_VERSION}")
    built = time.perf_counter() - t
    s.optimize()
    print(f"built {customers:,} customers / {interactions:,} interactions (synthetic) in {built:.1f} s, "
          f"optimised in {time.perf_counter() - t - built:.1f} s", flush=True)
    s.close()
    Path(f"{path}.wal").unlink(missing_ok=True)
    os.replace(tmp, path)
    return open_store(path)


def synthetic(path: Path, customers: int, interactions: int, rebuild: bool) -> Store:
    if path.exists() and not rebuild:
        s = open_store(path)
        if s.get_meta("bench_serve_size") == f"{customers}/{interactions}/{BUILD_VERSION}":
            print(f"reusing {path} (synthetic, {customers:,} / {interactions:,})", flush=True)
            return s
        s.close()
    return build(path, customers, interactions)


class Replay:
    """The store as the brief sees it, with the person's read answered from memory: times the
    brief's own Python (rules, goodwill, shaping) apart from the engine."""

    def __init__(self, store: Store, facts: tuple[list[str], dict[str, Any]]) -> None:
        self._store, self._facts = store, facts

    def person_facts(self, customer_id: str, tables: Any = None) -> tuple[list[str], dict[str, Any]]:
        return self._facts

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def pct(xs: list[float], q: float) -> float:
    return sorted(xs)[min(len(xs) - 1, int(q * len(xs)))]


def line(name: str, xs: list[float]) -> str:
    ms = [x * 1000 for x in xs]
    return f"| {name} | {len(ms):,} | {statistics.median(ms):.2f} | {pct(ms, 0.95):.2f} | {pct(ms, 0.99):.2f} | {max(ms):.2f} |"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--interactions", type=int, default=10_000_000)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--store", help="time an existing store instead of building a synthetic one")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the synthetic store even if one of this size exists")
    ap.add_argument("--build-only", action="store_true")
    a = ap.parse_args()
    if a.quick:
        a.customers, a.interactions, a.n = 100_000, 1_000_000, 300
    if a.store:
        s = open_store(a.store)
        ids = [r["customer_id"] for r in s.rows("SELECT customer_id FROM customers ORDER BY customer_id")]
    else:
        Path("bench-out").mkdir(exist_ok=True)
        s = synthetic(Path(f"bench-out/serve-{a.customers}-{a.interactions}.duckdb"), a.customers, a.interactions, a.rebuild)
        ids = [f"c{i}" for i in range(a.customers)]
        if a.build_only:
            s.close()
            return 0
    rng = random.Random(7)
    # A fresh set of people for each thing timed: reading a person warms the engine's buffers
    # for their rows, which would flatter whatever is timed second.
    picks = rng.sample(ids, min(len(ids), 4 * a.n + 20))
    warm, sample, parts, whole, over = (picks[:20], picks[20 : 20 + a.n], picks[20 + a.n : 20 + 2 * a.n],
                                        picks[20 + 2 * a.n : 20 + 3 * a.n], picks[20 + 3 * a.n :])
    ctx = BriefContext(s, Guard(s))
    for cid in warm:  # warm the per-store caches (table existence, labels, plans)
        build_brief(ctx, cid, now=NOW)
        s.person_facts(cid)
    print(f"load average before timing: {loadavg()}", flush=True)
    base, read, derive, rest, brief = [], [], [], [], []
    docs = bool(getattr(s, "_docs", False))
    for cid in sample:
        t = time.perf_counter()
        LiveStore.person_facts(s, cid)  # the live query over every table, without DuckDB's person documents
        base.append(time.perf_counter() - t)
    for cid in parts:
        t = time.perf_counter()
        ids_, facts = s.person_facts(cid, ctx.tables())
        t1 = time.perf_counter()
        guard_facts(ctx, cid, ids_, facts, NOW)
        read.append(t1 - t)
        derive.append(time.perf_counter() - t1)
        replay = BriefContext(Replay(s, (ids_, facts)), ctx.guard)  # type: ignore[arg-type]
        replay._cache = ctx._cache
        t = time.perf_counter()
        build_brief(replay, cid, now=NOW)
        rest.append(time.perf_counter() - t)
    for cid in whole:
        t = time.perf_counter()
        build_brief(ctx, cid, now=NOW)
        brief.append(time.perf_counter() - t)
    app = create_app(s, Settings(secret=SECRET, now=lambda: NOW))
    tok = {"Authorization": "Bearer " + issue_token(SECRET, "agent", team="t1")}

    async def over_http() -> list[float]:
        out = []
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as c:
            for cid in over:
                t = time.perf_counter()
                r = await c.get(f"/customers/{cid}/brief.json", headers=tok)
                out.append(time.perf_counter() - t)
                assert r.status_code == 200, r.text
        return out

    http = asyncio.run(over_http())
    print(f"store: {a.store or 'synthetic'}; customers {s.count('customers'):,}; interactions {s.count('interactions'):,}")
    print(f"load average after timing: {loadavg()}")
    print("| what | calls | p50 ms | p95 ms | p99 ms | max ms |\n|---|---|---|---|---|---|")
    print(f"person documents: {'built (DuckDB fast path)' if docs else 'not built (live query)'}")
    print(line("baseline: the live person query over every table", base))
    print(line("part: person_facts over the brief's tables, ledger status included (the one read)", read))
    print(line("part: guard facts derived from the rows (Python)", derive))
    print(line("part: the brief's Python on rows already read (rules, goodwill, shaping)", rest))
    print(line("build_brief (whole brief, in process)", brief))
    print(line("GET /customers/{id}/brief.json through the app (ASGI, token, redaction, JSON)", http))
    s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
