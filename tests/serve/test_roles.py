"""Every endpoint asks for one scope: each role gets what it needs and no more, on both engines."""

from __future__ import annotations

import pytest
from tests.serve.conftest import ALICE, ALICE_SAYS, BOB, BOB_SAYS, ROLES, Served, auth

# endpoint -> roles that may call it (everyone else gets 403)
MATRIX: dict[str, set[str]] = {
    f"/customers/{ALICE}/brief.json": {"agent", "field_engineer", "salesperson", "cx_lead", "compliance", "admin"},
    f"/customers/{ALICE}/timeline.json": {"compliance", "admin"},
    "/dashboard/broken.json": {"cx_lead", "compliance", "marketing", "admin"},
    "/dashboard/promises.json": {"cx_lead", "compliance", "marketing", "admin"},
    "/dashboard/silent.json": {"cx_lead", "compliance", "admin"},
    "/dashboard/loyalty.json": {"cx_lead", "compliance", "marketing", "admin"},
    "/dashboard/guard.json": {"cx_lead", "compliance", "marketing", "admin"},
    "/dashboard/rights.json": {"compliance", "admin"},
    "/rights/requests.json": {"compliance", "admin"},
    "/feeds/broadband.json": {"agent", "field_engineer", "salesperson", "cx_lead", "admin"},
    "/me.json": {"customer"},
    "/status.json": {"admin"},
}


@pytest.mark.parametrize("path", sorted(MATRIX))
def test_each_role_on_each_endpoint(served: Served, path: str) -> None:
    for role in ROLES:
        r = served.get(path, headers=auth(role))
        expected = 200 if role in MATRIX[path] else 403
        assert r.status_code == expected, (role, path, r.text[:300])
        if expected == 403:
            assert r.json()["error"]["code"] == "forbidden"
            assert role in r.json()["error"]["message"]


def test_no_token_is_401_everywhere(served: Served) -> None:
    for path in MATRIX:
        r = served.get(path)
        assert r.status_code == 401, path
        assert r.json() == {"error": {"code": "unauthenticated", "message": "This needs a token.",
                                      "hint": "Send 'Authorization: Bearer TOKEN'; get one with `goodwill token ROLE`."}}


