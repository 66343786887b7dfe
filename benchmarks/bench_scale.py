"""Scale: SYNTHETIC interactions through ingest and every measure on DuckDB, at 1M, 10M, 100M.

    .venv/bin/python benchmarks/bench_scale.py --size 1000000            # one size (develop here)
    .venv/bin/python benchmarks/bench_scale.py --size 10000000
    .venv/bin/python benchmarks/bench_scale.py --render                  # scale.md from scale.json

Each run adds its size to benchmarks/results/scale.json and rewrites the tables in
benchmarks/results/scale.md (between the marker lines; the text around them is written by hand).

The book is SYNTHETIC (benchmarks/synth.py writes the interactions as Parquet; the measures'
benchmark generator gives cases, consents, subscriptions and enrichments for the same customers,
one customer per ten interactions). Stages: goodwill ingest of the Parquet file (the real path:
mapping, redaction, de-duplication), the supporting facts appended, the sort for point reads,
then every measure: the promise ledger (derived and heard promises, reconciliation), fair value,
runaround (with conflicting answers), the goodwill ledger (with the lint of distinct copy),
silence scores, contact-reason trends (reasons fitted on a bounded sample), and the read-side
summaries. Per stage: wall seconds, CPU seconds of this process (DuckDB's threads included),
the peak resident memory during the stage (sampled every 50 ms) and the load average.
Baselines in the same run: DuckDB loading the same Parquet file with a bare CREATE TABLE AS,
and one group-by over all interactions. During the ingest each append of a batch of interactions
is timed, so the tables show whether a batch late in the ingest costs what an early one did.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import math
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_measures import synth_sql
from goodwill.ingest import ingest_file
from goodwill.ingest.mapping import parse_mapping
from goodwill.measure import fair_value as fv
from goodwill.measure import goodwill_ledger as gl
from goodwill.measure import promises as pr
from goodwill.measure import runaround as ra
from goodwill.measure import silence as si
from goodwill.store import Store, open_store
from goodwill.understand.embed import HashingEmbedder
from goodwill.understand.service import fit_reasons_in_store, reason_report
from goodwill.understand.tables import ENRICHMENTS
from synth import MAPPING

RESULTS = Path(__file__).resolve().parent / "results"
JSON = RESULTS / "scale.json"
MD = RESULTS / "scale.md"
BEGIN, END = "<!-- scale tables: written by bench_scale.py -->", "<!-- end of scale tables -->"
AS_OF = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
REASONS = 8

# synth.py's mapping, with the case id the measures' generator gives each contact.
SCALE_MAPPING: dict[str, Any] = json.loads(json.dumps(MAPPING))
SCALE_MAPPING["records"][0]["fields"]["case_id"] = {"column": "case_id"}


class PeakRSS:
    """The highest resident memory of this process while a stage runs (sampled)."""

    def __init__(self, every: float = 0.05) -> None:
        self.every = every
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def now() -> int:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.now())
            self._stop.wait(self.every)

    def __enter__(self) -> PeakRSS:
        self.peak = self.now()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.now())


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class Stages:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    @contextmanager
    def stage(self, name: str) -> Iterator[dict[str, Any]]:
        row: dict[str, Any] = {"stage": name}
        cpu0, t0 = _cpu(), time.perf_counter()
        with PeakRSS() as mem:
            yield row
        row.update(
            wall_s=time.perf_counter() - t0,
            cpu_s=_cpu() - cpu0,
            peak_rss_mib=mem.peak / 2**20,
            load_1min=os.getloadavg()[0],
        )
        self.rows.append(row)
        print(f"  {name}: {row['wall_s']:.1f} s wall, {row['cpu_s']:.1f} s CPU, "
              f"peak {row['peak_rss_mib']:.0f} MiB, load {row['load_1min']:.1f}", flush=True)

    def run(self, name: str, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        with self.stage(name):
            return fn(*args, **kw)


class AppendTimes:
    """Wall time of each append to one table while the block runs (the store's own _append,
    de-duplication included): flat from first batch to last when appends do not grow with the store."""

    def __init__(self, store: Store, table: str) -> None:
        self.store, self.table = store, table
        self.times: list[float] = []

    def __enter__(self) -> AppendTimes:
        inner = self.store._append

        def timed(table: Any, data: Any, *, dedupe: bool) -> int:
            t0 = time.perf_counter()
            try:
                return inner(table, data, dedupe=dedupe)
            finally:
                if table.name == self.table:
                    self.times.append(time.perf_counter() - t0)

        setattr(self.store, "_append", timed)  # noqa: B010 - an instance attribute shadows the method
        return self

    def __exit__(self, *exc: object) -> None:
        delattr(self.store, "_append")

    def by_tenth(self) -> list[float]:
        """Median milliseconds per batch in each tenth of the appends, first to last."""
        n = len(self.times)
        if n < 10:
            return []
        cuts = [round(i * n / 10) for i in range(11)]
        return [1000 * statistics.median(self.times[a:b]) for a, b in itertools.pairwise(cuts)]


def write_parquet(folder: Path, customers: int, interactions: int) -> Path:
    """The SYNTHETIC interactions as one Parquet file (what a company's export would be)."""
    path = folder / "interactions.parquet"
    con = duckdb.connect()
    # Named as synth.py names them, so its mapping reads the file.
    sql = (
        "SELECT interaction_id AS id, customer_id AS cust, occurred_at AS ts, channel, function, direction, "
        "'agent' || (hash(interaction_id) % 500) AS agent, text, case_id "
        f"FROM ({synth_sql(customers, interactions)['interactions']})"
    )
    con.execute(f"COPY ({sql}) TO '{path}' (FORMAT parquet)")
    con.close()
    return path


def supporting_facts(store: Store, customers: int, interactions: int) -> dict[str, int]:
    """Customers, cases, consents, subscriptions and enrichments for the same SYNTHETIC book."""
    store.ensure_table(ENRICHMENTS)
    con = duckdb.connect()
    out = {}
    for table, sql in synth_sql(customers, interactions).items():
        if table == "interactions":
            continue
        if table == "enrichments":
            # Contact reasons for the trends: one of the fitted model's ids per text.
            sql = sql.replace(
                " AS sentiment_model,",
                f" AS sentiment_model, CAST(1 + hash(i * 97) % {REASONS} AS BIGINT) AS reason_id, "
                "TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(CAST(hash(i * 13 + 5) % 31536000 AS BIGINT)) AS occurred_at,",
            )
        n = 0
        for batch in con.sql(sql).to_arrow_reader(500_000):
            n += store.append(table, batch, dedupe=False)
        out[table] = n
    con.close()
    return out


def bench(size: int, workdir: Path, *, optimize: bool = True, max_temp: str | None = None) -> dict[str, Any]:
    customers = max(1, size // 10)
    st = Stages()
    with st.stage("generate SYNTHETIC Parquet (not goodwill)") as row:
        parquet = write_parquet(workdir, customers, size)
        row["bytes"] = parquet.stat().st_size
    # Baseline in the same run: DuckDB reading the same file into a table, nothing else.
    with st.stage("baseline: DuckDB CREATE TABLE AS read_parquet") as row:
        con = duckdb.connect(str(workdir / "baseline.duckdb"))
        con.execute(f"CREATE TABLE t AS SELECT * FROM read_parquet('{parquet}')")
        row["rows"] = con.execute("SELECT count(*) FROM t").fetchone()[0]  # type: ignore[index]
        con.close()
    (workdir / "baseline.duckdb").unlink()
    store = open_store(workdir / "store.duckdb")
    if max_temp:
        # A spill that would fill a shared disk fails the stage instead.
        store.execute(f"SET max_temp_directory_size = '{max_temp}'")
    try:
        stage = st.stage("ingest interactions (goodwill ingest, redaction on)")
        with stage as row, AppendTimes(store, "interactions") as appends:
            rep = ingest_file(store, parquet, parse_mapping(SCALE_MAPPING))
            row["rows_read"], row["rows_written"] = rep.rows_read, rep.rows_written
            row["rows_quarantined"] = rep.rows_quarantined
        row["append_calls"], row["append_ms_by_tenth"] = len(appends.times), appends.by_tenth()
        with st.stage("append supporting facts") as row:
            row["rows"] = supporting_facts(store, customers, size)
        print(f"  store on disk after ingest: {sum(p.stat().st_size for p in workdir.glob('store.duckdb*')) / 2**30:.1f} GiB", flush=True)
        if optimize:
            st.run("sort tables for point reads (optimize)", store.optimize)
        with st.stage("promise ledger (derive, heard, reconcile)") as row:
            row["by_status"] = pr.build_ledger(store, as_of=AS_OF).reconcile.by_status
        st.run("promise gap by team + weekly", lambda: (pr.gap(store, "team"), pr.weekly_series(store)))
        st.run("fair value", fv.build_fair_value, store, as_of=AS_OF)
        with st.stage("runaround (incl. conflicting answers)") as row:
            row["cases"] = ra.build_runaround(store, as_of=AS_OF)["cases"]
        st.run("runaround: worst 20 cases with paths", ra.worst_cases, store, limit=20)
        with st.stage("goodwill ledger (incl. lint of distinct copy)") as row:
            row["entries"] = sum(gl.build_goodwill(store, as_of=AS_OF).by_kind.values())
        st.run("balances by segment + monthly series", lambda: (gl.balances(store, "segment"), gl.balance_series(store)))
        with st.stage("silence scores (every person)") as row:
            row["people"] = si.silence_scores(store, as_of=AS_OF).num_rows
        st.run("fit contact reasons (20k sample, hashing)", fit_reasons_in_store, store, HashingEmbedder(), k=REASONS)
        st.run("contact-reason trends (report)", reason_report, store)
        with st.stage("baseline: one group-by over interactions"):
            store.rows("SELECT customer_id, count(*) AS n FROM interactions GROUP BY customer_id LIMIT 1")
        counts = store.counts()
        disk = sum(p.stat().st_size for p in workdir.glob("store.duckdb*"))
    finally:
        store.close()
    return {
        "label": "SYNTHETIC",
        "interactions": size,
        "customers": customers,
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} vCPU, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB",
        "duckdb": duckdb.__version__,
        "rows": counts,
        "store_bytes": disk,
        "stages": st.rows,
    }


# -- report ----------------------------------------------------------------------------------

MEASURE_STAGES = (
    "promise ledger (derive, heard, reconcile)",
    "promise gap by team + weekly",
    "fair value",
    "runaround (incl. conflicting answers)",
    "runaround: worst 20 cases with paths",
    "goodwill ledger (incl. lint of distinct copy)",
    "balances by segment + monthly series",
    "silence scores (every person)",
    "fit contact reasons (20k sample, hashing)",
    "contact-reason trends (report)",
)


def _fmt(v: float) -> str:
    return f"{v:,.1f}" if v < 100 else f"{v:,.0f}"


def render(results: dict[str, Any]) -> str:
    sizes = sorted(results, key=int)
    runs = [results[s] for s in sizes]
    # Every stage any run has, in run order (a run may leave the optional sort out).
    names = list(dict.fromkeys(x["stage"] for r in runs for x in r["stages"]))
    head = "| stage | " + " | ".join(f"{int(s):,}: wall s (CPU s), peak MiB" for s in sizes) + " |"
    lines = [head, "|---|" + "---|" * len(sizes)]
    for name in names:
        cells = []
        for r in runs:
            row = next((x for x in r["stages"] if x["stage"] == name), None)
            cells.append(
                "—" if row is None else f"{_fmt(row['wall_s'])} ({_fmt(row['cpu_s'])}), {row['peak_rss_mib']:,.0f}"
            )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")

    def total(r: dict[str, Any], which: tuple[str, ...], key: str = "wall_s") -> float:
        return float(sum(x[key] for x in r["stages"] if x["stage"] in which))

    # The sort is optional (the 100M run leaves it out for want of disk), so it is not in the total.
    ingest = ("ingest interactions (goodwill ingest, redaction on)", "append supporting facts")
    for label, which in (("ingest + supporting facts", ingest), ("every measure", MEASURE_STAGES)):
        lines.append(
            f"| **{label}, total** | "
            + " | ".join(f"**{_fmt(total(r, which))}** ({_fmt(total(r, which, 'cpu_s'))})" for r in runs)
            + " |"
        )
    lines.append("")
    lines.append("| run | load average (1 min) during stages | peak RSS over the run | store on disk | rows (interactions / customers) |")
    lines.append("|---|---|---|---|---|")
    for s, r in zip(sizes, runs, strict=True):
        loads = [x["load_1min"] for x in r["stages"]]
        lines.append(
            f"| {int(s):,} ({r['date']}) | {min(loads):.1f}–{max(loads):.1f} | "
            f"{max(x['peak_rss_mib'] for x in r['stages']):,.0f} MiB | {r['store_bytes'] / 2**30:.2f} GiB | "
            f"{r['rows'].get('interactions', 0):,} / {r['rows'].get('customers', 0):,} |"
        )
    timed = [
        (s, row)
        for s, r in zip(sizes, runs, strict=True)
        for row in r["stages"]
        if row["stage"].startswith("ingest interactions") and row.get("append_ms_by_tenth")
    ]
    if timed:
        lines.append("")
        lines.append(
            "Each append of a batch of interactions during the ingest (the store's de-duplication "
            "and insert; reading, mapping and redaction not included): median milliseconds per "
            "batch in each tenth of the ingest, first to last."
        )
        lines.append("")
        lines.append("| run | batches | " + " | ".join(f"{i}" for i in range(1, 11)) + " | last / first tenth |")
        lines.append("|---|---|" + "---|" * 11)
        for s, row in timed:
            ms = row["append_ms_by_tenth"]
            lines.append(
                f"| {int(s):,} | {row['append_calls']:,} | " + " | ".join(f"{v:,.0f}" for v in ms) + f" | ×{ms[-1] / ms[0]:.2f} |"
            )
    if len(runs) > 1:
        lines.append("")
        lines.append(
            "Growth from one size to the next (×10 rows): the ratio of wall times and of CPU times, "
            "and the exponent k in time ∝ rows^k (1 = linear, below 1 = better than linear). CPU "
            "time depends less on the other engineers' load than wall time does."
        )
        lines.append("")
        pairs = list(itertools.pairwise(runs))
        lines.append(
            "| stage | "
            + " | ".join(f"{a['interactions']:,} → {b['interactions']:,}: wall; CPU" for a, b in pairs)
            + " |"
        )
        lines.append("|---|" + "---|" * len(pairs))

        def growth(ta: float, tb: float, step: float) -> str:
            if ta <= 0 or tb <= 0:
                return "—"
            r = tb / ta
            return f"×{r:.1f} (k = {math.log(r) / math.log(step):.2f})"

        for name in [*names, "ingest + supporting facts, total", "every measure, total"]:
            cells = []
            for a, b in pairs:
                step = b["interactions"] / a["interactions"]
                if name == "ingest + supporting facts, total":
                    w = (total(a, ingest), total(b, ingest))
                    c = (total(a, ingest, "cpu_s"), total(b, ingest, "cpu_s"))
                elif name == "every measure, total":
                    w = (total(a, MEASURE_STAGES), total(b, MEASURE_STAGES))
                    c = (total(a, MEASURE_STAGES, "cpu_s"), total(b, MEASURE_STAGES, "cpu_s"))
                else:
                    ra_ = next((x for x in a["stages"] if x["stage"] == name), None)
                    rb = next((x for x in b["stages"] if x["stage"] == name), None)
                    if ra_ is None or rb is None:
                        cells.append("—")
                        continue
                    w, c = (ra_["wall_s"], rb["wall_s"]), (ra_["cpu_s"], rb["cpu_s"])
                cells.append(f"{growth(*w, step)}; {growth(*c, step)}")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_marked(md: Path, begin: str, end: str, body: str) -> None:
    """Replace what lies between two marker lines of a results file, keeping the hand-written rest."""
    text = md.read_text(encoding="utf-8")
    if begin not in text:
        raise SystemExit(f"{md} has no line {begin!r}: add it (and {end!r}) where the table goes")
    before, _, rest = text.partition(begin)
    _, _, after = rest.partition(end)
    md.write_text(f"{before}{begin}\n{body}\n{end}{after}", encoding="utf-8")


def write_md(results: dict[str, Any]) -> None:
    if not MD.exists():
        MD.write_text(f"# Scale\n\n{BEGIN}\n{END}\n", encoding="utf-8")
    write_marked(MD, BEGIN, END, render(results))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, action="append", default=[], help="interactions (repeatable)")
    ap.add_argument("--workdir", type=Path, default=None, help="where the SYNTHETIC files and store go")
    ap.add_argument("--render", action="store_true", help="only rewrite scale.md from scale.json")
    ap.add_argument("--skip-optimize", action="store_true",
                    help="leave out the sort for point reads (it copies the largest table inside the file: "
                    "at 100M that needs more disk than the measures)")
    ap.add_argument("--max-temp", default=None, help="DuckDB's max_temp_directory_size, e.g. 8GB")
    args = ap.parse_args()
    results: dict[str, Any] = json.loads(JSON.read_text()) if JSON.exists() else {}
    for size in args.size:
        print(f"SYNTHETIC {size:,} interactions, load {os.getloadavg()[0]:.1f}", flush=True)
        work = Path(tempfile.mkdtemp(prefix="gw-scale-", dir=args.workdir))
        try:
            results[str(size)] = bench(size, work, optimize=not args.skip_optimize, max_temp=args.max_temp)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        JSON.write_text(json.dumps(results, indent=1, default=str) + "\n")
    if results:
        write_md(results)


if __name__ == "__main__":
    main()
