"""Bearer tokens that carry a role, signed with the server's secret (HMAC-SHA256).

A token is ``gw1.<payload>.<signature>``, both parts base64url without padding; the
payload is JSON: role, subject, customer id (customers), team (front-line roles),
issued and expiry times. No database lookup is needed to check one, so checking a
token costs microseconds on the brief's hot path.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from typing import Any

from goodwill.errors import ConfigError, GoodwillError
from goodwill.serve.policy import ROLES
from goodwill.store import Store

__all__ = [
    "AuthError",
    "ForbiddenError",
    "Principal",
    "issue_token",
    "server_secret",
    "verify_token",
]

PREFIX = "gw1"
SECRET_ENV = "GOODWILL_SECRET"
SECRET_META = "serve_secret"
DEFAULT_TTL = 30 * 24 * 3600


class AuthError(GoodwillError):
    code = "unauthenticated"
    http_status = 401


class ForbiddenError(GoodwillError):
    code = "forbidden"
    http_status = 403


@dataclass(frozen=True)
class Principal:
    role: str
    subject: str
    customer_id: str | None = None
    team: str | None = None
    expires: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "subject": self.subject, "customer_id": self.customer_id, "team": self.team}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def server_secret(store: Store | None = None) -> bytes:
    """The signing secret: ``$GOODWILL_SECRET``, else one kept in the store's meta (made once)."""
    env = os.environ.get(SECRET_ENV)
    if env:
        if len(env) < 32:
            raise ConfigError(
                f"${SECRET_ENV} is too short to sign tokens safely ({len(env)} characters).",
                hint="Use at least 32 random characters, e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`.",
            )
        return env.encode("utf-8")
    if store is None:
        raise ConfigError(
            "No secret to sign tokens with.", hint=f"Set ${SECRET_ENV} or open the store the server uses."
        )
    value = store.get_meta(SECRET_META)
    if value is None:
        value = secrets.token_hex(32)
        store.set_meta(SECRET_META, value)
    return value.encode("utf-8")


def issue_token(
    secret: bytes,
    role: str,
    *,
    subject: str | None = None,
    customer_id: str | None = None,
    team: str | None = None,
    ttl_seconds: int = DEFAULT_TTL,
    now: float | None = None,
) -> str:
    if role not in ROLES:
        raise ConfigError(f"{role!r} is not a role.", hint=f"Use one of: {', '.join(ROLES)}.")
    if role == "customer" and not customer_id:
        raise ConfigError("A customer's token must name the customer.", hint="Pass --customer ID.")
    if role != "customer" and customer_id:
        raise ConfigError(
            "Only a customer's token carries a customer id.",
            hint="Staff roles read customers through their scopes; drop --customer.",
        )
    issued = int(now if now is not None else time.time())
    payload: dict[str, Any] = {
        "role": role,
        "sub": subject or (customer_id if role == "customer" else role),
        "iat": issued,
        "exp": issued + int(ttl_seconds),
    }
    if customer_id:
        payload["cid"] = customer_id
    if team:
        payload["team"] = team
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    sig = _b64(hmac.new(secret, f"{PREFIX}.{body}".encode("ascii"), hashlib.sha256).digest())
    return f"{PREFIX}.{body}.{sig}"


def verify_token(secret: bytes, token: str, *, now: float | None = None) -> Principal:
    """The principal a token speaks for, or :class:`AuthError` saying why not."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise AuthError("That is not a goodwill token.", hint="Get one with `goodwill token ROLE`.")
    expected = hmac.new(secret, f"{PREFIX}.{parts[1]}".encode("ascii"), hashlib.sha256).digest()
    try:
        given = _unb64(parts[2])
        payload = json.loads(_unb64(parts[1]))
    except (ValueError, UnicodeDecodeError) as exc:
        raise AuthError("The token is damaged.", hint="Copy it again, whole.") from exc
    if not hmac.compare_digest(expected, given):
        raise AuthError(
            "The token's signature does not match this server.",
            hint="It was issued by another server or altered; get a new one with `goodwill token ROLE`.",
        )
    if not isinstance(payload, dict) or payload.get("role") not in ROLES:
        raise AuthError("The token names no known role.", hint="Get a new one with `goodwill token ROLE`.")
    exp = payload.get("exp")
    if isinstance(exp, int) and exp < (now if now is not None else time.time()):
        raise AuthError("The token has expired.", hint="Get a new one with `goodwill token ROLE`.")
    cid = payload.get("cid")
    if payload["role"] == "customer" and not cid:
        raise AuthError("A customer's token must name the customer.", hint="Get a new one with --customer ID.")
    return Principal(payload["role"], str(payload.get("sub") or payload["role"]), cid, payload.get("team"), exp)
