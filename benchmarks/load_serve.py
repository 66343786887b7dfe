"""A bounded loopback load test: mixed brief and dashboard calls at a fixed rate.

    .venv/bin/python benchmarks/load_serve.py --store .goodwill/demo.duckdb            # 60 s at 200 req/s
    .venv/bin/python benchmarks/load_serve.py --store .goodwill/demo.duckdb --quick    # 10 s

Starts `goodwill serve` on the store in a child process on 127.0.0.1 (refuses any other host),
asks for each dashboard section once (the server computes a section on first request and then
serves it from its cache for Settings.cache_ttl_s, 15 s; these warm-up times are reported apart),
then sends requests open-loop at --rate for --seconds (80% briefs of random customers, 20%
dashboard sections as JSON), then stops it. Reports p50/p95/p99 latency for briefs and dashboard
calls, every non-200 answer, the achieved rate and the load average of the machine.
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
IN_FLIGHT = 64


def _serve(store: str, port: int) -> None:
    os.environ["GOODWILL_SECRET"] = SECRET
    from goodwill.serve import run_server

    run_server(store, "127.0.0.1", port)


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def pct(xs: list[float], q: float) -> float:
    return sorted(xs)[min(len(xs) - 1, int(q * len(xs)))]


async def drive(
    base: str, ids: list[str], rate: float, seconds: float, headers: dict[str, str]
) -> tuple[list[tuple[str, float]], list[str], float]:
    rng = random.Random(11)
    lat: list[tuple[str, float]] = []
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
            lat.append(("brief" if path.startswith("/customers/") else "dashboard", time.perf_counter() - t))

        tasks = []
        start = time.perf_counter()
        n = int(rate * seconds)
        for i in range(n):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks = [t for t in tasks if not t.done()]
            if len(tasks) >= IN_FLIGHT:
                # The server is this far behind: a request that would wait in the client's own queue
                # is counted as refused (queueing thousands in httpx starves the client itself).
                errors.append(f"not sent: {IN_FLIGHT} requests already waiting")
                continue
            if rng.random() < 0.8:
                path = f"/customers/{rng.choice(ids)}/brief.json"
            else:
                path = f"/dashboard/{rng.choice(SECTIONS)}.json"
            tasks.append(asyncio.create_task(one(path)))
        # Bounded: whatever has not been answered 30 s after the last send counts as an error.
        _done, pending = await asyncio.wait(tasks, timeout=max(0.0, start + seconds + 30 - time.perf_counter()))
        for task in pending:
            task.cancel()
        errors.extend(["unanswered 30 s after the run"] * len(pending))
        took = time.perf_counter() - start
    return lat, errors, took


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
        for name in SECTIONS:
            t = time.perf_counter()
            r = httpx.get(f"{base}/dashboard/{name}.json", headers=headers, timeout=600)
            print(f"warm-up /dashboard/{name}.json: {r.status_code} in {time.perf_counter() - t:.2f} s", flush=True)
        print(f"load average before: {loadavg()}", flush=True)
        lat, errors, took = asyncio.run(drive(base, ids, a.rate, a.seconds, headers))
        print(f"load average after: {loadavg()}", flush=True)
    finally:
        proc.terminate()
        proc.join(10)
    print(f"store {a.store}; {len(lat):,} requests answered or failed, {int(a.rate * a.seconds) - len(lat):,} not sent, over {a.seconds:.0f} s at {a.rate:.0f}/s (80% brief, 20% dashboard); "
          f"all answered after {took:.1f} s ({len(lat) / took:.0f} req/s achieved)")
    print("| calls | n | p50 ms | p95 ms | p99 ms | max ms |\n|---|---|---|---|---|---|")
    for kind in ("all", "brief", "dashboard"):
        ms = [x * 1000 for k, x in lat if kind in ("all", k)]
        if ms:
            print(f"| {kind} | {len(ms):,} | {statistics.median(ms):.1f} | {pct(ms, 0.95):.1f} | {pct(ms, 0.99):.1f} | {max(ms):.1f} |")
    print(f"errors: {len(errors)}")
    for e in sorted(set(errors))[:10]:
        print("  error:", e)
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
