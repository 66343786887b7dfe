"""Identity resolution benchmark (synthetic identifiers; see benchmarks/results/identity.md).

    .venv/bin/python benchmarks/bench_identity.py            # 1,000,000 incoming vs 1,000,000 stored
    .venv/bin/python benchmarks/bench_identity.py --quick    # 100,000 vs 100,000
    .venv/bin/python benchmarks/bench_identity.py --no-reference   # skip the previous resolver

The incremental run is timed twice on copies of one store: with goodwill's resolver and with
the previous, string-keyed one (tests/identity/reference_v1.py), in the same process, and the
two must make the same merges.

Every identifier here is SYNTHETIC (generated, seeded): the point is speed, not quality.
Quality is measured on the labelled set of benchmarks/identity_dataset.py (identity_eval.py).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from goodwill.ingest.identity import ResolveReport, normalise_identifiers, resolve
from goodwill.store import Store, open_store

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from identity import reference_v1  # the previous resolver, kept as a test oracle

MERGE_SQL = "SELECT customer_a, customer_b, rule, evidence FROM identity_merges ORDER BY customer_a, customer_b"


def synthetic_records(start: int, n: int, rng: np.random.Generator, dup_of: np.ndarray | None) -> tuple[pa.Table, pa.Array]:
    """n SYNTHETIC records numbered from ``start``; where ``dup_of`` >= 0 a record reuses that stored person's
    e-mail (verified, written in another form), otherwise fresh values. Each has an e-mail, a phone and
    (for half) an account number."""
    ids = np.char.add("c", np.arange(start, start + n).astype(str))
    person = np.arange(start, start + n)
    if dup_of is not None:
        person = np.where(dup_of >= 0, dup_of, person)
    email_raw = np.char.add(np.char.add("Person.", person.astype(str)), "+shop@GMail.com")
    phone_num = 7700000000 + person
    phone_raw = np.char.add("0", phone_num.astype(str))
    has_acct = (rng.random(n) < 0.5) & ((dup_of is None) | (dup_of < 0) if dup_of is not None else True)
    acct_raw = np.char.add("acc-", np.arange(start, start + n).astype(str))
    cust = np.concatenate([ids, ids, ids[has_acct]])
    kinds = np.concatenate([np.full(n, "email"), np.full(n, "phone"), np.full(int(has_acct.sum()), "account")])
    raw = np.concatenate([email_raw, phone_raw, acct_raw[has_acct]])
    t0 = time.perf_counter()
    value, why = normalise_identifiers(pa.array(kinds), pa.array(raw))
    norm_s = time.perf_counter() - t0
    assert why.null_count == len(why), "synthetic identifiers must all be valid"
    table = pa.table(
        {
            "customer_id": pa.array(cust),
            "kind": pa.array(kinds),
            "value": value,
            "raw_value": pa.array(raw),
            "verified": pa.array(np.concatenate([np.ones(n, bool), np.zeros(n, bool), np.ones(int(has_acct.sum()), bool)])),
            "source": pa.array(np.full(len(cust), "bench")),
        }
    )
    print(f"  normalised {len(cust):,} identifiers in {norm_s:.2f} s ({len(cust) / norm_s:,.0f} rows/s)")
    return table, pa.array(ids)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--n", type=int, default=None)
    ap.add_argument("--dup-rate", type=float, default=0.3)
    ap.add_argument("--no-reference", action="store_true", help="do not time the previous resolver")
    args = ap.parse_args()
    n = args.n or (100_000 if args.quick else 1_000_000)
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as d:
        store = open_store(Path(d) / "bench.duckdb")
        print(f"stored customers: {n:,} (SYNTHETIC)")
        existing, _existing_ids = synthetic_records(0, n, rng, None)
        store.append("identifiers", existing, dedupe=False)
        t0 = time.perf_counter()
        r0 = resolve(store)
        full_s = time.perf_counter() - t0
        print(f"  full resolution of the stored set: {full_s:.2f} s, {r0.merges:,} merges")

        dup = np.where(rng.random(n) < args.dup_rate, rng.integers(0, n, n), -1)
        incoming, incoming_ids = synthetic_records(n, n, rng, dup)
        store.append("identifiers", incoming, dedupe=False)
        store.close()
        if not args.no_reference:
            # goodwill, previous, goodwill again: on a shared machine the load drifts between runs.
            shutil.copy(Path(d) / "bench.duckdb", Path(d) / "reference.duckdb")
            shutil.copy(Path(d) / "bench.duckdb", Path(d) / "again.duckdb")
        expected = int((dup >= 0).sum())
        print(f"  planted duplicates: {expected:,}")

        def timed(label: str, path: Path, fn: Callable[..., ResolveReport]) -> tuple[Store, float]:
            s = open_store(path)
            load = os.getloadavg()
            t0 = time.perf_counter()
            r = fn(s, incoming_ids)
            secs = time.perf_counter() - t0
            print(f"{label}: {n:,} incoming vs {n:,} stored: {secs:.2f} s = {n / secs:,.0f} records/s "
                  f"(load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})")
            print(f"  stages: {r.stages}")
            print(f"  {r.pairs:,} pairs, {r.merges:,} merges, {r.candidates:,} candidates, {r.conflicts_refused:,} refused")
            return s, secs

        store, new_s = timed("incremental (goodwill)", Path(d) / "bench.duckdb", resolve)
        if not args.no_reference:
            ref, ref_s = timed("incremental (previous, string-keyed resolver)", Path(d) / "reference.duckdb", reference_v1.resolve)
            same = ref.query(MERGE_SQL).equals(store.query(MERGE_SQL))
            print(f"  same merges and evidence as goodwill's: {same}")
            ref.close()
            (Path(d) / "reference.duckdb").unlink()
            again, again_new_s = timed("incremental (goodwill, again)", Path(d) / "again.duckdb", resolve)
            again.close()
            (Path(d) / "again.duckdb").unlink()
            print(f"  speed-up over the previous resolver: {ref_s / new_s:.2f}x (first run), {ref_s / again_new_s:.2f}x (second run)")

        t0 = time.perf_counter()
        r2 = resolve(store)
        again_s = time.perf_counter() - t0
        print(f"baseline, re-resolving everything ({2 * n:,} records): {again_s:.2f} s = {2 * n / again_s:,.0f} records/s, {r2.merges} new merges")
        store.close()

    # Baseline for normalisation: phonenumbers, one value at a time (skipped where it is absent).
    try:
        import phonenumbers
    except ImportError:
        print("phone normalisation baseline skipped: phonenumbers is not installed")
        return
    sample = [f"07700 {i:06d}" for i in range(20_000)]
    t0 = time.perf_counter()
    for s in sample:
        phonenumbers.format_number(phonenumbers.parse(s, "GB"), phonenumbers.PhoneNumberFormat.E164)
    pn_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    normalise_identifiers(pa.array(["phone"] * len(sample)), pa.array(sample))
    ours_s = time.perf_counter() - t0
    print(f"phone normalisation: phonenumbers per value {len(sample) / pn_s:,.0f}/s; vectorised {len(sample) / ours_s:,.0f}/s")
    _ = pc


if __name__ == "__main__":
    main()
