"""Security headers on every response, and no caching of anything but static files."""

from __future__ import annotations

from goodwill.serve import Settings, create_app
from goodwill.store import Store

from .conftest import ALICE, NOW, SECRET, Served, auth, seed_people

SECURITY = {
    "content-security-policy": "default-src 'self'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


def test_every_response_carries_the_security_headers(duck_store: Store) -> None:
    seed_people(duck_store)
    served = Served(duck_store, create_app(duck_store, Settings(secret=SECRET, cache_ttl_s=0, now=lambda: NOW)))
    responses = {
        "json": served.get(f"/customers/{ALICE}/brief.json", headers=auth("agent")),
        "page": served.get(f"/customers/{ALICE}/brief", headers={**auth("agent"), "Accept": "text/html"}),
        "error": served.get("/customers/nobody:1/brief.json", headers=auth("agent")),
        "refused": served.get("/dashboard.json"),
        "static": served.get("/static/app.css"),
    }
    assert [r.status_code for r in responses.values()] == [200, 200, 404, 401, 200]
    for what, r in responses.items():
        for k, v in SECURITY.items():
            assert r.headers[k].startswith(v), (what, k)
        if what == "static":
            assert "no-store" not in r.headers.get("cache-control", ""), what
        else:
            assert r.headers["cache-control"] == "no-store", what
