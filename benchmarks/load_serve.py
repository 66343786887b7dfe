"""A bounded loopback load test of `goodwill serve`: mixed brief and dashboard calls at a fixed rate.

    .venv/bin/python benchmarks/load_serve.py --store bench-out/serve-1000000-10000000.duckdb      # 60 s at 200 req/s
    .venv/bin/python benchmarks/load_serve.py --store X --rates 50,100,150,200 --seconds 30       # step the rate
    .venv/bin/python benchmarks/load_serve.py --store X --write-every 15                          # with writes

Starts `goodwill serve` on the store in a child process on 127.0.0.1 (refuses any other host),
waits for its dashboard sections (the server starts computing them as it starts; the first
request of each section waits for that, and these times are reported apart), then sends
requests open-loop on a fixed schedule at each rate for --seconds: 80% briefs of random
customers (an agent's token), 20% dashboard sections as JSON (an administrator's token, each
section in turn at random). At most --in-flight requests are outstanding; a request due while
that many wait is not sent and counts as an error, as does every answer that is not 2xx and
every request unanswered after --timeout seconds. --write-every S also records a consent for
a random customer every S seconds (a write: it moves the store's generation, so every section
is recomputed in the background during the run), timed and reported apart.

Latency is measured from the moment a request was due on the schedule (so a client that falls
behind shows as latency, not as a slower schedule) and, beside it, from the moment it was sent.
The client is a minimal HTTP/1.1 keep-alive client on asyncio: the machine's cores are shared
with the server, and a heavier client would take them from it. Reports, per rate and call kind,
p50/p95/p99/max, the achieved rate, the errors, the load average during the run, and the CPU
the server process and the client used (from /proc and getrusage).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

SECRET = "load-serve-secret-of-32-characters!!"
SECTIONS = ("broken", "promises", "silent", "loyalty", "guard", "rights")
TICK = os.sysconf("SC_CLK_TCK")
MAX_SECONDS_IN_ALL = 900


def loadavg() -> tuple[float, float, float]:
    return os.getloadavg()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def cpu_times() -> list[int]:
    """The machine's CPU time by kind (user nice system idle iowait irq softirq steal), in ticks."""
    return [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]


def cpu_pressure() -> float | None:
    """The share of the last 10 s in which some runnable task waited for a CPU (Linux PSI)."""
    try:
        return float(Path("/proc/pressure/cpu").read_text().split()[1].split("=")[1])
    except (OSError, IndexError, ValueError):
        return None


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


# -- a small HTTP/1.1 client ---------------------------------------------------------------


