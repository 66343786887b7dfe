"""Append per batch as a DuckDB store grows: de-duplication against the batch's key range, and
against every stored row as before (issue 12), on the same SYNTHETIC batches in the same run.

    .venv/bin/python benchmarks/bench_append.py --size 10000000

The interactions of the measures' benchmark generator (SYNTHETIC, ids 'i0', 'i1', ... in the
order they are generated), in batches of 65,536 rows, appended to three fresh stores in turn,
batch by batch, so that all meet the same load on the shared machine:

- "range": ``store.append`` as it is (the stored side cut to the batch's key range);
- "whole table": the statement ``DuckDBStore._append`` ran before, an anti join of the batch
  against every stored key, run here on the store's connection as the baseline;
- "nothing (insert only)": ``store.append(..., dedupe=False)``, the cost of writing the rows
  with no de-duplication at all, the floor under both.

Per batch: wall seconds and CPU seconds of this process. The table (median per tenth of the
batches, and totals) goes between its markers in benchmarks/results/scale.md, and the figures
into benchmarks/results/append.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_measures import synth_sql
from bench_scale import write_marked
from goodwill.model import TABLES
from goodwill.store import open_store
from goodwill.store.base import conform
from goodwill.store.duck import DuckDBStore

RESULTS = Path(__file__).resolve().parent / "results"
JSON = RESULTS / "append.json"
MD = RESULTS / "scale.md"
BEGIN, END = "<!-- append tables: written by bench_append.py -->", "<!-- end of append tables -->"
BATCH = 65_536
INTERACTIONS = TABLES["interactions"]


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def whole_table_append(store: DuckDBStore, data: pa.Table) -> int:
    """The former de-duplicating append: the batch anti-joined with every stored key."""
    t = INTERACTIONS
    cols = ", ".join(t.column_names)
    pk = ", ".join(t.primary_key)
    data = conform(t, data)
    store.con.register("_gw_batch", data)
    try:
        source = "_gw_batch"
        if store._repeats(t.primary_key)[0]:
            source = f"(SELECT * FROM _gw_batch QUALIFY row_number() OVER (PARTITION BY {pk}) = 1)"
        sql = f"INSERT INTO {t.name} ({cols}) SELECT {cols} FROM {source} b ANTI JOIN {t.name} t USING ({pk})"
        rows = store.con.execute(sql).fetchall()
        return int(rows[0][0]) if rows else 0
    finally:
        store.con.unregister("_gw_batch")


def bench(size: int, workdir: Path) -> dict[str, Any]:
    stores = {
        "range": open_store(workdir / "range.duckdb"),
        "whole table": open_store(workdir / "whole.duckdb"),
        "nothing (insert only)": open_store(workdir / "plain.duckdb"),
    }
    appenders: dict[str, Callable[[pa.Table], int]] = {
        "range": lambda b: stores["range"].append("interactions", b),
        "whole table": lambda b: whole_table_append(stores["whole table"], b),  # type: ignore[arg-type]
        "nothing (insert only)": lambda b: stores["nothing (insert only)"].append("interactions", b, dedupe=False),
    }
    times: dict[str, list[tuple[float, float]]] = {m: [] for m in stores}
    added = dict.fromkeys(stores, 0)
    loads = [os.getloadavg()[0]]
    gen = duckdb.connect()
    sql = synth_sql(max(1, size // 10), size)["interactions"]
    try:
        for i, batch in enumerate(gen.sql(sql).to_arrow_reader(BATCH)):
            data = pa.Table.from_batches([batch])
            # Rotate which goes first, so none always runs on a warmer cache.
            order = list(stores)[i % len(stores) :] + list(stores)[: i % len(stores)]
            for mode in order:
                c0, t0 = _cpu(), time.perf_counter()
                added[mode] += appenders[mode](data)
                times[mode].append((time.perf_counter() - t0, _cpu() - c0))
            if i % 20 == 0:
                loads.append(os.getloadavg()[0])
                print(f"  batch {i}: " + ", ".join(f"{m} {1000 * times[m][-1][0]:.0f} ms" for m in stores), flush=True)
        # A second pass of the last batch: every key is stored, nothing may be added.
        for mode in ("range", "whole table"):
            again = appenders[mode](data)
            assert again == 0, f"{mode}: {again} rows added twice"
    finally:
        gen.close()
        for s in stores.values():
            s.close()
    loads.append(os.getloadavg()[0])
    out: dict[str, Any] = {
        "label": "SYNTHETIC",
        "interactions": size,
        "batch_rows": BATCH,
        "date": dt.date.today().isoformat(),
        "duckdb": duckdb.__version__,
        "load_1min": [min(loads), max(loads)],
        "modes": {},
    }
    for mode, ts in times.items():
        n = len(ts)
        cuts = [round(i * n / 10) for i in range(11)]
        out["modes"][mode] = {
            "batches": n,
            "rows_added": added[mode],
            "wall_s": sum(w for w, _ in ts),
            "cpu_s": sum(c for _, c in ts),
            "wall_ms_by_tenth": [1000 * statistics.median(w for w, _ in ts[a:b]) for a, b in itertools.pairwise(cuts)],
            "cpu_ms_by_tenth": [1000 * statistics.median(c for _, c in ts[a:b]) for a, b in itertools.pairwise(cuts)],
        }
    return out


def render(results: dict[str, Any]) -> str:
    lines = [
        "Appends alone, the new de-duplication against the former one in the same run "
        "(`.venv/bin/python benchmarks/bench_append.py --size N`; SYNTHETIC interactions in batches "
        "of 65,536 appended to three fresh DuckDB stores in turn; \"nothing\" is the insert with no "
        "de-duplication, the floor under both). Median milliseconds of wall time "
        "per batch in each tenth of the appends, first to last; totals in seconds, wall (CPU).",
        "",
        "| rows, date, load (1 min) | de-duplicated against | " + " | ".join(str(i) for i in range(1, 11))
        + " | last / first tenth | total s |",
        "|---|---|" + "---|" * 12,
    ]
    for size in sorted(results, key=int):
        r = results[size]
        for mode, m in r["modes"].items():
            ms = m["wall_ms_by_tenth"]
            lines.append(
                f"| {int(size):,}, {r['date']}, {r['load_1min'][0]:.1f}–{r['load_1min'][1]:.1f} | {mode} | "
                + " | ".join(f"{v:,.0f}" for v in ms)
                + f" | ×{ms[-1] / ms[0]:.1f} | {m['wall_s']:,.1f} ({m['cpu_s']:,.1f}) |"
            )
    return "\n".join(lines)


def write_md(results: dict[str, Any]) -> None:
    write_marked(MD, BEGIN, END, render(results))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, action="append", default=[], help="interactions (repeatable)")
    ap.add_argument("--workdir", type=Path, default=None, help="where the three stores go")
    args = ap.parse_args()
    results: dict[str, Any] = json.loads(JSON.read_text()) if JSON.exists() else {}
    for size in args.size:
        if size < 10 * BATCH:
            raise SystemExit(f"--size {size}: at least {10 * BATCH:,} rows, ten batches, for the tenths")
        print(f"SYNTHETIC {size:,} interactions, load {os.getloadavg()[0]:.1f}", flush=True)
        work = Path(tempfile.mkdtemp(prefix="gw-append-", dir=args.workdir))
        try:
            results[str(size)] = bench(size, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        JSON.write_text(json.dumps(results, indent=1) + "\n")
    if results:
        write_md(results)


if __name__ == "__main__":
    main()
