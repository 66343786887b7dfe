"""``goodwill serve``: the server owns the store; the CLI finds it through ``server.json``.

DuckDB lets one process hold a file. While the server runs it writes ``server.json``
beside a DuckDB store (``.goodwill/server.json`` for ``.goodwill/x.duckdb``) with its
URL, process id and the path of an admin token file (mode 0600), so
:func:`goodwill.serve.client.forward` can send read commands through it.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import signal
import threading
import webbrowser
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from goodwill.errors import ConfigError
from goodwill.serve.app import Settings, create_app
from goodwill.serve.auth import issue_token, server_secret
from goodwill.store import Store, open_store

__all__ = ["run_server", "server_file", "serving"]

ADMIN_TTL = 7 * 24 * 3600


def server_file(store_url: str) -> Path | None:
    """Where a server on this store announces itself (None for PostgreSQL: many processes may share it)."""
    if store_url.startswith(("postgresql://", "postgres://")) or store_url == ":memory:":
        return None
    return Path(store_url.removeprefix("duckdb://")).expanduser().resolve().parent / "server.json"


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, 0o600)


@contextlib.contextmanager
def serving(store: Store, store_url: str, host: str, port: int) -> Iterator[dict[str, Any]]:
    """Announce the server in ``server.json`` while the block runs; remove it afterwards."""
    info: dict[str, Any] = {"url": f"http://{host}:{port}", "pid": os.getpid(), "store": store_url}
    path = server_file(store_url)
    token_path = None
    if path is not None:
        token_path = path.with_name("server-admin.token")
        _write_private(token_path, issue_token(server_secret(store), "admin", subject="cli", ttl_seconds=ADMIN_TTL))
        info["admin_token_file"] = str(token_path)
        _write_private(path, json.dumps(info, indent=2))
    try:
        yield info
    finally:
        for p in (path, token_path):
            if p is not None:
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()


def leave_a_core(store: Store) -> None:
    """Let DuckDB run a query on one core fewer than this process may use (at least one).

    DuckDB runs each query on every core by default. A dashboard section refreshing in the
    background then takes all of them from the requests for seconds: at 200 requests/s on two
    cores, with a write every 15 s, the briefs' p99 was 400 ms with DuckDB on both cores and
    131 ms with it on one (benchmarks/results/serve.md). A point read needs one core anyway.
    GOODWILL_DUCKDB_THREADS, when set, decides instead."""
    if store.engine != "duckdb" or os.environ.get("GOODWILL_DUCKDB_THREADS"):
        return
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    store.execute(f"SET threads = {max(1, cores - 1)}")


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def run_server(
    store_url: str,
    host: str = "127.0.0.1",
    port: int = 8765,
    open_browser: bool = False,
    *,
    settings: Settings | None = None,
) -> None:
    """Serve the API, dashboard and feeds over the store at ``store_url`` until interrupted."""
    try:
        import uvicorn
    except ImportError as exc:  # pragma: no cover - the serve extra brings it
        from goodwill.errors import MissingDependencyError

        raise MissingDependencyError("uvicorn", "serve", "goodwill serve") from exc
    if host not in ("127.0.0.1", "localhost", "::1") and not os.environ.get("GOODWILL_SECRET"):
        raise ConfigError(
            f"Serving on {host} beyond this machine needs a secret set outside the store.",
            hint="Set GOODWILL_SECRET to 32+ random characters, and put TLS in front of goodwill.",
        )
    if threading.current_thread() is threading.main_thread():
        # uvicorn shuts down on SIGTERM and then re-raises it; with the default handler the
        # process would die before `serving` removes server.json and the admin token file.
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    store = open_store(store_url)
    app = None
    try:
        leave_a_core(store)
        app = create_app(store, settings)
        # Dashboard sections start computing now, in the background, so that the first person
        # to open the dashboard does not wait for an aggregate over the whole book.
        app.state.warm()
        # What is loaded by now lives as long as the server: out of the collector's sight, a full
        # collection under load walks only what requests make (it paused the server ~100 ms).
        gc.collect()
        gc.freeze()
        with serving(store, store_url, host, port) as info:
            if open_browser:
                token = issue_token(server_secret(store), "admin", subject="browser", ttl_seconds=8 * 3600)
                url = f"{info['url']}/login?token={token}"
                threading.Timer(1.0, lambda: webbrowser.open(url)).start()
            uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    finally:
        if app is not None:
            app.state.sections.close()
        store.close()
