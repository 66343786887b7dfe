"""Benchmark the customer measures: fair value, runaround, goodwill ledger, silence after failure.

SYNTHETIC data for scale (generated inside DuckDB from fixed hashes; labelled synthetic in
every result), and the SIMULATED validation of silence after failure against plain recency.

    .venv/bin/python benchmarks/bench_measures.py            # 1M customers / 10M interactions on DuckDB,
                                                             # 100k / 1M on PostgreSQL, validation
    .venv/bin/python benchmarks/bench_measures.py --quick    # 50k / 500k, both engines, small validation
    .venv/bin/python benchmarks/bench_measures.py --skip-pg --skip-validation   # DuckDB 1M / 10M only
    .venv/bin/python benchmarks/bench_measures.py --skip-pg --skip-validation --duck-size 100000 1000000
    .venv/bin/python benchmarks/bench_measures.py --skip-duckdb --skip-validation --pg-size 1000000 10000000 --pg-gen sql
        # PostgreSQL at 1M / 10M, the SYNTHETIC book generated inside PostgreSQL (generate_series)

Every step reports wall seconds, CPU seconds of this process (DuckDB's threads included; the
PostgreSQL server's work is in its own processes and shows only as wall time) and the load
average, because the 2 cores are shared and wall time depends on everyone's load.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import duckdb

from goodwill.measure import fair_value as fv
from goodwill.measure import goodwill_ledger as gl
from goodwill.measure import runaround as ra
from goodwill.measure import silence as si
from goodwill.measure.simulate import SimAssumptions, validate_silence
from goodwill.store import Store, open_store
from goodwill.understand.tables import ENRICHMENTS

AS_OF = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
COPY = (
    "['Your bill for this month is ready.','Only 2 left! Hurry, offer ends tonight.',"
    "'We have fixed the fault on your line.','Thanks for getting in touch, we will call you back.',"
    "'No thanks, I prefer paying full price.','Your renewal price is set out below.',"
    "'I am afraid we cannot fix the fault on your line yet.','I am afraid there is no record of that payment.']"
)
N_COPY = 8
# What customers write (a third of inbound contacts carry text); one reports conflicting answers.
SAID = (
    "['My bill is wrong again.','Still no engineer, when will you come?',"
    "'One agent said my refund was approved, another said there is no record of it.',"
    "'Thanks, that fixed it.']"
)


def synth_sql(customers: int, interactions: int) -> dict[str, str]:
    """SQL per table (DuckDB dialect, run only in the generator) for the SYNTHETIC book."""
    n, m = customers, interactions
    return {
        "customers": f"SELECT 'c' || i AS customer_id, 'synthetic' AS source, "
        f"['consumer','small business','premium'][CAST(1 + hash(i * 3) % 3 AS BIGINT)] AS segment, "
        f"CASE WHEN hash(i * 5) % 10 = 0 THEN '65+' ELSE 'under 65' END AS age_band FROM range({n}) t(i)",
        "interactions": f"SELECT 'i' || i AS interaction_id, 'c' || (hash(i * 7 + 1) % {n}) AS customer_id, "
        "TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(CAST(hash(i * 13 + 5) % 31536000 AS BIGINT)) AS occurred_at, "
        "['phone','email','chat','web'][CAST(1 + hash(i * 3) % 4 AS BIGINT)] AS channel, "
        "CASE WHEN hash(i * 17) % 3 = 0 AND hash(i * 29) % 4 = 0 THEN 'marketing' "
        "ELSE ['service','billing','field'][CAST(1 + hash(i * 11) % 3 AS BIGINT)] END AS function, "
        "CASE WHEN hash(i * 17) % 3 = 0 THEN 'outbound' ELSE 'inbound' END AS direction, "
        f"CASE WHEN hash(i * 19) % 2 = 0 THEN 'case' || (hash(i * 7 + 1) % {n}) || '-' || (hash(i * 31) % 3) END AS case_id, "
        f"CASE WHEN hash(i * 17) % 3 = 0 THEN {COPY}[CAST(1 + hash(i * 23) % {N_COPY} AS BIGINT)] "
        f"WHEN hash(i * 37) % 3 = 0 THEN {SAID}[CAST(1 + hash(i * 41) % 4 AS BIGINT)] END AS text, "
        "'synthetic' AS source "
        f"FROM range({m}) t(i)",
        "cases": f"SELECT 'case' || c || '-' || k AS case_id, 'c' || c AS customer_id, 'complaint' AS kind, "
        "TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(CAST(hash(c * 41 + k) % 31536000 AS BIGINT)) AS opened_at, "
        "CASE WHEN hash(c * 43 + k) % 10 = 0 THEN 'open' ELSE 'closed' END AS status, "
        "['Closed with monetary relief','Closed with explanation','Closed without relief'][CAST(1 + hash(c * 47 + k) % 3 AS BIGINT)] AS outcome, "
        "'synthetic' AS source "
        f"FROM range({n // 5}) a(c), range(3) b(k)",
        "consents": f"SELECT 'k' || i AS consent_id, 'c' || i AS customer_id, 'marketing' AS purpose, 'any' AS channel, "
        "CASE WHEN hash(i * 53) % 5 = 0 THEN 'withdrawn' ELSE 'granted' END AS state, "
        "TIMESTAMPTZ '2023-06-01 00:00:00+00' AS recorded_at FROM range("
        f"{n}) t(i)",
        "subscriptions": "SELECT 's' || i AS subscription_id, 'c' || i AS customer_id, 'plan' || (hash(i * 59) % 50) AS plan_id, "
        "['card','direct debit','cheque','cash'][CAST(1 + hash(i * 61) % 4 AS BIGINT)] AS channel, 'synthetic plan' AS product, "
        "'month' AS period, 'active' AS status, "
        "20 + (hash(i * 59) % 50) + (hash(i * 67) % 100) / 100.0 + CASE WHEN hash(i * 71) % 73 > 24 THEN (hash(i * 71) % 73) * 0.05 ELSE 0 END AS price, "
        "'{\"tenure\": \"' || (hash(i * 71) % 73) || '\"}' AS attrs "
        f"FROM range({n}) t(i)",
        "enrichments": f"SELECT 'i' || i AS interaction_id, 'c' || (hash(i * 7 + 1) % {n}) AS customer_id, "
        "(hash(i * 83) % 200) / 100.0 - 1.0 AS sentiment_score, 'synthetic' AS sentiment_model, "
        "TIMESTAMPTZ '2024-06-01 00:00:00+00' AS enriched_at "
        f"FROM range({m}) t(i) WHERE hash(i * 17) % 3 <> 0 AND hash(i * 89) % 3 = 0",
    }


def _h(expr: str) -> str:
    """A non-negative integer hash in PostgreSQL (the SYNTHETIC generator's stand-in for DuckDB's hash)."""
    return f"(hashint8({expr}) & 2147483647)"


def synth_sql_pg(customers: int, interactions: int) -> dict[str, str]:
    """The same SYNTHETIC book as synth_sql, generated inside PostgreSQL by generate_series.

    Same shapes and proportions; the values differ (another hash function), so counts differ
    slightly from DuckDB's."""
    n, m = customers, interactions
    copy, said = COPY.replace("[", "ARRAY["), SAID.replace("[", "ARRAY[")
    ts = "TIMESTAMPTZ '2024-01-01 00:00:00+00' + make_interval(secs => {})"
    return {
        "customers": "INSERT INTO customers (customer_id, source, segment, age_band) "
        f"SELECT 'c' || i, 'synthetic', (ARRAY['consumer','small business','premium'])[1 + {_h('i * 3')} % 3], "
        f"CASE WHEN {_h('i * 5')} % 10 = 0 THEN '65+' ELSE 'under 65' END FROM generate_series(0, {n - 1}) i",
        "interactions": "INSERT INTO interactions (interaction_id, customer_id, occurred_at, channel, function, "
        "direction, case_id, text, source) "
        f"SELECT 'i' || i, 'c' || ({_h('i * 7 + 1')} % {n}), {ts.format(_h('i * 13 + 5') + ' % 31536000')}, "
        f"(ARRAY['phone','email','chat','web'])[1 + {_h('i * 3')} % 4], "
        f"CASE WHEN {_h('i * 17')} % 3 = 0 AND {_h('i * 29')} % 4 = 0 THEN 'marketing' "
        f"ELSE (ARRAY['service','billing','field'])[1 + {_h('i * 11')} % 3] END, "
        f"CASE WHEN {_h('i * 17')} % 3 = 0 THEN 'outbound' ELSE 'inbound' END, "
        f"CASE WHEN {_h('i * 19')} % 2 = 0 THEN 'case' || ({_h('i * 7 + 1')} % {n}) || '-' || ({_h('i * 31')} % 3) END, "
        f"CASE WHEN {_h('i * 17')} % 3 = 0 THEN ({copy})[1 + {_h('i * 23')} % {N_COPY}] "
        f"WHEN {_h('i * 37')} % 3 = 0 THEN ({said})[1 + {_h('i * 41')} % 4] END, 'synthetic' "
        f"FROM generate_series(0, {m - 1}) i",
        "cases": "INSERT INTO cases (case_id, customer_id, kind, opened_at, status, outcome, source) "
        f"SELECT 'case' || c || '-' || k, 'c' || c, 'complaint', {ts.format(_h('c * 41 + k') + ' % 31536000')}, "
        f"CASE WHEN {_h('c * 43 + k')} % 10 = 0 THEN 'open' ELSE 'closed' END, "
        "(ARRAY['Closed with monetary relief','Closed with explanation','Closed without relief'])"
        f"[1 + {_h('c * 47 + k')} % 3], 'synthetic' "
        f"FROM generate_series(0, {n // 5 - 1}) c, generate_series(0, 2) k",
        "consents": "INSERT INTO consents (consent_id, customer_id, purpose, channel, state, recorded_at) "
        f"SELECT 'k' || i, 'c' || i, 'marketing', 'any', CASE WHEN {_h('i * 53')} % 5 = 0 THEN 'withdrawn' "
        f"ELSE 'granted' END, TIMESTAMPTZ '2023-06-01 00:00:00+00' FROM generate_series(0, {n - 1}) i",
        "subscriptions": "INSERT INTO subscriptions (subscription_id, customer_id, plan_id, channel, product, period, "
        "status, price, attrs) "
        f"SELECT 's' || i, 'c' || i, 'plan' || ({_h('i * 59')} % 50), "
        f"(ARRAY['card','direct debit','cheque','cash'])[1 + {_h('i * 61')} % 4], 'synthetic plan', 'month', 'active', "
        f"20 + ({_h('i * 59')} % 50) + ({_h('i * 67')} % 100) / 100.0 + CASE WHEN {_h('i * 71')} % 73 > 24 "
        f"THEN ({_h('i * 71')} % 73) * 0.05 ELSE 0 END, '{{\"tenure\": \"' || ({_h('i * 71')} % 73) || '\"}}' "
        f"FROM generate_series(0, {n - 1}) i",
        "enrichments": "INSERT INTO enrichments (interaction_id, customer_id, sentiment_score, sentiment_model, enriched_at) "
        f"SELECT 'i' || i, 'c' || ({_h('i * 7 + 1')} % {n}), ({_h('i * 83')} % 200) / 100.0 - 1.0, 'synthetic', "
        f"TIMESTAMPTZ '2024-06-01 00:00:00+00' FROM generate_series(0, {m - 1}) i "
        f"WHERE {_h('i * 17')} % 3 <> 0 AND {_h('i * 89')} % 3 = 0",
    }


