"""Every scope an endpoint may ask for, with what it grants (shown in the OpenAPI document)."""

from __future__ import annotations

SCOPES: dict[str, str] = {
    "brief": "read the brief of one customer at the point of contact",
    "timeline": "read one person's full timeline",
    "feed": "read the feed of one's own team",
    "feed_any_team": "read the feed of any team",
    "dash_broken": "dashboard: what customers say is broken",
    "dash_promises": "dashboard: the promise gap and its trend",
    "dash_silent": "dashboard: customers gone quiet after we let them down",
    "dash_loyalty": "dashboard: what long-standing customers pay over new ones",
    "dash_guard": "dashboard: what the guard allowed, changed and stopped",
    "dash_rights": "dashboard and API: the rights queue",
    "rights": "act on rights requests, consents and erasure for any customer",
    "vet": "ask the guard about an action (what-if, nothing is recorded)",
    "self": "a customer's own page and requests",
    "status": "store status and counts",
    "tokens": "issue tokens for any role",
}