def test_tampered_and_foreign_tokens_are_refused(served: Served) -> None:
    good = auth("marketing")["Authorization"].split()[1]
    head, body, sig = good.split(".")
    # Claim to be admin with marketing's signature.
    import base64
    import json

    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["role"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    r = served.get("/status.json", headers={"Authorization": f"Bearer {head}.{forged}.{sig}"})
    assert r.status_code == 401
    assert r.json()["error"]["message"] == "The token's signature does not match this server."
    from goodwill.serve import issue_token

    other = issue_token(b"another-server-secret-32-bytes!!", "admin")
    assert served.get("/status.json", headers={"Authorization": f"Bearer {other}"}).status_code == 401


def test_expired_token(served: Served) -> None:
    from tests.serve.conftest import SECRET

    from goodwill.serve import issue_token

    old = issue_token(SECRET, "admin", ttl_seconds=60, now=1_000_000)
    r = served.get("/status.json", headers={"Authorization": f"Bearer {old}"})
    assert r.status_code == 401
    assert r.json()["error"]["message"] == "The token has expired."


def test_marketing_sees_no_verbatims_and_no_vulnerability(served: Served) -> None:
    admin = served.get("/dashboard/broken.json", headers=auth("admin")).json()
    assert any(r.get("verbatims") for r in admin["reasons"]), "the sample should have verbatims to hide"
    for path in ("/dashboard.json", "/dashboard/broken.json", "/dashboard/guard.json"):
        r = served.get(path, headers=auth("marketing"))
        assert r.status_code == 200
        text = r.text
        assert "verbatims" not in text and "representatives" not in text
        assert '"vulnerable"' not in text
        assert ALICE not in text and BOB not in text, "marketing sees aggregates, not people"
        assert ALICE_SAYS not in text and BOB_SAYS not in text
    page = served.get("/dashboard", headers={**auth("marketing"), "Accept": "text/html"})
    assert page.status_code == 200
    assert "What they said" not in page.text
    assert "What they said" in served.get("/dashboard", headers={**auth("cx_lead"), "Accept": "text/html"}).text


def test_agent_sees_the_brief_of_the_customer_in_front_of_them(served: Served) -> None:
    b = served.get(f"/customers/{ALICE}/brief.json", headers=auth("agent")).json()
    assert b["customer"]["vulnerable"] is True
    assert b["recent"][0]["text"] == ALICE_SAYS
    # ...and nobody else's: no list of customers, no dashboard, no other team's feed.
    assert served.get("/dashboard.json", headers=auth("agent")).status_code == 403
    assert served.get("/feeds/field.json", headers=auth("agent")).status_code == 403
    assert BOB_SAYS not in served.get(f"/customers/{ALICE}/brief.json", headers=auth("agent")).text


def test_salesperson_brief_hides_the_vulnerability_flag_but_not_the_guard(served: Served) -> None:
    b = served.get(f"/customers/{ALICE}/brief.json", headers=auth("salesperson")).json()
    assert "vulnerable" not in b["customer"]
    assert b["do_not"], "the guard's answer must still reach sales"
    page = served.get(f"/customers/{ALICE}/brief", headers={**auth("salesperson"), "Accept": "text/html"}).text
    assert "vulnerable circumstances" not in page
    assert "vulnerable circumstances" in served.get(
        f"/customers/{ALICE}/brief", headers={**auth("agent"), "Accept": "text/html"}
    ).text


def test_customer_sees_only_their_own_data(served: Served) -> None:
    me = served.get("/me.json", headers=auth("customer", customer_id=ALICE))
    assert me.status_code == 200
    assert me.json()["customer_id"] == ALICE
    assert BOB not in me.text and BOB_SAYS not in me.text
    # Every route that names a customer refuses a customer's token, whoever is named.
    for path in (f"/customers/{BOB}/brief.json", f"/customers/{ALICE}/brief.json", f"/customers/{BOB}/timeline.json",
                 f"/customers/{BOB}/consents.json", "/rights/requests.json", "/dashboard.json"):
        r = served.get(path, headers=auth("customer", customer_id=ALICE))
        assert r.status_code == 403, path
    r = served.post(f"/customers/{BOB}/erase", json={}, headers=auth("customer", customer_id=ALICE))
    assert r.status_code == 403
    assert served.store.scalar("SELECT count(*) FROM customers WHERE customer_id = ?", [BOB]) == 1
    # A customer's token cannot be minted without naming the customer.
    from tests.serve.conftest import SECRET

    from goodwill.errors import ConfigError
    from goodwill.serve import issue_token

    with pytest.raises(ConfigError, match="must name the customer"):
        issue_token(SECRET, "customer")


def test_bob_sees_bob(served: Served) -> None:
    me = served.get("/me.json", headers=auth("customer", customer_id=BOB)).json()
    assert me["customer_id"] == BOB
    assert ALICE_SAYS not in str(me) and ALICE not in str(me)


def test_team_feed_needs_the_team_or_a_lead(served: Served) -> None:
    assert served.get("/feeds/broadband.json", headers=auth("agent", team="field")).status_code == 403
    assert served.get("/feeds/field.json", headers=auth("agent", team="field")).status_code == 200
    assert served.get("/feeds/field.json", headers=auth("cx_lead")).status_code == 200


def test_cookie_posts_need_our_origin(served: Served) -> None:
    from tests.serve.conftest import token

    cookie = "goodwill_token=" + token("customer", customer_id=ALICE)
    body = {"purpose": "marketing", "channel": "email", "state": "withdrawn"}
    r = served.post("/me/consents", data=body, headers={"Cookie": cookie, "Origin": "http://evil.example"})
    assert r.status_code == 403
    r = served.post("/me/consents", data=body, headers={"Cookie": cookie, "Origin": "http://goodwill.test"})
    assert r.status_code == 200