def load_in_pg(store: Store, customers: int, interactions: int) -> dict[str, Any]:
    """Generate the SYNTHETIC book inside PostgreSQL, into the store's own tables and indexes."""
    store.ensure_table(ENRICHMENTS)
    out: dict[str, Any] = {}
    for table, sql in synth_sql_pg(customers, interactions).items():
        t = time.perf_counter()
        out[table] = store.execute(sql)
        print(f"  pg generated {table}: {out[table]} rows in {time.perf_counter() - t:.1f} s", flush=True)
    store.optimize()
    return out


def load(store: Store, customers: int, interactions: int) -> dict[str, int]:
    """Generate the synthetic tables in DuckDB and append them to the store (COPY on PostgreSQL)."""
    store.ensure_table(ENRICHMENTS)
    con = duckdb.connect()
    counts = {}
    for table, sql in synth_sql(customers, interactions).items():
        added = 0
        reader = con.sql(sql).to_arrow_reader(500_000)
        for batch in reader:
            added += store.append(table, batch, dedupe=False)
        counts[table] = added
    con.close()
    store.optimize()
    return counts


def timed(fn: Any, *args: Any, **kw: Any) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_measures(store: Store) -> dict[str, Any]:
    t: dict[str, float] = {}
    cpu: dict[str, float] = {}
    load: dict[str, float] = {}
    steps: list[tuple[str, Any, tuple[Any, ...], dict[str, Any]]] = [
        ("fair_value", fv.build_fair_value, (store,), {"as_of": AS_OF}),
        ("runaround", ra.build_runaround, (store,), {"as_of": AS_OF}),
        ("runaround: worst 20 cases with paths", ra.worst_cases, (store,), {"limit": 20}),
        ("goodwill_ledger (incl. linting distinct copy)", gl.build_goodwill, (store,), {"as_of": AS_OF}),
        ("silence (scores for every person)", si.silence_scores, (store,), {"as_of": AS_OF}),
        ("balances by segment", gl.balances, (store, "segment"), {}),
        ("one customer's ledger", gl.customer_ledger, (store, "c42"), {}),
        ("one customer's cases with paths", ra.customer_effort, (store, "c42"), {}),
    ]
    parts: dict[str, Any] = {}
    for name, fn, args, kw in steps:
        c = _cpu()
        out, t[name] = timed(fn, *args, **kw)
        if name == "runaround":
            # Conflicting answers (reading texts, pairing) and the cases, timed inside the build.
            parts = {"runaround_seconds": out["seconds"], "conflicts": out["conflicts"], "texts_read": out["texts_read"]}
        cpu[name] = _cpu() - c
        load[name] = os.getloadavg()[0]
        print(f"  {name}: {t[name]:.2f} s wall, {cpu[name]:.2f} s CPU, load {load[name]:.1f}", flush=True)
    t["total"] = sum(t.values())
    cpu["total"] = sum(cpu.values())
    return {"wall_s": t, "cpu_s": cpu, "load_1min_after": load, **parts}


