"""Peak memory of `goodwill enrich` and `goodwill reasons` as the store grows (issue 5: bounded
memory at 1,000,000 texts).

    .venv/bin/python benchmarks/understand_scale.py --counts 100000 1000000 --embedder static

Each count runs in its own process, so each peak RSS is that run's alone. The interactions are
REAL texts (airline and TWCS tweets, CFPB narratives cut to their first 600 characters) repeated
to the count under SYNTHETIC ids, customers (five texts each) and dates (spread over 26 weeks):
the texts are real, their arrangement is not. The store is DuckDB in a temporary folder.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_understand import cpu_s, long_texts, rss_mb, short_texts  # noqa: E402
from goodwill.model.schema import INTERACTIONS  # noqa: E402
from goodwill.store import open_store  # noqa: E402
from goodwill.understand.service import enrich_store, make_embedder, make_sentiment, reason_report  # noqa: E402

CHUNK = 100_000


def real_texts() -> list[str]:
    return short_texts() + [t[:600] for t in long_texts() if t]


def fill(store_url: str, n: int) -> None:
    """Appends n interactions in chunks, so building the input never holds all of it."""
    texts = real_texts()
    day0 = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
    rng = np.random.default_rng(3)
    store = open_store(store_url)
    try:
        store.ensure_table(INTERACTIONS)
        for lo in range(0, n, CHUNK):
            idx = np.arange(lo, min(n, lo + CHUNK))
            minutes = rng.integers(0, 26 * 7 * 24 * 60, len(idx))
            store.append(INTERACTIONS, pa.table({
                "interaction_id": pa.array([f"i{i}" for i in idx]),
                "customer_id": pa.array([f"c{i // 5}" for i in idx]),
                "occurred_at": pa.array([day0 + dt.timedelta(minutes=int(m)) for m in minutes],
                                        pa.timestamp("us", tz="UTC")),
                "direction": pa.array(["inbound"] * len(idx)),
                "text": pa.array([texts[i % len(texts)] for i in idx]),
            }), dedupe=False)
    finally:
        store.close()


def one(store_url: str, n: int, embedder: str, sentiment: str) -> None:
    """Runs in a fresh process after the store is filled; prints one table row."""
    store = open_store(store_url)
    try:
        t0, c0 = time.perf_counter(), cpu_s()
        rep = enrich_store(store, embedder=make_embedder(embedder), sentiment=make_sentiment(sentiment, embedder))
        t1, c1 = time.perf_counter(), cpu_s()
        rss_enrich = rss_mb()
        # DuckDB's buffer pool keeps pages it wrote or read, up to its memory limit, and gives
        # them up under pressure: a cache, not goodwill's working set.
        duck_mb = float(store.scalar("SELECT sum(memory_usage_bytes) FROM duckdb_memory()") or 0) / 2**20
        report = reason_report(store)
        t2, c2 = time.perf_counter(), cpu_s()
    finally:
        store.close()
    assert rep.enriched == n, (rep.enriched, n)
    print(f"| {n:,} | {report['embedder']} | {t1 - t0:.0f} | {c1 - c0:.0f} | "
          f"{n / (t1 - t0):,.0f} | {rss_enrich:,.0f} | {duck_mb:,.0f} | {t2 - t1:.1f} | {c2 - c1:.1f} | {rss_mb():,.0f} | "
          f"{rep.unassigned / n:.1%} | {len(report['reasons'])} | {os.getloadavg()[0]:.1f} |", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counts", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--embedder", default="static", help="make_embedder name: static, minilm or hashing")
    ap.add_argument("--sentiment", default="head", help="make_sentiment name: head, vader or lexicon")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        one(args.one, args.counts[0], args.embedder, args.sentiment)
        return 0
    print(f"Command: `.venv/bin/python benchmarks/understand_scale.py {' '.join(sys.argv[1:])}`; "
          f"load average at the start {' / '.join(f'{x:.1f}' for x in os.getloadavg())}; "
          f"date {time.strftime('%Y-%m-%d %H:%M')}.")
    print()
    print("| texts | embedder | enrich wall (s) | enrich CPU (s) | texts/s | peak RSS after enrich (MB) | of it, DuckDB buffer pool (MB) | "
          "reasons report wall (s) | CPU (s) | peak RSS (MB) | unassigned | reasons | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n in args.counts:
        with tempfile.TemporaryDirectory(prefix="gw-understand-scale-") as tmp:
            url = str(Path(tmp) / "store.duckdb")
            fill(url, n)
            res = subprocess.run([sys.executable, __file__, "--one", url, "--counts", str(n),
                                  "--embedder", args.embedder, "--sentiment", args.sentiment], capture_output=True, text=True)
            if res.returncode:
                print(res.stderr, file=sys.stderr)
                return res.returncode
            print(res.stdout.strip().splitlines()[-1], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
