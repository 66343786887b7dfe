"""Brief latency at scale (SYNTHETIC data), against a bare person_facts read as the baseline.

    .venv/bin/python benchmarks/bench_serve.py            # 1,000,000 customers / 10,000,000 interactions
    .venv/bin/python benchmarks/bench_serve.py --quick    # 100,000 / 1,000,000

Builds a DuckDB goodwill store in bench-out/ with synthetic customers, interactions, cases and
promises (generated inside DuckDB from row numbers; every row is labelled source='synthetic'),
sorts it for point reads (Store.optimize), then times N briefs of random customers: in process
(build_brief) and through the app (httpx.ASGITransport, token check, redaction, JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import statistics
import sys
import time
from pathlib import Path

import httpx

from goodwill.guard import Guard
from goodwill.serve import Settings, create_app, issue_token
from goodwill.serve.brief import BriefContext, build_brief
from goodwill.store import Store, open_store

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
SECRET = b"bench-serve-secret-of-32-bytes!!"


def build(path: Path, customers: int, interactions: int) -> Store:
    if path.exists():
        path.unlink()
    s = open_store(path)
    t = time.perf_counter()
    s.execute(
        "INSERT INTO customers (customer_id, source, first_seen_at, segment, vulnerable) "
        "SELECT 'c' || i, 'synthetic', TIMESTAMPTZ '2020-01-01' + to_days((hash(i) % 1500)::BIGINT), "
        f"['a','b','c'][(1 + hash(i * 5) % 3)::BIGINT], hash(i * 17) % 50 = 0 FROM range({customers}) r(i)"
    )
    s.execute(
        "INSERT INTO interactions (interaction_id, customer_id, occurred_at, channel, function, direction, team, text, source) "
        f"SELECT 'syn:' || i, 'c' || (hash(i * 7 + 1) % {customers}), "
        "TIMESTAMPTZ '2024-01-01' + to_seconds((hash(i * 13 + 5) % 31536000)::BIGINT), "
        "['phone','email','chat','web'][(1 + hash(i * 3) % 4)::BIGINT], "
        "['service','field','sales','billing'][(1 + hash(i * 11) % 4)::BIGINT], "
        "CASE WHEN hash(i * 19) % 2 = 0 THEN 'inbound' ELSE 'outbound' END, "
        "['t1','t2','t3','t4'][(1 + hash(i * 23) % 4)::BIGINT], "
        "['my bill is wrong again','the engineer did not turn up','I was promised a refund','please call me back',"
        "'thanks for sorting it out','why did my price go up'][(1 + hash(i * 29) % 6)::BIGINT], 'synthetic' "
        f"FROM range({interactions}) r(i)"
    )
    s.execute(
        "INSERT INTO cases (case_id, customer_id, kind, opened_at, status, issue, source) "
        f"SELECT 'k' || i, 'c' || (hash(i * 31) % {customers}), 'complaint', "
        "TIMESTAMPTZ '2025-01-01' + to_days((hash(i * 37) % 600)::BIGINT), "
        "CASE WHEN hash(i * 41) % 4 = 0 THEN 'open' ELSE 'closed' END, 'billing', 'synthetic' "
        f"FROM range({customers // 2}) r(i)"
    )
    s.execute(
        "INSERT INTO promises (promise_id, customer_id, action, description, made_at, due_at, team, kind, source) "
        f"SELECT 'p' || i, 'c' || (hash(i * 43) % {customers}), 'call_back', 'call back', "
        "TIMESTAMPTZ '2025-01-01' + to_days((hash(i * 47) % 600)::BIGINT), "
        "TIMESTAMPTZ '2025-01-03' + to_days((hash(i * 47) % 600)::BIGINT), 't1', 'structured', 'synthetic' "
        f"FROM range({customers}) r(i)"
    )
    s.optimize()
    print(f"built {customers:,} customers / {interactions:,} interactions in {time.perf_counter() - t:.1f} s", flush=True)
    return s


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
    a = ap.parse_args()
    if a.quick:
        a.customers, a.interactions, a.n = 100_000, 1_000_000, 300
    if a.store:
        s = open_store(a.store)
        ids = [r["customer_id"] for r in s.rows("SELECT customer_id FROM customers ORDER BY customer_id")]
    else:
        Path("bench-out").mkdir(exist_ok=True)
        s = build(Path("bench-out/serve.duckdb"), a.customers, a.interactions)
        ids = [f"c{i}" for i in range(a.customers)]
    rng = random.Random(7)
    sample = [rng.choice(ids) for _ in range(a.n)]
    ctx = BriefContext(s, Guard(s))
    for cid in sample[:20]:  # warm caches (reason labels, DuckDB buffers)
        build_brief(ctx, cid, now=NOW)
        s.person_facts(cid)
    base, brief = [], []
    for cid in sample:
        t = time.perf_counter()
        s.person_facts(cid)
        base.append(time.perf_counter() - t)
        t = time.perf_counter()
        build_brief(ctx, cid, now=NOW)
        brief.append(time.perf_counter() - t)
    app = create_app(s, Settings(secret=SECRET, now=lambda: NOW))
    tok = {"Authorization": "Bearer " + issue_token(SECRET, "agent", team="t1")}

    async def over_http() -> list[float]:
        out = []
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as c:
            for cid in sample:
                t = time.perf_counter()
                r = await c.get(f"/customers/{cid}/brief.json", headers=tok)
                out.append(time.perf_counter() - t)
                assert r.status_code == 200, r.text
        return out

    http = asyncio.run(over_http())
    print(f"store: {a.store or 'synthetic'}; customers {s.count('customers'):,}; interactions {s.count('interactions'):,}")
    print("| what | calls | p50 ms | p95 ms | p99 ms | max ms |\n|---|---|---|---|---|---|")
    print(line("baseline: Store.person_facts alone", base))
    print(line("build_brief (person_facts + ledger status + guard facts + rules)", brief))
    print(line("GET /customers/{id}/brief.json through the app (ASGI, token, redaction, JSON)", http))
    s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