def bench_engine(url: str, customers: int, interactions: int, gen: str = "duckdb") -> dict[str, Any]:
    store = open_store(url)
    try:
        load_before = os.getloadavg()
        counts, load_s = timed(load_in_pg if gen == "sql" else load, store, customers, interactions)
        print(f" loaded in {load_s:.1f} s: {counts}", flush=True)
        times = run_measures(store)
        entries = int(store.scalar("SELECT count(*) FROM goodwill_entries"))
        # Baseline measured in the same run: one plain group-by over all interactions.
        _, base = timed(store.rows, "SELECT customer_id, count(*) AS n FROM interactions GROUP BY customer_id LIMIT 1")
        return {"engine": store.engine, "size": [customers, interactions], "generator": gen, "rows": counts,
                "load_s": load_s, "measures": times, "entries": entries, "baseline_groupby_s": base,
                "loadavg_before": load_before, "loadavg_after": os.getloadavg()}
    finally:
        if store.engine == "postgres":
            store.drop_schema()  # type: ignore[attr-defined]
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--pg", default="postgresql://127.0.0.1:5432/test")
    ap.add_argument("--skip-pg", action="store_true")
    ap.add_argument("--skip-duckdb", action="store_true")
    ap.add_argument("--skip-validation", action="store_true")
    ap.add_argument("--pg-size", nargs=2, type=int, metavar=("CUSTOMERS", "INTERACTIONS"), default=None)
    ap.add_argument("--duck-size", nargs=2, type=int, metavar=("CUSTOMERS", "INTERACTIONS"), default=None)
    ap.add_argument("--pg-gen", choices=("duckdb", "sql"), default="duckdb",
                    help="duckdb: generate in DuckDB and COPY in; sql: generate inside PostgreSQL")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    duck_n, duck_m = args.duck_size or ((50_000, 500_000) if args.quick else (1_000_000, 10_000_000))
    pg_n, pg_m = args.pg_size or ((50_000, 500_000) if args.quick else (100_000, 1_000_000))
    results: dict[str, Any] = {"label": "synthetic", "date": dt.date.today().isoformat()}
    if not args.skip_duckdb:
        with tempfile.TemporaryDirectory() as tmp:
            results["duckdb"] = bench_engine(str(Path(tmp) / "b.duckdb"), duck_n, duck_m)
            print(json.dumps(results["duckdb"], indent=1), flush=True)
    if not args.skip_pg:
        url = f"{args.pg}?schema=gw_bench_{uuid.uuid4().hex[:8]}"
        results["postgres"] = bench_engine(url, pg_n, pg_m, args.pg_gen)
        print(json.dumps(results["postgres"], indent=1), flush=True)
    if args.skip_validation:
        if args.out:
            args.out.write_text(json.dumps(results, indent=1, default=str))
        return
    sim = SimAssumptions(customers=5_000 if args.quick else 20_000)
    val, val_s = timed(validate_silence, open_store(":memory:"), sim, resamples=100 if args.quick else 500)
    val["seconds"] = val_s
    results["silence_validation"] = val
    results["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    text = json.dumps(results, indent=1, default=str)
    if args.out:
        args.out.write_text(text)
    print(json.dumps(val["metrics"], indent=1))
    print("peak RSS MiB", results["peak_rss_mib"], file=sys.stderr)


if __name__ == "__main__":
    main()
