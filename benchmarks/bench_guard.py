"""Guard benchmark on a SYNTHETIC store: one action vetted (p50/p95) and a whole campaign.

    .venv/bin/python benchmarks/bench_guard.py            # 1,000,000 customers
    .venv/bin/python benchmarks/bench_guard.py --quick    # 100,000 customers

The store is synthetic (random ids, flags and dates; labelled so wherever shown).
Baseline for one action: the same checks as a plain per-customer query set, one SQL
query per rule, as a first implementation would write them. Baseline for a campaign:
the per-action path (``vet_campaign(..., batch=False)``), timed at 100,000 customers.

The built store is sorted by customer (``Store.optimize()`` at the end of ``build``), which
DuckDB's zone maps need for point reads. The machine is shared: every figure comes with
the load average at the time and the CPU seconds the process used (user + system, all
threads), which others' load inflates far less than wall time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from goodwill.guard import Action, Guard
from goodwill.store import Store, open_store

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


def ts(rng: np.random.Generator, n: int, lo_days: int, hi_days: int) -> pa.Array:
    us = int(NOW.timestamp() * 1e6) + rng.integers(lo_days * 86_400_000_000, hi_days * 86_400_000_000, n)
    return pa.array(us, pa.timestamp("us", tz="UTC"))


def build(path: str, n: int, seed: int = 8) -> float:
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    ids = np.char.add("syn:", np.arange(n).astype(str))
    s = open_store(path)
    s.append("customers", pa.table({"customer_id": ids, "vulnerable": rng.random(n) < 0.04,
                                    "age_band": rng.choice(["18-34", "35-64", "65+"], n), "region": rng.choice(["north", "south", "east", "west"], n),
                                    "source": pa.array(["synthetic"] * n)}), dedupe=False)
    k = n // 20
    s.append("cases", pa.table({"case_id": np.char.add("case:", np.arange(k).astype(str)), "customer_id": rng.choice(ids, k),
                                "kind": ["complaint"] * k, "status": rng.choice(["open", "closed"], k, p=[0.3, 0.7])}), dedupe=False)
    k = n // 10
    s.append("promises", pa.table({"promise_id": np.char.add("pr:", np.arange(k).astype(str)), "customer_id": rng.choice(ids, k),
                                   "due_at": ts(rng, k, -60, 30)}), dedupe=False)
    k = int(n * 1.2)
    s.append("consents", pa.table({"consent_id": np.char.add("cs:", np.arange(k).astype(str)), "customer_id": rng.choice(ids, k),
                                   "purpose": ["marketing"] * k, "channel": rng.choice(["email", "sms", "any"], k),
                                   "state": rng.choice(["granted", "withdrawn", "objected", "not_provided"], k, p=[0.75, 0.12, 0.03, 0.1]),
                                   "recorded_at": ts(rng, k, -900, -1)}), dedupe=False)
    s.append("plans", pa.table({"plan_id": np.char.add("plan:", np.arange(1000).astype(str)), "new_customer_price": rng.uniform(10, 80, 1000).round(2)}))
    s.append("subscriptions", pa.table({"subscription_id": np.char.add("sub:", ids), "customer_id": ids,
                                        "plan_id": np.char.add("plan:", rng.integers(0, 1000, n).astype(str)), "channel": ["web"] * n,
                                        "price": rng.uniform(10, 90, n).round(2), "status": ["active"] * n, "ends_at": ts(rng, n, -30, 400)}), dedupe=False)
    k = 2 * n
    outcome = rng.choice(['{"outcome": "rejected"}', "{}"], k, p=[0.2, 0.8])
    s.append("interactions", pa.table({"interaction_id": np.char.add("i:", np.arange(k).astype(str)), "customer_id": rng.choice(ids, k),
                                       "occurred_at": ts(rng, k, -120, 0), "channel": rng.choice(["email", "sms"], k),
                                       "function": ["marketing"] * k, "direction": ["outbound"] * k, "attrs": outcome}), dedupe=False)
    k = n // 20
    a = rng.choice(ids, k, replace=False)
    s.append("customer_links", pa.table({"customer_id": np.concatenate([a[: k // 2], a[k // 2 :]]),
                                         "person_id": np.concatenate([a[: k // 2], a[: k // 2]]), "rule": ["synthetic"] * k}), dedupe=False)
    s.optimize()
    s.close()
    return time.perf_counter() - t0


def baseline(s: Store, cid: str) -> str:
    """The same checks as a plain query per rule for one customer (no person linking)."""
    deny = False
    deny |= bool(s.scalar("SELECT count(*) FROM cases WHERE customer_id = ? AND status = 'open' AND kind = 'complaint'", [cid]))
    deny |= bool(s.scalar("SELECT count(*) FROM promises p WHERE customer_id = ? AND due_at < ? AND NOT EXISTS "
                          "(SELECT 1 FROM events e WHERE e.customer_id = p.customer_id AND e.ref = p.promise_id)", [cid, NOW]))
    st = s.scalar("SELECT state FROM consents WHERE customer_id = ? AND purpose IN ('marketing', 'all') AND channel IN ('email', 'any') "
                  "ORDER BY recorded_at DESC LIMIT 1", [cid])
    deny |= st != "granted"
    deny |= bool(s.scalar("SELECT count(*) FROM consents WHERE customer_id = ? AND state = 'objected'", [cid]))
    deny |= (s.scalar("SELECT count(*) FROM interactions WHERE customer_id = ? AND direction = 'outbound' AND channel = 'email' "
                      "AND occurred_at >= ?", [cid, NOW - dt.timedelta(days=30)]) or 0) >= 4
    deny |= (s.scalar("SELECT count(*) FROM interactions WHERE customer_id = ? AND attrs LIKE '%rejected%' AND occurred_at >= ?",
                      [cid, NOW - dt.timedelta(days=90)]) or 0) >= 3
    deny |= bool(s.scalar("SELECT vulnerable FROM customers WHERE customer_id = ?", [cid]))
    return "deny" if deny else "allow"


def live_vet(s: Store, g: Guard, cid: str) -> None:
    """The guard as before DuckDB's person documents: the person read live from every table."""
    docs = getattr(s, "_docs", False)
    s._docs = False  # type: ignore[attr-defined]
    try:
        g.vet(Action(cid, "upsell", purpose="marketing", channel="email"), record=False, as_of=NOW)
    finally:
        s._docs = docs  # type: ignore[attr-defined]


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.array(xs), q))


