"""How the server runs its background work: DuckDB leaves a core to the requests, and section
refreshes run below the requests' CPU priority."""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

import pytest

from goodwill.serve.cache import Refreshing
from goodwill.serve.server import leave_a_core
from goodwill.store import Store


def _threads(store: Store) -> int:
    return int(store.scalar("SELECT current_setting('threads')"))


def test_duckdb_leaves_one_core_to_the_requests(duck_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOODWILL_DUCKDB_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    before = duck_store.generation
    leave_a_core(duck_store)
    assert _threads(duck_store) == 3
    assert duck_store.generation == before  # a setting, not a write
    view = duck_store.reader()  # type: ignore[attr-defined]
    try:
        assert _threads(view) == 3  # the refreshes' connections share it
    finally:
        view.close()
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    leave_a_core(duck_store)
    assert _threads(duck_store) == 1


def test_an_operator_setting_wins(duck_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOODWILL_DUCKDB_THREADS", "2")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    duck_store.execute("SET threads = 2")
    leave_a_core(duck_store)
    assert _threads(duck_store) == 2


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a nice value per thread is Linux's")
def test_a_refresh_runs_below_the_requests_priority(duck_store: Store) -> None:
    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    cache: Refreshing[Any] = Refreshing(duck_store, 60, workers=1, nice=10)
    try:
        seen = cache.fetch("k", lambda store: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())).result(timeout=30)
    finally:
        cache.close()
    assert seen == min(19, base + 10)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == base  # the caller's thread is untouched


def test_a_refresh_stays_below_a_server_started_under_nice(duck_store: Store) -> None:
    # Threads inherit their creator's nice value: a server run under `nice` starts its refresh
    # workers there, and the step down is counted from it (an absolute value would raise them).
    seen: list[int] = []

    def niced_server() -> None:
        me = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, me, min(19, os.getpriority(os.PRIO_PROCESS, me) + 5))
        start = os.getpriority(os.PRIO_PROCESS, me)
        cache: Refreshing[Any] = Refreshing(duck_store, 60, workers=1, nice=3)
        try:
            seen.append(start)
            seen.append(cache.fetch("k", lambda store: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())).result(timeout=30))
        finally:
            cache.close()

    t = threading.Thread(target=niced_server)
    t.start()
    t.join(60)
    start, refresh = seen
    assert refresh == min(19, start + 3)
