"""The HTTP app: API, pages and feeds over one store, one permission check per view.

Every page has a JSON twin (``/x`` and ``/x.json``): both call the same view function,
ask for the same scope and pass the result through the policy's redaction before it
becomes JSON or HTML. Every error, on every route, is the one shape
``{"error": {"code", "message", "hint"}}`` (a page shows the same three lines).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import functools
import json
import tempfile
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from goodwill import rights
from goodwill.errors import ConfigError, GoodwillError, NotFoundError
from goodwill.guard import Guard
from goodwill.measure.promises import owed
from goodwill.serve.auth import (
    AuthError,
    ForbiddenError,
    Principal,
    issue_token,
    server_secret,
    verify_token,
)
from goodwill.serve.brief import BriefContext, build_brief
from goodwill.serve.cache import Refreshing
from goodwill.serve.policy import Policy, load_policy
from goodwill.serve.scopes import SCOPES
from goodwill.serve.views import SECTIONS, feed, section_or_error
from goodwill.store import Store
from goodwill.store.timeline import timeline

__all__ = ["Settings", "create_app"]

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

COOKIE = "goodwill_token"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


@dataclass
class Settings:
    """How the app runs. ``now`` is a clock (tests pin it).

    Dashboard sections (aggregates over millions of rows) are not computed per request: each is
    kept with the store's write generation and refreshed in the background (see
    goodwill.serve.cache). A write this process makes marks them stale at once. ``cache_ttl_s``
    bounds how long a section may miss writes this process cannot see (other processes on a
    shared PostgreSQL); 0 turns the cache off, so every request computes. On DuckDB the server
    is the only process that may write the file, so an unchanged generation means unchanged
    facts and only the clock moves: sections are recomputed every ``cache_clock_s`` instead.
    Refreshes run one at a time at ``refresh_nice`` (Linux: a lower CPU priority per thread).
    """

    secret: bytes | None = None
    policy_path: str | None = None
    cache_ttl_s: float = 15.0
    cache_clock_s: float = 300.0
    refresh_nice: int = 10
    now: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))
    guard_pack: str | None = None


# -- JSON --------------------------------------------------------------------------------


_PLAIN = frozenset({str, int, bool, type(None)})


def jsonable(v: Any) -> Any:
    if type(v) in _PLAIN:  # most values of a brief: skip the checks below
        return v
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple | set | frozenset):
        return [jsonable(x) for x in v]
    if isinstance(v, dt.datetime | dt.date):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, float) and v != v:  # NaN is not JSON
        return None
    if isinstance(v, bytes):
        return v.hex()
    return v


def error_body(code: str, message: str, hint: str | None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "hint": hint}}


# -- request bodies ----------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenIn(_Body):
    role: str
    customer_id: str | None = None
    team: str | None = None
    subject: str | None = None
    ttl_seconds: int = Field(default=30 * 24 * 3600, ge=60, le=366 * 24 * 3600)


class ConsentIn(_Body):
    purpose: str = Field(min_length=1, max_length=64, examples=["marketing"])
    channel: str = Field(default="any", max_length=32, examples=["email"])
    state: str = Field(pattern="^(granted|withdrawn|objected)$", examples=["withdrawn"])
    source: str | None = Field(default=None, max_length=200)


class SelfRequestIn(_Body):
    kind: str = Field(examples=["erasure"])
    details: str | None = Field(default=None, max_length=4000, description="what to correct, or anything else")


class RequestIn(_Body):
    customer_id: str
    kind: str
    channel: str | None = None
    details: dict[str, Any] | None = None


class VerifyIn(_Body):
    method: str = Field(min_length=1, examples=["matched account number and postcode"])


class ExtendIn(_Body):
    months: int = Field(ge=1, le=2)
    reason: str = Field(min_length=1)


class ReasonIn(_Body):
    reason: str = Field(min_length=1)


class RectifyIn(_Body):
    table: str
    row_key: dict[str, Any]
    column: str
    new_value: Any
    reason: str = Field(min_length=1)


class EraseIn(_Body):
    request_id: str | None = None
    keep_counts: bool = True


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}


async def read_form(request: Request) -> dict[str, str]:
    """A URL-encoded form (what pages and htmx post), without python-multipart: no file uploads here."""
    ctype = request.headers.get("content-type", "")
    if ctype and not ctype.startswith("application/x-www-form-urlencoded"):
        raise ConfigError(f"goodwill does not read {ctype.split(';')[0]} bodies.", hint="Send JSON or a URL-encoded form.")
    text = (await request.body()).decode("utf-8", errors="replace")
    return {k: v for k, v in parse_qsl(text, keep_blank_values=False)}


async def read_body(request: Request, model: type[M]) -> M:
    """A JSON body, or a form posted by a page (htmx sends forms), validated by one model."""
    ctype = request.headers.get("content-type", "")
    try:
        if ctype.startswith("application/json"):
            raw: Any = await request.json()
        else:
            raw = await read_form(request)
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "body"
        raise ConfigError(f"Invalid request: {where}: {first['msg']}.", hint="See /openapi.json for the body.") from exc
    except ValueError as exc:
        raise ConfigError("The request body is not valid JSON.", hint="Send a JSON object.") from exc


# -- the app -----------------------------------------------------------------------------


class SecurityHeaders:
    """The same security headers on every response, and no caching of anything but static files.

    A plain ASGI middleware: Starlette's ``@app.middleware("http")`` runs every request through
    a task and a memory stream of its own, a cost paid on the event loop at every call."""

    HEADERS = (
        ("Content-Security-Policy", CSP),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Frame-Options", "DENY"),
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for k, v in self.HEADERS:
                    headers.setdefault(k, v)
                if not static:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def section_ttl(store: Store, cfg: Settings) -> float:
    """How long a section whose generation has not moved is served before it is recomputed."""
    if cfg.cache_ttl_s <= 0:
        return 0.0
    return cfg.cache_clock_s if store.engine == "duckdb" else cfg.cache_ttl_s


def create_app(store: Store, settings: Settings | None = None) -> FastAPI:
    """The app over ``store``. The app owns the store while it runs (one process per DuckDB file)."""
    cfg = settings or Settings()
    policy: Policy = load_policy(cfg.policy_path)
    secret = cfg.secret or server_secret(store)
    guard = Guard(store, cfg.guard_pack)
    brief_ctx = BriefContext(store, guard)
    # One section refresh at a time, below the requests' priority: a write makes every section
    # stale at once, and six aggregates over the book computed together took both cores from
    # the briefs for seconds (measured in benchmarks/load_serve.py --write-every).
    sections: Refreshing[dict[str, Any]] = Refreshing(
        store, section_ttl(store, cfg), workers=1, name="goodwill-section", nice=cfg.refresh_nice
    )
    # The store's connection runs one statement at a time, and a DuckDB connection shared by
    # threads hands one thread's result to another (seen in a test), so every request's store
    # work runs on this one thread, in the order asked. The event loop stays free meanwhile for
    # cached sections, tokens and rendering; long reads run on their own connections (cache.py).
    owner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="goodwill-store")

    async def on_store(fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(owner, functools.partial(fn, *args, **kw))

    here = resources.files("goodwill.serve")
    # Starlette turns autoescaping on for .html templates.
    templates = Jinja2Templates(directory=str(here.joinpath("templates")))
    templates.env.filters["pct"] = lambda v: "–" if v is None else f"{100 * float(v):.1f}%"
    templates.env.filters["num"] = lambda v, d=2: "–" if v is None else f"{float(v):,.{d}f}"
    templates.env.filters["day"] = lambda v: "–" if v is None else (v[:10] if isinstance(v, str) else f"{v:%Y-%m-%d}")
    templates.env.filters["tojson_safe"] = lambda v: json.dumps(jsonable(v)).replace("</", "<\\/")

    app = FastAPI(
        title="goodwill",
        version="0.1.0",
        description=(
            "Who sees what: the customer brief, the dashboard, feeds, rights and the guard. "
            "Send `Authorization: Bearer TOKEN` (get one with `goodwill token ROLE`). "
            "Every error is `{\"error\": {\"code\", \"message\", \"hint\"}}`. Scopes: "
            + "; ".join(f"`{k}`: {v}" for k, v in SCOPES.items())
        ),
        docs_url=None,  # Swagger UI and ReDoc load from a CDN; the OpenAPI document is enough.
        redoc_url=None,
    )
    app.state.store = store
    app.state.policy = policy
    app.state.sections = sections
    app.state.brief_context = brief_ctx
    app.state.on_store = on_store
    app.mount("/static", StaticFiles(directory=str(here.joinpath("static"))), name="static")

    # -- errors, one shape ---------------------------------------------------------------
    def wants_page(request: Request) -> bool:
        path = request.url.path
        if path.endswith(".json") or path.startswith(("/api", "/openapi")):
            return False
        return "text/html" in request.headers.get("accept", "")

    def error_response(request: Request, status: int, body: dict[str, Any]) -> Response:
        if wants_page(request):
            return templates.TemplateResponse(
                request, "error.html", {"error": body["error"], "status": status, "me": None}, status_code=status
            )
        return JSONResponse(body, status_code=status)

    @app.exception_handler(GoodwillError)
    async def _goodwill_error(request: Request, exc: GoodwillError) -> Response:
        if isinstance(exc, AuthError) and wants_page(request):
            return RedirectResponse("/login", status_code=303)
        return error_response(request, exc.http_status, exc.to_dict())

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        codes = {404: "not_found", 405: "method_not_allowed"}
        hints = {404: "See /openapi.json for the routes.", 405: "See /openapi.json for the methods."}
        return error_response(
            request, exc.status_code, error_body(codes.get(exc.status_code, "http_error"), str(exc.detail), hints.get(exc.status_code))
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid"}
        where = ".".join(str(x) for x in first["loc"])
        return error_response(
            request, 422, error_body("invalid_request", f"Invalid request: {where}: {first['msg']}.", "See /openapi.json.")
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        return error_response(
            request,
            500,
            error_body("internal_error", f"The server failed: {type(exc).__name__}.", "See the server log; report it if it repeats."),
        )

    app.add_middleware(SecurityHeaders)

    # -- who is asking -------------------------------------------------------------------
    def principal(request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token:
                raise AuthError("Send the token as 'Authorization: Bearer TOKEN'.", hint="Get one with `goodwill token ROLE`.")
            return verify_token(secret, token.strip())
        cookie = request.cookies.get(COOKIE)
        if cookie:
            if request.method not in ("GET", "HEAD"):
                # A cookie rides along on cross-site requests; a page of ours always sends its Origin.
                origin = request.headers.get("origin")
                host = request.headers.get("host")
                if not origin or origin.split("://", 1)[-1] != host:
                    raise ForbiddenError(
                        "This request did not come from a goodwill page.", hint="Post from the page itself, or send a bearer token."
                    )
            return verify_token(secret, cookie)
        raise AuthError("This needs a token.", hint="Send 'Authorization: Bearer TOKEN'; get one with `goodwill token ROLE`.")

    def need(request: Request, scope: str) -> Principal:
        who = principal(request)
        if not policy.allows(who.role, scope):
            raise ForbiddenError(
                f"The role {who.role} may not {SCOPES[scope]}.",
                hint="Ask an administrator for a token with a role that may (see the policy's roles).",
            )
        return who

    def render(request: Request, who: Principal, data: dict[str, Any], template: str, **extra: Any) -> Response:
        shown = jsonable(policy.redact(who.role, data))
        if request.url.path.endswith(".json"):
            return JSONResponse(shown)
        ctx = {"data": shown, "me": who, "scopes": policy.role(who.role).scopes, "role_label": policy.role(who.role).label, **extra}
        return templates.TemplateResponse(request, template, ctx)

    def now() -> dt.datetime:
        return cfg.now()

    # -- routes --------------------------------------------------------------------------
    @app.get("/health", tags=["meta"])
    async def health() -> dict[str, Any]:
        """Liveness: no token needed, says nothing about customers."""
        return {"ok": True, "engine": store.engine}

    @app.get("/login", response_class=HTMLResponse, tags=["pages"], include_in_schema=False)
    async def login(request: Request, token: str | None = None) -> Response:
        if token:
            who = verify_token(secret, token)
            resp = RedirectResponse(home_of(who), status_code=303)
            resp.set_cookie(COOKIE, token, httponly=True, samesite="strict", max_age=8 * 3600)
            return resp
        return templates.TemplateResponse(request, "login.html", {"me": None})

    @app.post("/login", include_in_schema=False)
    async def login_post(request: Request) -> Response:
        token = (await read_form(request)).get("token", "").strip()
        who = verify_token(secret, token)
        resp = RedirectResponse(home_of(who), status_code=303)
        resp.set_cookie(COOKIE, token, httponly=True, samesite="strict", max_age=8 * 3600)
        return resp

    @app.get("/logout", include_in_schema=False)
    async def logout() -> Response:
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(COOKIE)
        return resp

    def home_of(who: Principal) -> str:
        scopes = policy.role(who.role).scopes
        if "self" in scopes:
            return "/me"
        if any(s.startswith("dash_") for s in scopes):
            return "/dashboard"
        if "feed" in scopes and who.team:
            return f"/feeds/{who.team}"
        return "/whoami"

    @app.get("/", include_in_schema=False)
    async def index(request: Request) -> Response:
        return RedirectResponse(home_of(principal(request)), status_code=303)

    @app.get("/whoami", tags=["meta"], include_in_schema=False)
    @app.get("/whoami.json", tags=["meta"])
    async def whoami(request: Request) -> Response:
        """The token's role, customer and team, and the scopes the policy gives that role."""
        who = principal(request)
        data = {**who.to_dict(), "scopes": sorted(policy.role(who.role).scopes), "policy": policy.version}
        return render(request, who, data, "whoami.html")

    @app.get("/status.json", tags=["meta"])
    async def status(request: Request) -> Response:
        """Row counts per table (what `goodwill status` shows)."""
        who = need(request, "status")
        from goodwill.store.status import store_status

        data = await on_store(store_status, store)
        data["counts"] = data["tables"]  # the page template's name for them
        return render(request, who, data, "whoami.html")

    @app.post("/tokens", tags=["meta"], openapi_extra=_schema(TokenIn))
    async def tokens(request: Request) -> Response:
        """Issue a token for a role (what `goodwill token` does while the server holds the store)."""
        need(request, "tokens")
        b = await read_body(request, TokenIn)
        tok = issue_token(secret, b.role, subject=b.subject, customer_id=b.customer_id, team=b.team, ttl_seconds=b.ttl_seconds)
        return JSONResponse({"token": tok, "role": b.role, "customer_id": b.customer_id, "team": b.team})

    # dashboard
    def allowed_sections(who: Principal) -> list[str]:
        return [n for n, (_, scope, _f) in SECTIONS.items() if policy.allows(who.role, scope)]

    section_bodies: dict[tuple[str, str], tuple[dict[str, Any], bytes]] = {}

    def section_maker(name: str) -> Callable[[Store], dict[str, Any]]:
        return lambda view: section_or_error(name, view, now())

    async def section_data(name: str) -> dict[str, Any]:
        if not sections.enabled:
            return await on_store(section_or_error, name, store, now())
        # Done at once unless this is the section's first computation (then it is awaited here,
        # shared by every request that asks meanwhile, on a connection of its own).
        return await asyncio.wrap_future(sections.fetch(name, section_maker(name)))

    def warm() -> None:
        """Start computing every section now (the server calls this as it starts)."""
        sections.warm({n: section_maker(n) for n in SECTIONS})

    app.state.warm = warm

    @app.get("/dashboard", tags=["dashboard"], include_in_schema=False)
    @app.get("/dashboard.json", tags=["dashboard"])
    async def dashboard(request: Request) -> Response:
        """Every dashboard section the role may see."""
        who = principal(request)
        names = allowed_sections(who)
        if not names:
            raise ForbiddenError(f"The role {who.role} has no dashboard.", hint=f"Its home is {home_of(who)}.")
        got = await asyncio.gather(*(section_data(n) for n in names))
        data = {"as_of": now(), "sections": {n: {"title": SECTIONS[n][0], **d} for n, d in zip(names, got, strict=True)}}
        return render(request, who, data, "dashboard.html")

    @app.get("/dashboard/{name}", tags=["dashboard"], include_in_schema=False)
    @app.get("/dashboard/{name}.json", tags=["dashboard"])
    async def dashboard_section(request: Request, name: str) -> Response:
        """One dashboard section (broken, promises, silent, loyalty, guard, rights)."""
        if name not in SECTIONS:
            raise NotFoundError(f"There is no dashboard section {name!r}.", hint=f"Sections: {', '.join(SECTIONS)}.")
        who = need(request, SECTIONS[name][1])
        data = await section_data(name)
        if not data["ok"] and request.url.path.endswith(".json"):
            return JSONResponse({"error": data["error"]}, status_code=int(data["status"]))
        if request.url.path.endswith(".json"):
            # The same cached section, shown to the same role, is the same bytes: made once per
            # refresh, not per request (8-14 KB of JSON cost ~0.5 ms each time on the event loop).
            key = (name, who.role)
            hit = section_bodies.get(key)
            if hit is None or hit[0] is not data:
                shown = jsonable(policy.redact(who.role, {"name": name, "title": SECTIONS[name][0], **data}))
                hit = section_bodies[key] = (data, bytes(JSONResponse(shown).body))
            return Response(hit[1], media_type="application/json")
        template = "section_fragment.html" if request.headers.get("hx-request") == "true" else "section_page.html"
        return render(request, who, {"name": name, "title": SECTIONS[name][0], **data}, template)

    # the brief
    @app.get("/customers/{customer_id}/brief", tags=["brief"], include_in_schema=False)
    @app.get("/customers/{customer_id}/brief.json", tags=["brief"])
    async def brief(request: Request, customer_id: str) -> Response:
        """The brief of one customer at the point of contact."""
        who = need(request, "brief")
        return render(request, who, await on_store(build_brief, brief_ctx, customer_id, now=now()), "brief.html")

    @app.get("/brief", include_in_schema=False)
    async def brief_lookup(request: Request, customer_id: str = "") -> Response:
        need(request, "brief")
        if not customer_id.strip():
            raise ConfigError("Which customer?", hint="Type their customer id.")
        return RedirectResponse(f"/customers/{customer_id.strip()}/brief", status_code=303)

    @app.get("/customers/{customer_id}/timeline.json", tags=["brief"])
    async def timeline_json(request: Request, customer_id: str) -> Response:
        """One person's full timeline across functions."""
        who = need(request, "timeline")
        return render(request, who, (await on_store(timeline, store, customer_id)).to_dict(), "whoami.html")

    # feeds
    def feed_principal(request: Request, team: str) -> Principal:
        who = need(request, "feed")
        if who.team != team and not policy.allows(who.role, "feed_any_team"):
            raise ForbiddenError(
                f"This token reads the feed of team {who.team or '(none)'}, not {team}.",
                hint="Ask for a token of that team (goodwill token ROLE --team TEAM).",
            )
        return who

    @app.get("/feeds/{team}", tags=["feeds"], include_in_schema=False)
    @app.get("/feeds/{team}.json", tags=["feeds"])
    async def team_feed(request: Request, team: str) -> Response:
        """What needs action now for one team."""
        who = feed_principal(request, team)
        quiet = await section_data("silent")
        return render(request, who, await on_store(feed, store, team, now(), quiet), "feed.html")

    @app.get("/feeds/{team}/events", tags=["feeds"])
    async def team_events(request: Request, team: str, interval: float = 15.0, max_events: int = 0) -> Response:
        """Server-sent events: one `feed` event per new item (the whole feed on connect), checked every
        `interval` seconds; `max_events` > 0 ends the stream after that many events."""
        who = feed_principal(request, team)
        interval = max(1.0, interval)

        async def events() -> AsyncIterator[bytes]:
            seen: set[str] = set()
            sent = 0
            while True:
                quiet = await section_data("silent")
                data = policy.redact(who.role, await on_store(feed, store, team, now(), quiet))
                for item in data["items"]:
                    if item["id"] in seen:
                        continue
                    seen.add(item["id"])
                    sent += 1
                    yield f"event: feed\nid: {item['id']}\ndata: {json.dumps(jsonable(item))}\n\n".encode()
                    if max_events and sent >= max_events:
                        return
                yield b": keep-alive\n\n"
                if await request.is_disconnected():
                    return
                await asyncio.sleep(interval)

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    # the customer's own page
    def customer_id_of(who: Principal) -> str:
        assert who.customer_id is not None  # verify_token refuses a customer token without one
        return who.customer_id

    def own_page(who: Principal) -> dict[str, Any]:
        cid = customer_id_of(who)
        person = rights.resolve_person(store, cid)
        held = rights.collect(store, person)
        owed, _ = brief_promises(cid)
        return {
            "customer_id": cid,
            "customer_ids": list(person.customer_ids),
            "held": {name: {"rows": t.num_rows, "sample": t.slice(0, 20).to_pylist()} for name, t in sorted(held.items())},
            "promises": owed,
            "consents": [c for c in rights.consent_history(store, cid)],
            "requests": [r.to_dict(now().date()) for r in rights.list_requests(store, person_id=person.person_id)],
            "request_kinds": list(rights.KINDS),
        }

    def brief_promises(cid: str) -> tuple[list[dict[str, Any]], bool]:
        if store.table_exists("promise_status") and store.get_meta("promise_ledger_as_of") is not None:
            rows = owed(store, cid)
            return [
                {
                    "promise_id": r["promise_id"],
                    "action": r["action"],
                    "description": r["description"],
                    "made_at": r["made_at"],
                    "deadline": r["deadline"],
                    "status": r["status"] or "open",
                    "kept_at": r["kept_at"],
                }
                for r in rows
            ], True
        return [], False

    @app.get("/me", tags=["me"], include_in_schema=False)
    @app.get("/me.json", tags=["me"])
    async def me(request: Request) -> Response:
        """A customer's own page: what we hold, what we promised and whether we kept it, consents, requests."""
        who = need(request, "self")
        return render(request, who, await on_store(own_page, who), "me.html")

    @app.post("/me/consents", tags=["me"], openapi_extra=_schema(ConsentIn))
    async def me_consent(request: Request) -> Response:
        """Give, withdraw or object to a use of one's data."""
        who = need(request, "self")
        body = await read_body(request, ConsentIn)
        state = await on_store(
            rights.record_consent, store, customer_id_of(who), body.purpose, body.state, channel=body.channel,
            source=body.source or "customer's own page", actor=f"customer:{who.subject}",
        )
        return after_post(request, "/me", state.to_dict())

    @app.post("/me/requests", tags=["me"], openapi_extra=_schema(SelfRequestIn))
    async def me_request(request: Request) -> Response:
        """Ask for access, a copy, a correction, erasure, restriction, or object."""
        who = need(request, "self")
        body = await read_body(request, SelfRequestIn)
        req = await on_store(
            rights.create_request, store, customer_id_of(who), body.kind, channel="customer page",
            details={"text": body.details} if body.details else None, actor=f"customer:{who.subject}",
        )
        return after_post(request, "/me", req.to_dict(now().date()), status=201)

    @app.get("/me/export", tags=["me"])
    async def me_export(request: Request) -> Response:
        """Download everything held about oneself, as a zip (JSON and CSV per table)."""
        who = need(request, "self")
        out = Path(tempfile.mkdtemp(prefix="goodwill-export-"))
        pkg = await on_store(rights.export_person, store, customer_id_of(who), out, actor=f"customer:{who.subject}")
        return FileResponse(pkg.path, media_type="application/zip", filename=Path(pkg.path).name)

    def after_post(request: Request, page: str, data: dict[str, Any], status: int = 200) -> Response:
        if request.headers.get("hx-request") == "true" or "text/html" in request.headers.get("accept", ""):
            resp = Response(status_code=204 if request.headers.get("hx-request") == "true" else 303)
            resp.headers["HX-Redirect" if request.headers.get("hx-request") == "true" else "location"] = page
            return resp
        return JSONResponse(jsonable(data), status_code=status)

    # rights, for staff
    @app.get("/rights/requests", tags=["rights"], include_in_schema=False)
    @app.get("/rights/requests.json", tags=["rights"])
    async def rights_list(request: Request, status: str | None = None, overdue: bool = False) -> Response:
        """Rights requests, soonest deadline first, with days left."""
        who = need(request, "dash_rights")
        reqs = await on_store(rights.list_requests, store, status=status, overdue_only=overdue, today=now().date())
        return render(request, who, {"requests": [r.to_dict(now().date()) for r in reqs]}, "whoami.html")

    @app.post("/rights/requests", tags=["rights"], status_code=201, openapi_extra=_schema(RequestIn))
    async def rights_create(request: Request) -> Response:
        """Record a request received from a customer by another channel."""
        who = need(request, "rights")
        body = await read_body(request, RequestIn)
        req = await on_store(
            rights.create_request, store, body.customer_id, body.kind, channel=body.channel, details=body.details, actor=who.subject
        )
        return JSONResponse(jsonable(req.to_dict(now().date())), status_code=201)

    @app.get("/rights/requests/{request_id}.json", tags=["rights"])
    async def rights_get(request: Request, request_id: str) -> Response:
        """One request with its audit trail."""
        who = need(request, "dash_rights")
        def read() -> dict[str, Any]:
            return {**rights.get_request(store, request_id).to_dict(now().date()), "events": rights.events_for(store, request_id)}

        return render(request, who, await on_store(read), "whoami.html")

    @app.post("/rights/requests/{request_id}/{step}", tags=["rights"])
    async def rights_step(request: Request, request_id: str, step: str) -> Response:
        """Move a request on: verify (method), extend (months, reason), complete, refuse (reason), fulfil."""
        who = need(request, "rights")
        actor = who.subject
        today = now().date()
        if step == "verify":
            method = (await read_body(request, VerifyIn)).method
            out: dict[str, Any] = (await on_store(rights.verify_identity, store, request_id, method, actor=actor)).to_dict(today)
        elif step == "extend":
            b = await read_body(request, ExtendIn)
            out = (await on_store(rights.extend_request, store, request_id, b.months, b.reason, actor=actor)).to_dict(today)
        elif step == "complete":
            out = (await on_store(rights.complete_request, store, request_id, actor=actor)).to_dict(today)
        elif step == "refuse":
            reason = (await read_body(request, ReasonIn)).reason
            out = (await on_store(rights.refuse_request, store, request_id, reason, actor=actor)).to_dict(today)
        elif step == "fulfil":
            folder = tempfile.mkdtemp(prefix="goodwill-fulfil-")
            req, summary = await on_store(rights.fulfil_request, store, request_id, out=folder, actor=actor)
            out = {**req.to_dict(today), "result": summary}
        else:
            raise NotFoundError(f"There is no step {step!r}.", hint="Steps: verify, extend, complete, refuse, fulfil.")
        return JSONResponse(jsonable(out))

    @app.get("/customers/{customer_id}/consents.json", tags=["rights"])
    async def consents_of(request: Request, customer_id: str) -> Response:
        """A customer's consent history."""
        who = need(request, "rights")
        return render(request, who, {"consents": await on_store(rights.consent_history, store, customer_id)}, "whoami.html")

    @app.post("/customers/{customer_id}/consents", tags=["rights"], openapi_extra=_schema(ConsentIn))
    async def consent_for(request: Request, customer_id: str) -> Response:
        """Record a consent a customer gave or withdrew by another channel."""
        who = need(request, "rights")
        b = await read_body(request, ConsentIn)

        def record() -> Any:
            rights.resolve_person(store, customer_id)
            return rights.record_consent(
                store, customer_id, b.purpose, b.state, channel=b.channel, source=b.source or f"staff:{who.subject}", actor=who.subject
            )

        return JSONResponse(jsonable((await on_store(record)).to_dict()))

    @app.post("/customers/{customer_id}/rectify", tags=["rights"], openapi_extra=_schema(RectifyIn))
    async def rectify(request: Request, customer_id: str) -> Response:
        """Correct one stored value, keeping its history."""
        who = need(request, "rights")
        b = await read_body(request, RectifyIn)
        res = await on_store(rights.rectify, store, customer_id, b.table, b.row_key, b.column, b.new_value, reason=b.reason, actor=who.subject)
        return JSONResponse(jsonable(res if isinstance(res, dict) else getattr(res, "to_dict", lambda: {"ok": True})()))

    @app.post("/customers/{customer_id}/erase", tags=["rights"], openapi_extra=_schema(EraseIn))
    async def erase(request: Request, customer_id: str) -> Response:
        """Erase a person (journaled; resumes after a crash)."""
        who = need(request, "rights")
        b = await read_body(request, EraseIn)
        res = await on_store(rights.erase_person, store, customer_id, request_id=b.request_id, keep_counts=b.keep_counts, actor=who.subject)
        return JSONResponse(jsonable(res.to_dict()))

    # the guard, what-if
    @app.post("/vet", tags=["guard"])
    async def vet(request: Request) -> Response:
        """Ask the guard about one action; nothing is recorded (what-if)."""
        who = need(request, "vet")
        try:
            raw = await request.json()
        except ValueError as exc:
            raise ConfigError("The request body is not valid JSON.", hint='e.g. {"customer_id": "...", "kind": "upsell"}') from exc
        d = await on_store(guard.vet, raw, record=False, as_of=now())
        return JSONResponse(jsonable(policy.redact(who.role, d.to_dict())))

    return app