class Conn:
    """One keep-alive connection; one request at a time."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, bytes]:
        reused = self.writer is not None
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None and self.writer is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        if body:
            head += f"Content-Length: {len(body)}\r\n"
        try:
            self.writer.write(head.encode() + b"\r\n" + body)
            status_line = await self.reader.readline()
        except (ConnectionResetError, BrokenPipeError):
            status_line = b""
            if not reused:
                raise
        if not status_line:
            self.close()
            if reused:
                # The server closes a connection idle past its keep-alive time (uvicorn: 5 s); a
                # request that got no byte back on it is sent again on a new one, as browsers do.
                return await self.request(method, path, headers, body)
            raise ConnectionError("closed by the server")
        status = int(status_line.split()[1])
        length, chunked, close = None, False, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            k, _, v = line.decode("latin-1").partition(":")
            k, v = k.strip().lower(), v.strip().lower()
            if k == "content-length":
                length = int(v)
            elif k == "transfer-encoding" and "chunked" in v:
                chunked = True
            elif k == "connection" and v == "close":
                close = True
        if chunked:
            data = b""
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                data += chunk[:-2]
        else:
            data = await self.reader.readexactly(length or 0)
        if close:
            self.close()
        return status, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class Run:
    rate: float
    seconds: float
    due: int = 0
    lat: list[tuple[str, float, float]] = field(default_factory=list)  # (kind, from schedule, from send)
    errors: list[str] = field(default_factory=list)
    writes: list[tuple[float, int]] = field(default_factory=list)
    took: float = 0.0
    load: list[tuple[float, float, float]] = field(default_factory=list)
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    machine: dict[str, float] = field(default_factory=dict)
    pressure: list[float] = field(default_factory=list)


async def drive(port: int, ids: list[str], run: Run, in_flight: int, timeout: float, write_every: float,
                brief_headers: dict[str, str], dash_headers: dict[str, str], seed: int) -> None:
    rng = random.Random(seed)
    # Taken in turn (first in, first out), so that no connection idles past the server's keep-alive.
    idle = collections.deque(Conn("127.0.0.1", port) for _ in range(in_flight))

    async def one(conn: Conn, kind: str, path: str, due: float) -> None:
        sent = time.perf_counter()
        try:
            status, _ = await asyncio.wait_for(conn.request("GET", path, brief_headers if kind == "brief" else dash_headers), timeout)
            done = time.perf_counter()
            if not 200 <= status < 300:
                run.errors.append(f"{status} {path.split('/')[1]}/{path.rsplit('/', 1)[-1] if kind == 'dashboard' else '…'}")
            run.lat.append((kind, done - due, done - sent))
        except (TimeoutError, OSError, ValueError, asyncio.IncompleteReadError) as exc:
            conn.close()
            run.errors.append(f"{type(exc).__name__} {kind}")
        finally:
            idle.append(conn)

    async def writes(start: float) -> None:
        conn = Conn("127.0.0.1", port)
        k = 0
        while True:
            k += 1
            await asyncio.sleep(max(0.0, start + k * write_every - time.perf_counter()))
            cid = rng.choice(ids)
            body = json.dumps({"purpose": "marketing", "channel": "email", "state": rng.choice(["granted", "withdrawn"]),
                               "source": "SYNTHETIC load test"}).encode()
            t = time.perf_counter()
            try:
                status, _ = await asyncio.wait_for(conn.request(
                    "POST", f"/customers/{cid}/consents", {**dash_headers, "Content-Type": "application/json"}, body), timeout)
                run.writes.append((time.perf_counter() - t, status))
                if not 200 <= status < 300:
                    run.errors.append(f"{status} write")
            except (TimeoutError, OSError, ValueError, asyncio.IncompleteReadError) as exc:
                conn.close()
                run.errors.append(f"{type(exc).__name__} write")

    async def sample_load(start: float) -> None:
        while True:
            await asyncio.sleep(5.0)
            run.load.append(loadavg())
            p = cpu_pressure()
            if p is not None:
                run.pressure.append(p)

    tasks: set[asyncio.Task[None]] = set()
    start = time.perf_counter()
    side = [asyncio.create_task(sample_load(start))]
    if write_every > 0:
        side.append(asyncio.create_task(writes(start)))
    run.due = int(run.rate * run.seconds)
    for i in range(run.due):
        due = start + i / run.rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if rng.random() < 0.8:
            kind, path = "brief", f"/customers/{rng.choice(ids)}/brief.json"
        else:
            kind, path = "dashboard", f"/dashboard/{rng.choice(SECTIONS)}.json"
        if not idle:
            run.errors.append(f"not sent: {in_flight} requests already in flight")
            continue
        t = asyncio.create_task(one(idle.popleft(), kind, path, due))
        tasks.add(t)
        t.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(set(tasks), timeout=timeout + 1)
    for t in side:
        t.cancel()
    run.took = time.perf_counter() - start
    for c in idle:
        c.close()


def get(base: str, path: str, headers: dict[str, str], timeout: float) -> int:
    req = urllib.request.Request(base + path, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def report(run: Run) -> list[str]:
    out = []
    answered = len(run.lat)
    la = [x[0] for x in run.load] or [float("nan")]
    m = run.machine
    out.append(f"rate {run.rate:.0f}/s for {run.seconds:.0f} s: {run.due:,} due, {answered:,} answered "
               f"({answered / run.took:.1f} req/s answered over {run.took:.1f} s), {len(run.errors):,} errors; "
               f"load average (1 min) during the run {min(la):.2f}-{max(la):.2f}; "
               f"server CPU {run.server_cpu:.1f} s ({100 * run.server_cpu / run.took:.0f}% of one core), "
               f"client CPU {run.client_cpu:.1f} s ({100 * run.client_cpu / run.took:.0f}%); machine CPU: "
               f"{m.get('busy', 0):.0f}% busy, {m.get('steal', 0):.0f}% stolen by the hypervisor, {m.get('idle', 0):.0f}% idle; "
               f"CPU pressure (some task waiting for a CPU) {statistics.mean(run.pressure) if run.pressure else float('nan'):.0f}%")
    out.append("| calls | n | p50 ms | p95 ms | p99 ms | max ms | p99 from send ms |")
    out.append("|---|---|---|---|---|---|---|")
    for kind in ("all", "brief", "dashboard"):
        xs = [(d * 1000, s * 1000) for k, d, s in run.lat if kind in ("all", k)]
        if xs:
            due = [d for d, _ in xs]
            sent_ms = [s for _, s in xs]
            out.append(f"| {kind} | {len(xs):,} | {statistics.median(due):.1f} | {pct(due, 0.95):.1f} | "
                       f"{pct(due, 0.99):.1f} | {max(due):.1f} | {pct(sent_ms, 0.99):.1f} |")
    if run.writes:
        ws = [w * 1000 for w, _ in run.writes]
        out.append(f"writes (consent recorded, every one moves the generation): {len(ws)}, "
                   f"{', '.join(f'{w:.0f}' for w in ws)} ms")
    counts: dict[str, int] = {}
    for e in run.errors:
        counts[e] = counts.get(e, 0) + 1
    for e, n in sorted(counts.items(), key=lambda x: -x[1])[:10]:
        out.append(f"  error x{n:,}: {e}")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", required=True)
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--rates", help="comma-separated rates, one run each, in order (steps the rate)")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--in-flight", type=int, default=64)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--write-every", type=float, default=0.0)
    ap.add_argument("--pause", type=float, default=5.0, help="seconds between stepped runs")
    ap.add_argument("--quick", action="store_true", help="10 s")
    a = ap.parse_args()
    if a.quick:
        a.seconds = 10.0
    rates = [float(x) for x in a.rates.split(",")] if a.rates else [a.rate]
    if max(rates) > 500 or a.seconds > 120 or a.in_flight > 256 or len(rates) * (a.seconds + a.pause) > MAX_SECONDS_IN_ALL:
        print(f"bounded: at most 500 req/s, 120 s a run, 256 in flight, {MAX_SECONDS_IN_ALL} s in all", file=sys.stderr)
        return 2
    from goodwill.serve import issue_token
    from goodwill.store import open_store

    with open_store(a.store, read_only=True) as s:
        sample = "USING SAMPLE 200000 ROWS" if s.engine == "duckdb" else "ORDER BY random() LIMIT 200000"
        ids = [r["customer_id"] for r in s.rows(f"SELECT customer_id FROM customers {sample}")]
        size = f"{s.count('customers'):,} customers / {s.count('interactions'):,} interactions"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "GOODWILL_SECRET": SECRET}
    exe = str(Path(sys.executable).with_name("goodwill"))
    t0 = time.perf_counter()
    proc = subprocess.Popen([exe, "serve", "--store", a.store, "--host", "127.0.0.1", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    dash = {"Authorization": "Bearer " + issue_token(SECRET.encode(), "admin", subject="load")}
    agent = {"Authorization": "Bearer " + issue_token(SECRET.encode(), "agent", subject="load", team="t1")}
    failed = False
    lines = [f"store {a.store} ({size}, SYNTHETIC where built by bench_serve.py); server pid {proc.pid}"]
    try:
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"goodwill serve exited: {proc.stderr.read().decode() if proc.stderr else ''}")
            with contextlib.suppress(OSError):
                if get(base, "/health", {}, 1) == 200:
                    break
            time.sleep(0.2)
        lines.append(f"server up in {time.perf_counter() - t0:.1f} s")
        for name in SECTIONS:
            t = time.perf_counter()
            status = get(base, f"/dashboard/{name}.json", dash, 600)
            lines.append(f"section {name}: {status}, ready {time.perf_counter() - t:.2f} s later (computed as the server started)")
            if status != 200:
                lines.append(f"  the section {name} cannot answer: every request for it will count as an error")
        print("\n".join(lines), flush=True)
        for k, rate in enumerate(rates):
            if k:
                time.sleep(a.pause)
            run = Run(rate, a.seconds)
            before = loadavg()
            cpu0, me0, m0 = cpu_seconds(proc.pid), resource.getrusage(resource.RUSAGE_SELF), cpu_times()
            asyncio.run(drive(port, ids, run, a.in_flight, a.timeout, a.write_every, agent, dash, seed=11 + k))
            me1, m1 = resource.getrusage(resource.RUSAGE_SELF), cpu_times()
            d = [y - x for x, y in zip(m0, m1, strict=True)]
            total = sum(d) or 1
            run.machine = {"busy": 100 * (total - d[3] - d[4] - d[7]) / total, "steal": 100 * d[7] / total,
                           "idle": 100 * (d[3] + d[4]) / total}
            run.server_cpu = cpu_seconds(proc.pid) - cpu0
            run.client_cpu = (me1.ru_utime + me1.ru_stime) - (me0.ru_utime + me0.ru_stime)
            run.load = [before, *run.load, loadavg()]
            out = report(run)
            print("\n".join(out), flush=True)
            failed = failed or bool(run.errors)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
