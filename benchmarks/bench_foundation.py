"""Foundation benchmarks (issue 3): ingest speed, timeline latency, CSV memory.

All data here is SYNTHETIC (benchmarks/synth.py), generated from a fixed seed.

    .venv/bin/python benchmarks/bench_foundation.py ingest   [--rows N] [--engines duckdb,postgres]
    .venv/bin/python benchmarks/bench_foundation.py timeline [--rows N] [--customers N] [--engines ...]
    .venv/bin/python benchmarks/bench_foundation.py csv-memory [--gb 1.0]

Each prints a Markdown block to paste into benchmarks/results/foundation.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from goodwill.ingest import ingest_file, parse_mapping
from goodwill.store import Store, open_store
from goodwill.store.timeline import timeline
from synth import MAPPING, write_interactions

PG = os.environ.get("GOODWILL_BENCH_PG", "postgresql://127.0.0.1:5432/test")
UTC = dt.UTC


def machine() -> str:
    load = os.getloadavg()
    return (
        f"{platform.node()} · {os.cpu_count()} vCPU · Python {platform.python_version()} · "
        f"load average {load[0]:.1f} at start · {dt.date.today()}"
    )


def fresh(engine: str, tmp: Path) -> Store:
    if engine == "duckdb":
        return open_store(tmp / f"bench-{uuid.uuid4().hex[:6]}.duckdb")
    return open_store(f"{PG}?schema=gw_bench_{uuid.uuid4().hex[:8]}")


def drop(store: Store) -> None:
    if store.engine == "postgres":
        store.drop_schema()  # type: ignore[attr-defined]
    store.close()


def per_row_baseline(store: Store, path: Path, batch: int = 65_536) -> int:
    """The same mapping as a plain per-row Python loop, appended with the same bulk path."""
    written = 0
    pf = pq.ParquetFile(path)
    for rb in pf.iter_batches(batch_size=batch):
        rows = []
        for r in rb.to_pylist():
            ts = r["ts"]
            rows.append(
                {
                    "interaction_id": str(r["id"]).strip(),
                    "customer_id": str(r["cust"]).strip() or None,
                    "occurred_at": ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC),
                    "channel": r["channel"],
                    "function": r["function"],
                    "direction": r["direction"],
                    "agent": r["agent"],
                    "text": r["text"],
                    "source": "synthetic",
                }
            )
        written += store.append("interactions", pa.Table.from_pylist(rows))
    return written


def bench_ingest(rows: int, engines: list[str]) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="gw-bench-"))
    src = write_interactions(tmp / "interactions.parquet", rows, max(1, rows // 10))
    mapping = parse_mapping(MAPPING)
    print(f"### Ingest {rows:,} synthetic interactions from Parquet\n\n{machine()}\n")
    print("| engine | path | seconds | interactions/s | vs per-row loop |")
    print("|---|---|---|---|---|")
    for engine in engines:
        results = {}
        for label in ("per-row Python loop (baseline)", "goodwill ingest, redaction off", "goodwill ingest, redaction on"):
            s = fresh(engine, tmp)
            try:
                t0 = time.perf_counter()
                if label.startswith("per-row"):
                    n = per_row_baseline(s, src)
                else:
                    n = ingest_file(s, src, mapping, redact=label.endswith("on"), batch_size=262_144).rows_written["interactions"]
                secs = time.perf_counter() - t0
                assert n == rows, (n, rows)
                results[label] = secs
            finally:
                drop(s)
        base = results["per-row Python loop (baseline)"]
        for label, secs in results.items():
            print(f"| {engine} | {label} | {secs:.2f} | {rows / secs:,.0f} | {base / secs:.1f}× |")
    print(f"\nload average at end {os.getloadavg()[0]:.1f}\n")


def build_scale(store: Store, rows: int, customers: int) -> None:
    if store.engine == "duckdb":
        gen_i = f"range({rows}) t(i)"
        gen_c = f"range({customers}) t(i)"
        h = "hash"
        ts = "TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds((hash(i * 13) % 31536000)::BIGINT)"
    else:
        gen_i = f"generate_series(0, {rows - 1}) t(i)"
        gen_c = f"generate_series(0, {customers - 1}) t(i)"
        h = "hashint8"
        ts = "TIMESTAMPTZ '2024-01-01 00:00:00+00' + make_interval(secs => abs(hashint8(i * 13) % 31536000))"
    store.execute(
        "INSERT INTO interactions (interaction_id, customer_id, occurred_at, channel, function, direction, text, source) "
        f"SELECT 'i' || i, 'c' || abs({h}(i * 7 + 1) % {customers}), {ts}, 'email', 'service', 'inbound', "
        f"'synthetic message ' || i, 'synthetic' FROM {gen_i}"
    )
    store.execute(f"INSERT INTO customers (customer_id, source) SELECT 'c' || i, 'synthetic' FROM {gen_c}")
    store.execute(
        "INSERT INTO cases (case_id, customer_id, kind, status, source) "
        f"SELECT 'k' || i, 'c' || abs({h}(i * 3 + 2) % {customers}), 'complaint', 'open', 'synthetic' FROM {gen_c}"
    )


def latencies(store: Store, customers: int, n: int = 500) -> list[float]:
    rnd = random.Random(7)
    out = []
    for _ in range(n):
        cid = f"c{rnd.randrange(customers)}"
        t0 = time.perf_counter()
        timeline(store, cid)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def bench_timeline(rows: int, customers: int, engines: list[str]) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="gw-bench-"))
    print(f"### Timeline of one customer: {rows:,} synthetic interactions, {customers:,} customers\n\n{machine()}\n")
    print("| engine | layout | build s | p50 ms | p95 ms | p99 ms |")
    print("|---|---|---|---|---|---|")
    for engine in engines:
        s = fresh(engine, tmp)
        try:
            t0 = time.perf_counter()
            build_scale(s, rows, customers)
            build = time.perf_counter() - t0
            if engine == "duckdb":
                lat = latencies(s, customers, 200)
                p = np.percentile(lat, [50, 95, 99])
                print(f"| duckdb | as appended (baseline) | {build:.1f} | {p[0]:.2f} | {p[1]:.2f} | {p[2]:.2f} |")
            t1 = time.perf_counter()
            s.optimize()
            opt = time.perf_counter() - t1
            if engine == "duckdb":
                # The same sorted store read by the live person query, without the documents.
                s._docs = False  # type: ignore[attr-defined]
                lat = latencies(s, customers)
                p = np.percentile(lat, [50, 95, 99])
                print(f"| duckdb | sorted by customer, live query over every table | {build + opt:.1f} | {p[0]:.2f} | {p[1]:.2f} | {p[2]:.2f} |")
                s._docs = True  # type: ignore[attr-defined]
            lat = latencies(s, customers)
            p = np.percentile(lat, [50, 95, 99])
            layout = "sorted, person documents (optimize)" if engine == "duckdb" else "b-tree index on customer_id"
            print(f"| {engine} | {layout} | {build + opt:.1f} | {p[0]:.2f} | {p[1]:.2f} | {p[2]:.2f} |")
        finally:
            drop(s)
    print(f"\nload average at end {os.getloadavg()[0]:.1f}\n")


def bench_csv_memory(gb: float) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="gw-bench-"))
    # ~118 bytes a row in this synthetic CSV
    rows = int(gb * 1e9 / 118)
    src = write_interactions(tmp / "big.csv", rows, max(1, rows // 10), fmt="csv")
    size = src.stat().st_size
    code = (
        "import sys, time, resource\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})\n"
        "from synth import MAPPING\n"
        "from goodwill.ingest import ingest_file, parse_mapping\n"
        "from goodwill.store import open_store\n"
        f"s = open_store({str(tmp / 'csv.duckdb')!r})\n"
        "t = time.perf_counter()\n"
        f"r = ingest_file(s, {str(src)!r}, parse_mapping(MAPPING))\n"
        "print(r.rows_read, r.rows_written.get('interactions', 0), round(time.perf_counter() - t, 1), "
        "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    read, written, secs, rss_kb = out.stdout.split()
    print(f"### Peak memory ingesting a {size / 1e9:.2f} GB CSV ({int(read):,} synthetic rows)\n\n{machine()}\n")
    print("| file size | rows written | seconds | rows/s | peak RSS | RSS / file size |")
    print("|---|---|---|---|---|---|")
    rss = int(rss_kb) * 1024
    print(f"| {size / 1e9:.2f} GB | {int(written):,} | {secs} | {int(read) / float(secs):,.0f} | {rss / 2**20:,.0f} MiB | {rss / size:.2f} |")
    print("\nRedaction on (the default). The store file is DuckDB on local disk.\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["ingest", "timeline", "csv-memory"])
    ap.add_argument("--rows", type=int, default=None)
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--engines", default="duckdb,postgres")
    ap.add_argument("--gb", type=float, default=1.0)
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    a = ap.parse_args()
    engines = a.engines.split(",")
    if a.what == "ingest":
        bench_ingest(a.rows or (100_000 if a.quick else 1_000_000), engines)
    elif a.what == "timeline":
        bench_timeline(a.rows or (200_000 if a.quick else 10_000_000), 20_000 if a.quick else a.customers, engines)
    else:
        bench_csv_memory(0.05 if a.quick else a.gb)



if __name__ == "__main__":
    main()
