"""One error shape on every route; dashboard sections give the measures' own answers; the SSE feed."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import httpx
import pyarrow as pa
from tests.serve.conftest import ALICE, NOW, Served, auth

from goodwill.measure import fair_value, silence


def _shape(r: httpx.Response, status: int, code: str) -> dict[str, str]:
    assert r.status_code == status, (r.status_code, r.text[:300])
    body = r.json()
    assert set(body) == {"error"}
    err = body["error"]
    assert set(err) == {"code", "message", "hint"}
    assert err["code"] == code
    assert isinstance(err["message"], str) and err["message"]
    assert isinstance(err["hint"], str) and err["hint"], "every error says how to fix it"
    return dict(err)


def test_one_error_shape_across_routes(served: Served) -> None:
    admin, agent = auth("admin"), auth("agent")
    _shape(served.get("/status.json"), 401, "unauthenticated")
    _shape(served.get("/status.json", headers={"Authorization": "Basic abc"}), 401, "unauthenticated")
    _shape(served.get("/dashboard.json", headers=agent), 403, "forbidden")
    _shape(served.post("/vet", json={"customer_id": ALICE, "kind": "upsell"}, headers=agent), 403, "forbidden")
    _shape(served.get("/customers/nobody:1/brief.json", headers=agent), 404, "not_found")
    err = _shape(served.get("/dashboard/nothing.json", headers=admin), 404, "not_found")
    assert err["message"] == "There is no dashboard section 'nothing'."
    _shape(served.get("/no/such/route.json", headers=admin), 404, "not_found")
    _shape(served.request("DELETE", "/status.json", headers=admin), 405, "method_not_allowed")
    err = _shape(served.post("/tokens", json={"role": "agent", "extra": 1}, headers=admin), 400, "config_error")
    assert err["message"].startswith("Invalid request: extra:")
    _shape(served.post("/tokens", content=b"{not json", headers={**admin, "content-type": "application/json"}), 400, "config_error")
    _shape(served.post("/tokens", json={"role": "king"}, headers=admin), 400, "config_error")
    _shape(served.post("/rights/requests/none/dance", json={}, headers=admin), 404, "not_found")
    _shape(served.get("/brief", params={"customer_id": " "}, headers=admin), 400, "config_error")
    _shape(served.get("/feeds/field.json", headers=agent), 403, "forbidden")


def test_error_pages_carry_the_same_three_lines(served: Served) -> None:
    r = served.get("/customers/nobody:1/brief", headers={**auth("agent"), "Accept": "text/html"})
    assert r.status_code == 404
    assert "goodwill holds nothing about a customer" in r.text and "Check the id" in r.text


def test_silent_section_is_goodwill_silent(served: Served) -> None:
    got = served.get("/dashboard/silent.json", headers=auth("cx_lead")).json()
    want = silence.silent(served.store, as_of=silence.data_horizon(served.store), limit=25)
    for key in ("silent", "people_with_a_failure", "failed_without_own_rhythm", "threshold_ratio", "rules_version"):
        assert got[key] == want[key], key
    assert [r["person_id"] for r in got["rows"]] == [r["person_id"] for r in want["rows"]]
    assert got["people_with_a_failure"] > 0


def test_loyalty_section_is_goodwill_fair_value(served: Served) -> None:
    got = served.get("/dashboard/loyalty.json", headers=auth("cx_lead")).json()
    book = fair_value.book_summary(served.store)
    for key in ("subscriptions", "judged", "paying_more", "owed_better_deal", "declared_references", "inferred_references"):
        assert got["book"][key] == book[key], key
    assert got["book"]["annual_penalty"] == book["annual_penalty"]
    assert [g["grp"] for g in got["by_tenure"]] == [g["grp"] for g in fair_value.penalty_by(served.store, "tenure")]
    owed = fair_value.owed_better_deal(served.store, limit=25)
    assert [r["subscription_id"] for r in got["owed_by_person"]] == [r["subscription_id"] for r in owed]
    assert got["book"]["paying_more"] > 0
    # Marketing sees the book, not the people in it.
    mkt = served.get("/dashboard/loyalty.json", headers=auth("marketing")).json()
    assert "owed_by_person" not in mkt and mkt["book"] == got["book"]
    page = served.get("/dashboard/loyalty", headers={**auth("cx_lead"), "Accept": "text/html"}).text
    assert f"{book['paying_more']} <span" in page


def test_feed_streams_new_items_as_server_sent_events(served: Served) -> None:
    store = served.store
    store.append("promises", pa.Table.from_pylist([
        {"promise_id": "p-sse", "customer_id": ALICE, "action": "refund", "description": "Refund the engineer visit",
         "made_at": NOW - dt.timedelta(days=20), "due_at": NOW - dt.timedelta(days=10), "team": "broadband",
         "kind": "structured", "source": "test"},
    ]))
    store.append("promise_status", pa.Table.from_pylist([
        {"promise_id": "p-sse", "rule": "test", "status": "overdue", "deadline": NOW - dt.timedelta(days=10)},
    ]))
    items = served.get("/feeds/broadband.json", headers=auth("agent")).json()["items"]
    assert items[0]["id"] == "p-sse" and items[0]["kind"] == "overdue_promise"

    async def stream() -> tuple[str, list[str]]:
        transport = httpx.ASGITransport(app=served.app)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://goodwill.test") as c,
            c.stream("GET", "/feeds/broadband/events", params={"max_events": 1}, headers=auth("agent")) as r,
        ):
            lines = [line async for line in r.aiter_lines()]
            return r.headers["content-type"], lines

    ctype, lines = asyncio.run(stream())
    assert ctype.startswith("text/event-stream")
    assert lines[:2] == ["event: feed", "id: p-sse"]
    data = json.loads(lines[2].removeprefix("data: "))
    assert data["customer_id"] == ALICE and data["what"].startswith("Promise to refund is overdue since")
    # Another team's stream is refused before it starts, in the one error shape.
    r = served.get("/feeds/field/events", params={"max_events": 1}, headers=auth("agent"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