def single(path: str, n: int, samples: int) -> dict[str, float]:
    rng = np.random.default_rng(1)
    s = open_store(path)
    g = Guard(s)
    picks = [f"syn:{i}" for i in rng.integers(0, n, samples)]
    out: dict[str, float] = {}
    for name, fn in (
        ("guard", lambda c: g.vet(Action(c, "upsell", purpose="marketing", channel="email"), record=False, as_of=NOW)),
        ("baseline", lambda c: baseline(s, c)),
        ("guard_live_read", lambda c: live_vet(s, g, c)),
        ("guard_recorded", lambda c: g.vet(Action(c, "upsell", purpose="marketing", channel="email"), record=True, as_of=NOW)),
    ):
        for c in picks[:20]:
            fn(c)
        times = []
        cpu0 = time.process_time()
        for c in picks:
            t = time.perf_counter()
            fn(c)
            times.append((time.perf_counter() - t) * 1000)
        out[f"{name}_p50_ms"], out[f"{name}_p95_ms"] = statistics.median(times), pct(times, 95)
        out[f"{name}_cpu_ms_per_action"] = (time.process_time() - cpu0) * 1000 / len(picks)
    s.close()
    return out


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def campaign(path: str, n: int, mode: str, q: mp.Queue) -> None:  # type: ignore[type-arg,unused-ignore]
    """mode: what-if (set-based), recorded (set-based), rows (per-action path, what-if)."""
    s = open_store(path)
    actions = [Action(f"syn:{i}", "upsell", action_id=f"bench-{mode}-{i}", purpose="marketing", channel="email", campaign_id="bench")
               for i in range(n)]
    g = Guard(s)
    cpu, t = cpu_seconds(), time.perf_counter()
    r = g.vet_campaign(actions, record=mode == "recorded", as_of=NOW, batch=mode != "rows")
    out = {"seconds": time.perf_counter() - t, "cpu_seconds": cpu_seconds() - cpu, "counts": r.counts, "by_rule": r.by_rule}
    if mode == "what-if":
        # What a caller pays to look at every decision (reasons, facts) of the what-if.
        cpu, t = cpu_seconds(), time.perf_counter()
        denied_reasons = sum(len(d.reasons) for d in r.decisions)
        out["materialise_all_seconds"] = time.perf_counter() - t
        out["materialise_all_cpu_seconds"] = cpu_seconds() - cpu
        out["reasons"] = denied_reasons
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["load_avg_1m_after"] = os.getloadavg()[0]
    q.put(out)
    s.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--store", help="reuse a built synthetic store")
    ap.add_argument("--samples", type=int, default=0, help="single actions to time (default 300 quick, 1000 full)")
    ap.add_argument("--what-if-only", action="store_true", help="skip the recorded campaign run")
    ap.add_argument("--rows-baseline", action="store_true", help="also time the per-action campaign path (baseline)")
    ap.add_argument("--rows-store", help="store for the per-action baseline (e.g. a --quick store)")
    ap.add_argument("--rows-n", type=int, default=0, help="customers in the per-action baseline campaign")
    ap.add_argument("--skip-single", action="store_true")
    ap.add_argument("--single-only", action="store_true", help="time single actions only, no campaign")
    args = ap.parse_args()
    n = 100_000 if args.quick else 1_000_000
    tmp = tempfile.mkdtemp(prefix="gw-guard-bench-")
    path = args.store or str(Path(tmp) / "synthetic.duckdb")
    if not args.store:
        print(f"building synthetic store of {n:,} customers ...", flush=True)
        print(f"  built in {build(path, n):.1f}s", flush=True)
    print(f"load average before: {os.getloadavg()}", flush=True)
    print("single actions ...", flush=True)
    if not args.skip_single:
        print(single(path, n, args.samples or (300 if args.quick else 1000)), flush=True)
    if args.single_only:
        print(f"load average after: {os.getloadavg()}", flush=True)
        return
    ctx = mp.get_context("spawn")
    modes = ["what-if"] if args.what_if_only else ["what-if", "recorded"]
    if args.rows_baseline:
        modes.append("rows")
    for mode in modes:
        q: mp.Queue = ctx.Queue()  # type: ignore[type-arg,unused-ignore]
        p = ctx.Process(target=campaign, args=(args.rows_store or path if mode == "rows" else path,
                                               args.rows_n or n if mode == "rows" else n, mode, q))
        p.start()
        res = q.get()
        p.join()
        print(f"campaign of {args.rows_n or n if mode == 'rows' else n:,} ({mode}): {res}", flush=True)
    print(f"load average after: {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
