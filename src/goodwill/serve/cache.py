"""Derived views of a store, kept beside its write generation and refreshed in the background.

A dashboard section is an aggregate over the whole book: seconds at ten million
interactions. Computed inside the request that finds it stale, it makes that request, and
every request queued behind the store, wait for it. :class:`Refreshing` keeps each value
with the store's write generation (:attr:`goodwill.store.Store.generation`) and the time it
was computed, and:

- serves a value that is fresh (same generation, younger than ``ttl_s``) at once;
- serves a stale one at once too, and starts ONE background refresh of that key (a second
  request meanwhile gets the same stale value and starts nothing);
- makes only the very first request for a key wait, and requests that arrive while that
  first computation runs wait for the same one;
- starts a key's next refresh no sooner than its last refresh took after it ended (put off to
  then, never dropped), so a section that takes 8 s to compute uses at most half of one core
  under a stream of writes.

A refresh reads through ``store.reader()`` where the engine has one (a connection of its
own: the owner's connection stays free for point reads), and through the store itself
elsewhere. A refresh that fails keeps the old value and is tried again later.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from goodwill.store import Store

__all__ = ["Refreshing", "reading"]

V = TypeVar("V")
log = logging.getLogger("goodwill.serve")


@contextlib.contextmanager
def reading(store: Store) -> Iterator[Store]:
    """A view of ``store`` on a connection of its own for the block, or the store itself where
    the engine offers none."""
    make = getattr(store, "reader", None)
    if make is None:
        yield store
        return
    view: Store = make()
    try:
        yield view
    finally:
        view.close()


@dataclass
class _Entry(Generic[V]):
    value: V
    generation: int
    at: float  # when the computation that made it started
    took: float
    ended: float
    refreshes: int = 1
    retry_at: float = 0.0


class Refreshing(Generic[V]):
    """Values by key, each made by ``make(store)``; see the module's rules.

    ``ttl_s`` <= 0 turns the cache off: every call computes in the caller's thread on the
    store itself (tests that write and read back at once use this).
    """

    def __init__(
        self, store: Store, ttl_s: float, *, workers: int = 2, name: str = "goodwill-refresh", nice: int = 0
    ) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self._workers = workers
        self._name = name
        self._nice = nice
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry[V]] = {}
        self._running: dict[str, Future[V]] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._closed = False

    @property
    def enabled(self) -> bool:
        return self.ttl_s > 0

    def fetch(self, key: str, make: Callable[[Store], V]) -> Future[V]:
        """A future of the key's value: already done unless this is the key's first computation."""
        if not self.enabled:
            done: Future[V] = Future()
            try:
                done.set_result(make(self.store))
            except BaseException as exc:  # the caller's own error, raised where it waits
                done.set_exception(exc)
            return done
        now = time.monotonic()
        with self._lock:
            e = self._entries.get(key)
            if e is None:
                return self._start(key, make)
            stale = e.generation != self.store.generation or now - e.at >= self.ttl_s
            if stale and key not in self._running:
                # Within the key's rest after its last refresh, the refresh is due when the rest
                # ends: put off, never dropped (the last request of a burst must not leave it stale).
                self._start(key, make, not_before=max(e.retry_at, e.ended + e.took))
        hit: Future[V] = Future()
        hit.set_result(e.value)
        return hit

    def get(self, key: str, make: Callable[[Store], V]) -> V:
        """The key's value. The key's first computation runs here, in the caller's thread on the
        store itself (the caller may hold the store, e.g. inside a brief: a refresh thread asking
        for the store's lock then would wait on the caller that waits on it)."""
        with self._lock:
            e = self._entries.get(key)
            if e is not None and e.generation == self.store.generation and time.monotonic() - e.at < self.ttl_s:
                return e.value  # fresh: the common case, without a future
            first = self.enabled and e is None and key not in self._running
        if not first:
            return self.fetch(key, make).result()
        generation, start = self.store.generation, time.monotonic()
        value = make(self.store)
        ended = time.monotonic()
        with self._lock:
            if key not in self._entries:
                self._entries[key] = _Entry(value, generation, start, ended - start, ended)
        return value

    def warm(self, makers: dict[str, Callable[[Store], V]]) -> None:
        """Start computing every key that has no value yet, without waiting (server start)."""
        if not self.enabled:
            return
        with self._lock:
            for key, make in makers.items():
                if key not in self._entries:
                    self._start(key, make)

    def invalidate(self) -> None:
        """Mark every value stale (it is still served while its refresh runs)."""
        with self._lock:
            for e in self._entries.values():
                e.generation = -1

    def info(self, key: str) -> dict[str, Any] | None:
        """How a key's value stands (for tests and benchmarks)."""
        with self._lock:
            e = self._entries.get(key)
            if e is None:
                return None
            return {
                "generation": e.generation,
                "age_s": time.monotonic() - e.at,
                "took_s": e.took,
                "refreshes": e.refreshes,
                "refreshing": key in self._running,
            }

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    # -- inside ------------------------------------------------------------------------------
    def _start(self, key: str, make: Callable[[Store], V], not_before: float = 0.0) -> Future[V]:
        """Start a refresh of ``key`` now or at ``not_before`` (the caller holds ``_lock``); one
        per key at a time, done or failed when the returned future is."""
        running = self._running.get(key)
        if running is not None:
            return running
        if self._closed:
            raise RuntimeError("this cache is closed")
        fut: Future[V] = Future()
        self._running[key] = fut
        delay = not_before - time.monotonic()
        if delay > 0:
            timer = threading.Timer(delay, self._submit, (key, make, fut))
            timer.daemon = True
            timer.start()
        else:
            self._submit(key, make, fut, locked=True)
        return fut

    def _submit(self, key: str, make: Callable[[Store], V], fut: Future[V], *, locked: bool = False) -> None:
        with contextlib.nullcontext() if locked else self._lock:
            if self._closed:
                self._running.pop(key, None)
                fut.set_exception(RuntimeError("this cache is closed"))
                return
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self._workers, thread_name_prefix=self._name, initializer=self._lower_priority
                )
            work = self._pool.submit(self._refresh, key, make)

        def settle(done: Future[V]) -> None:
            if done.cancelled():  # the pool was shut down before it ran
                with self._lock:
                    self._running.pop(key, None)
                fut.set_exception(RuntimeError("this cache is closed"))
                return
            exc = done.exception()
            if exc is not None:
                fut.set_exception(exc)
            else:
                fut.set_result(done.result())

        work.add_done_callback(settle)

    def _lower_priority(self) -> None:
        """Run this refresh thread below the threads that answer requests (Linux sets a nice
        value per thread): when the cores are short, the kernel serves the requests first. The
        step is relative: a server started under ``nice`` keeps its refreshes below it too,
        instead of having them raised to an absolute value."""
        if self._nice and sys.platform.startswith("linux"):
            me = threading.get_native_id()
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, me, min(19, os.getpriority(os.PRIO_PROCESS, me) + self._nice))

    def _refresh(self, key: str, make: Callable[[Store], V]) -> V:
        # The generation is read before the facts: a write that lands during the computation
        # leaves the value one generation behind, so it is refreshed again, never wrongly fresh.
        generation = self.store.generation
        start = time.monotonic()
        try:
            with reading(self.store) as view:
                value = make(view)
        except BaseException:
            ended = time.monotonic()
            with self._lock:
                self._running.pop(key, None)
                e = self._entries.get(key)
                if e is not None:
                    e.retry_at = ended + max(1.0, ended - start)
            log.exception("refreshing %s failed; the previous value is still served", key)
            raise
        ended = time.monotonic()
        with self._lock:
            old = self._entries.get(key)
            self._entries[key] = _Entry(value, generation, start, ended - start, ended, (old.refreshes + 1) if old else 1)
            self._running.pop(key, None)
        return value
