"""A bounded loopback load test: mixed brief and dashboard calls at a fixed rate.

    .venv/bin/python benchmarks/load_serve.py --store .goodwill/demo.duckdb            # 60 s at 200 req/s
    .venv/bin/python benchmarks/load_serve.py --store .goodwill/demo.duckdb --quick    # 10 s

Starts `goodwill serve` on the store in a child process on 127.0.0.1 (refuses any other host),
sends requests open-loop at --rate for --seconds (80% briefs of random customers, 20% dashboard
sections as JSON), then stops it. Reports p50/p95/p99 latency and every non-200 answer.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import socket
import statistics
import sys
import time

import httpx

SECRET = "load-serve-secret-of-32-characters!!"
SECTIONS = ("broken", "promises", "silent", "loyalty", "guard", "rights")


def _serve(store: str, port: int) -> None:
    os.environ["GOODWILL_SECRET"] = SECRET
    from goodwill.serve import run_server

    run_server(store, "127.0.0.1", port)


def pct(xs: list[float], q: float) -> float:
    return sorted(xs)[min(len(xs) - 1, int(q * len(xs)))]


async def drive(base: str, ids: list[str], rate: float, seconds: float, headers: dict[str, str]) -> tuple[list[float], list[str]]:
    rng = random.Random(11)
    lat: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=10) as c:

        async def one(path: str) -> None:
            t = time.perf_counter()
            try:
                r = await c.get(path)
                if r.status_code != 200:
                    errors.append(f"{r.status_code} {path}")
            except httpx.HTTPError as exc:
                errors.append(f"{type(exc).__name__} {path}")
            lat.append(time.perf_counter() - t)

        tasks = []
        start = time.perf_counter()
        n = int(rate * seconds)
        for i in range(n):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if rng.random() < 0.8:
                path = f"/customers/{rng.choice(ids)}/brief.json"
            else:
                path = f"/dashboard/{rng.choice(SECTIONS)}.json"
            tasks.append(asyncio.create_task(one(path)))
        await asyncio.gather(*tasks)
    return lat, errors


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--store", required=True)
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    if a.quick:
        a.seconds = 10.0
    if a.rate > 500 or a.seconds > 120:
        print("bounded: at most 500 req/s for 120 s", file=sys.stderr)
        return 2
    from goodwill.serve import issue_token
    from goodwill.store import open_store

    with open_store(a.store, read_only=True) as s:
        ids = [r["customer_id"] for r in s.rows("SELECT customer_id FROM customers ORDER BY customer_id LIMIT 200000")]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = multiprocessing.get_context("spawn").Process(target=_serve, args=(a.store, port), daemon=True)
    proc.start()
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        headers = {"Authorization": "Bearer " + issue_token(SECRET.encode(), "admin")}
        lat, errors = asyncio.run(drive(base, ids, a.rate, a.seconds, headers))
    finally:
        proc.terminate()
        proc.join(10)
    ms = [x * 1000 for x in lat]
    print(f"store {a.store}; {len(ms):,} requests in {a.seconds:.0f} s at {a.rate:.0f}/s (80% brief, 20% dashboard)")
    print(f"p50 {statistics.median(ms):.1f} ms; p95 {pct(ms, 0.95):.1f} ms; p99 {pct(ms, 0.99):.1f} ms; max {max(ms):.1f} ms; errors {len(errors)}")
    for e in sorted(set(errors))[:10]:
        print("  error:", e)
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
