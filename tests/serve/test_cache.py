"""Dashboard sections kept with the store's write generation and refreshed in the background,
on a reader connection of their own; store work of requests on one thread."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pyarrow as pa
import pytest

from goodwill.rights._tables import ensure_rights_tables
from goodwill.serve import Settings, create_app
from goodwill.serve import views as views_mod
from goodwill.serve.cache import Refreshing, reading
from goodwill.store import Store

from .conftest import ALICE, BOB, NOW, SECRET, Served, auth, seed_people

WAIT_S = 30.0


def _app(store: Store) -> Served:
    # A TTL far beyond the test: only the write generation can make a section stale here.
    return Served(store, create_app(store, Settings(secret=SECRET, cache_ttl_s=600, cache_clock_s=600, now=lambda: NOW)))


def _settled(served: Served, name: str) -> dict[str, Any]:
    """Wait until the section's value has the store's generation and no refresh runs."""
    cache: Refreshing[Any] = served.app.state.sections
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        info = cache.info(name)
        if info is not None and not info["refreshing"] and info["generation"] == served.store.generation:
            return info
        time.sleep(0.02)
    raise AssertionError(f"section {name} did not settle: {cache.info(name)}")


@pytest.fixture
def people(store: Store) -> Iterator[Store]:
    seed_people(store)
    # Made here, not by the rights section's first computation (a write of its own, which
    # would move the generation these tests watch).
    ensure_rights_tables(store)
    yield store


def _open_requests(served: Served) -> int:
    r = served.get("/dashboard/rights.json", headers=auth("compliance"))
    assert r.status_code == 200, r.text
    return int(r.json()["open"])


def test_a_write_moves_the_generation_and_the_next_request_after_the_refresh_sees_it(people: Store) -> None:
    served = _app(people)
    assert _open_requests(served) == 0
    info = _settled(served, "rights")
    assert info["refreshes"] == 1
    before = people.generation

    r = served.post("/rights/requests", headers=auth("compliance"), json={"customer_id": ALICE, "kind": "access"})
    assert r.status_code == 201, r.text
    assert people.generation > before

    # The first request after the write gets the value it had (stale) and starts one refresh...
    assert _open_requests(served) == 0
    info = _settled(served, "rights")
    assert info["refreshes"] == 2
    # ...and the next one after that refresh sees the write.
    assert _open_requests(served) == 1


def test_no_write_no_recompute(people: Store) -> None:
    served = _app(people)
    _open_requests(served)
    _settled(served, "rights")
    for _ in range(3):
        _open_requests(served)
    assert served.app.state.sections.info("rights")["refreshes"] == 1


def test_a_request_does_not_wait_for_a_refresh_after_the_first(people: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    title, scope, real = views_mod.SECTIONS["rights"]
    release = threading.Event()
    calls: list[float] = []

    def slow(store: Store, now: dt.datetime) -> dict[str, Any]:
        calls.append(time.monotonic())
        if len(calls) > 1:  # every refresh after the first is held until the test lets it go
            assert release.wait(WAIT_S)
        return real(store, now)

    monkeypatch.setitem(views_mod.SECTIONS, "rights", (title, scope, slow))
    served = _app(people)
    assert _open_requests(served) == 0
    served.post("/rights/requests", headers=auth("compliance"), json={"customer_id": ALICE, "kind": "access"})

    t = time.monotonic()
    stale = [_open_requests(served) for _ in range(3)]
    took = time.monotonic() - t
    # Answered while the refresh is still held, from the value before the write; one refresh only.
    assert stale == [0, 0, 0]
    deadline = time.monotonic() + WAIT_S
    while len(calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not release.is_set() and len(calls) == 2
    assert served.app.state.sections.info("rights")["refreshing"] is True
    assert took < WAIT_S
    # A brief meanwhile is not held either: it does not read sections, and the store is free.
    assert served.get(f"/customers/{ALICE}/brief.json", headers=auth("agent")).status_code == 200

    release.set()
    _settled(served, "rights")
    assert _open_requests(served) == 1
    assert len(calls) == 2


def test_a_refresh_reads_on_its_own_connection(people: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    title, scope, real = views_mod.SECTIONS["rights"]
    seen: list[Store] = []

    def spy(store: Store, now: dt.datetime) -> dict[str, Any]:
        seen.append(store)
        return real(store, now)

    monkeypatch.setitem(views_mod.SECTIONS, "rights", (title, scope, spy))
    served = _app(people)
    _open_requests(served)
    assert len(seen) == 1 and seen[0] is not people
    assert getattr(seen[0], "owner", None) is people


def test_concurrent_briefs_each_get_their_own_person(people: Store) -> None:
    """Requests run side by side; their store work shares one connection on one thread, so no
    request gets another's rows."""
    app = create_app(people, Settings(secret=SECRET, cache_ttl_s=600, now=lambda: NOW))
    ids = [ALICE, BOB] * 10

    async def go() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://goodwill.test") as c:
            return list(await asyncio.gather(*(c.get(f"/customers/{cid}/brief.json", headers=auth("agent")) for cid in ids)))

    for cid, r in zip(ids, asyncio.run(go()), strict=True):
        assert r.status_code == 200, r.text
        assert r.json()["customer_id"] == cid


