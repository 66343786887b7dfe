"""A small real store (CFPB + Telco samples) plus two people built in the test, served in process."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest

from goodwill.guard import Action, Guard
from goodwill.ingest import ingest_file
from goodwill.measure.promises import build_ledger
from goodwill.measure.report import build_measures
from goodwill.serve import ROLES, Settings, create_app, issue_token
from goodwill.store import Store
from goodwill.understand.service import enrich_store, make_embedder, make_sentiment

DATA = Path(__file__).resolve().parent.parent / "data" / "core"
NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
SECRET = b"serve-tests-secret-of-32-bytes!!"
ALICE, BOB = "shop:alice", "shop:bob"
ALICE_SAYS = "My broadband has been down for a week and nobody called me back as promised."
BOB_SAYS = "Bob's private note: the engineer never came to fix my boiler."


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives Debian chromium through Playwright")


def _t(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


def seed_people(store: Store) -> None:
    """Two people with the facts a brief shows: Alice is vulnerable, let down and owed a call."""
    store.append("customers", pa.Table.from_pylist([
        {"customer_id": ALICE, "display_name": "Alice Example", "source": "test", "first_seen_at": _t(900), "vulnerable": True, "region": "N"},
        {"customer_id": BOB, "display_name": "Bob Example", "source": "test", "first_seen_at": _t(400), "vulnerable": False},
    ]))
    store.append("interactions", pa.Table.from_pylist([
        {"interaction_id": "i-a1", "customer_id": ALICE, "occurred_at": _t(60), "channel": "phone", "function": "service",
         "direction": "inbound", "team": "broadband", "text": ALICE_SAYS, "source": "test"},
        {"interaction_id": "i-a2", "customer_id": ALICE, "occurred_at": _t(59), "channel": "phone", "function": "service",
         "direction": "outbound", "team": "broadband", "text": "We will call you back within two days.", "source": "test"},
        {"interaction_id": "i-b1", "customer_id": BOB, "occurred_at": _t(3), "channel": "email", "function": "field",
         "direction": "inbound", "team": "field", "text": BOB_SAYS, "source": "test"},
    ]))
    store.append("cases", pa.Table.from_pylist([
        {"case_id": "c-a1", "customer_id": ALICE, "kind": "complaint", "opened_at": _t(60), "status": "open",
         "product": "Broadband", "issue": "No service", "source": "test"},
    ]))
    store.append("promises", pa.Table.from_pylist([
        {"promise_id": "p-a1", "customer_id": ALICE, "interaction_id": "i-a2", "action": "call_back",
         "description": "Call Alice back about the outage", "made_at": _t(59), "due_at": _t(57), "team": "broadband",
         "kind": "structured", "source": "test"},
    ]))
    store.append("subscriptions", pa.Table.from_pylist([
        {"subscription_id": "s-a1", "customer_id": ALICE, "product": "Broadband 100", "price": 45.0,
         "new_customer_price": 30.0, "currency": "GBP", "period": "month", "started_at": _t(900), "status": "active", "source": "test"},
    ]))
    store.append("consents", pa.Table.from_pylist([
        {"consent_id": "cs-a1", "customer_id": ALICE, "purpose": "marketing", "channel": "email", "state": "granted",
         "recorded_at": _t(800), "source": "test"},
    ]))


def build_store(store: Store, *, measures: bool = True) -> None:
    ingest_file(store, DATA / "cfpb-150.csv.gz", "cfpb")
    ingest_file(store, DATA / "telco-200.csv", "telco")
    seed_people(store)
    enrich_store(store, embedder=make_embedder("hashing"), sentiment=make_sentiment("lexicon"))
    build_ledger(store, as_of=NOW)
    if measures:  # fair value, runaround and the goodwill ledger, as `goodwill goodwill` builds them
        build_measures(store, as_of=NOW)
    Guard(store).vet_campaign(
        [Action.from_dict({"customer_id": cid, "kind": "upsell", "channel": "email", "purpose": "marketing", "campaign_id": "test"})
         for cid in (ALICE, BOB)],
        as_of=NOW,
    )


def token(role: str, *, customer_id: str | None = None, team: str | None = None) -> str:
    return issue_token(SECRET, role, customer_id=customer_id, team=team)


def auth(role: str, **kw: str) -> dict[str, str]:
    if role == "customer":
        kw.setdefault("customer_id", ALICE)
    if role in ("agent", "field_engineer", "salesperson"):
        kw.setdefault("team", "broadband")
    return {"Authorization": "Bearer " + token(role, **kw)}


@dataclass
class Served:
    """The app in process through httpx.ASGITransport (no server, no network)."""

    store: Store
    app: Any

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://goodwill.test") as c:
                return await c.request(method, path, **kw)

        return asyncio.run(go())

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("POST", path, **kw)


@pytest.fixture
def built(store: Store) -> Iterator[Store]:
    build_store(store)
    yield store


@pytest.fixture
def bare(store: Store) -> Iterator[Store]:
    """The same store before fair value and the goodwill ledger are built."""
    build_store(store, measures=False)
    yield store


@pytest.fixture
def served(built: Store) -> Served:
    return Served(built, create_app(built, Settings(secret=SECRET, cache_ttl_s=0, now=lambda: NOW)))


__all__ = ["ALICE", "ALICE_SAYS", "BOB", "BOB_SAYS", "NOW", "ROLES", "SECRET", "auth"]