def test_the_reader_sees_committed_data_only(people: Store) -> None:
    row = {"customer_id": "shop:carol", "display_name": "Carol Example", "source": "test"}
    with reading(people) as view:
        assert view is not people
        assert view.count("customers") == 2
        with people.transaction():
            people.append("customers", pa.Table.from_pylist([row]))
            assert people.count("customers") == 3  # the owner sees its own transaction...
            assert view.count("customers") == 2  # ...the reader does not, and does not wait for it
        assert view.count("customers") == 3


def test_the_reader_writes_through_the_owner_and_closes_only_itself(people: Store) -> None:
    before = people.generation
    with reading(people) as view:
        added = view.append("customers", pa.Table.from_pylist([{"customer_id": "shop:dan", "source": "test"}]))
        assert added == 1
        assert view.generation == people.generation == before + 1
        view.execute("DELETE FROM customers WHERE customer_id = ?", ["shop:dan"])
        assert people.generation == before + 2
    assert people.count("customers") == 2  # the owner's connection is still open


def test_a_cached_section_is_shown_to_each_role_as_that_role_may_see_it(built: Store) -> None:
    """One computation serves every role, and each role's redaction still applies (the JSON a
    role gets is kept per role, never handed to another)."""
    served = _app(built)
    for _ in range(2):  # the second round answers from what the first one made
        admin = served.get("/dashboard/broken.json", headers=auth("admin"))
        mkt = served.get("/dashboard/broken.json", headers=auth("marketing"))
        assert admin.status_code == mkt.status_code == 200
        assert any(r.get("verbatims") for r in admin.json()["reasons"])
        assert "verbatims" not in mkt.text and "representatives" not in mkt.text
        assert [r["reason_id"] for r in mkt.json()["reasons"]] == [r["reason_id"] for r in admin.json()["reasons"]]
    assert served.app.state.sections.info("broken")["refreshes"] == 1


def test_a_refresh_due_in_a_sections_rest_is_put_off_not_dropped(store: Store) -> None:
    """After a refresh that took t seconds the key rests t seconds; a write in that rest is
    refreshed when it ends, with no further request to set it off."""
    seen: list[int] = []

    def make(view: Store) -> int:
        time.sleep(0.3)
        seen.append(view.generation)
        return view.generation

    cache: Refreshing[int] = Refreshing(store, 600, workers=1)
    try:
        assert cache.fetch("k", make).result(timeout=WAIT_S) == store.generation
        store.append("customers", pa.Table.from_pylist([{"customer_id": "shop:erin", "source": "test"}]))
        assert cache.fetch("k", make).result(timeout=WAIT_S) == seen[0]  # stale, at once
        deadline = time.monotonic() + WAIT_S
        while (cache.info("k") or {}).get("refreshes", 0) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        info = cache.info("k")
        assert info is not None and info["refreshes"] == 2 and info["generation"] == store.generation
        assert cache.fetch("k", make).result(timeout=WAIT_S) == store.generation
    finally:
        cache.close()
