"""``goodwill serve``, ``goodwill brief`` and ``goodwill token``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from goodwill.cli.common import JsonOption, StoreOption, default_store, open_cli_store
from goodwill.cli.output import console, emit_json
from goodwill.errors import StoreLockedError


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("brief")(brief)
    app.command("token")(token)


def serve(
    store: StoreOption = default_store(),
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8765,
    policy: Annotated[str | None, typer.Option(help="A roles policy YAML instead of the shipped one.")] = None,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the dashboard in a browser.")] = False,
) -> None:
    """Serve the API, the dashboard, the customer brief and the feeds over a store.

    While it runs the server owns the store; `goodwill status`, `timeline` and `brief` on the
    same store go through it. Example: goodwill serve --store .goodwill/demo.duckdb
    """
    from goodwill.serve import Settings, issue_token, run_server, server_secret

    with open_cli_store(store) as s:
        login = issue_token(server_secret(s), "admin", subject="cli-login", ttl_seconds=8 * 3600)
    console.print(f"goodwill is serving {store} on http://{host}:{port}", markup=False, highlight=False)
    console.print(f"Open as administrator: http://{host}:{port}/login?token={login}", markup=False, highlight=False)
    console.print("Tokens for other roles: goodwill token ROLE (while this runs, in another terminal). Ctrl-C stops.")
    run_server(store, host, port, open_browser, settings=Settings(policy_path=policy))


def _through_server(command: str, args: dict[str, Any], store: str) -> dict[str, Any]:
    from goodwill.serve.client import forward

    return forward(command, args, store)


def brief(
    customer: Annotated[str, typer.Argument(help="A customer id, e.g. cfpb:3790251 or telco:7590-VHVEG.")],
    store: StoreOption = default_store(),
    as_json: JsonOption = False,
) -> None:
    """The brief of one customer: open problems, promises owed, what they said, what not to do now."""
    from goodwill.guard import Guard
    from goodwill.serve.app import jsonable
    from goodwill.serve.brief import BriefContext, build_brief

    try:
        with open_cli_store(store) as s:
            data = jsonable(build_brief(BriefContext(s, Guard(s)), customer))
    except StoreLockedError:
        data = _through_server("brief", {"customer_id": customer}, store)
    if as_json:
        emit_json(data)
        return
    out = console.print
    out(f"[bold]{customer}[/] ({', '.join(data['customer_ids'])})", highlight=False)
    if data["customer"].get("vulnerable"):
        out("[red]In vulnerable circumstances: take extra care.[/]")
    out("[bold]Do not, now:[/]")
    for x in data["do_not"] or [{"action": "nothing the guard would stop", "verdict": "", "reasons": []}]:
        out(f"  {x['action']} {x['verdict']}: " + "; ".join(r["reason"] for r in x["reasons"]), markup=False)
    out("[bold]Promises owed:[/]")
    for p in data["promises_owed"] or [{"status": "none", "description": "", "deadline": ""}]:
        out(f"  [{p['status']}] {p.get('description') or p.get('action') or ''} due {str(p.get('deadline') or '')[:10]}", markup=False)
    out("[bold]Open problems:[/]")
    for c in data["open_problems"] or [{"kind": "none", "issue": "", "days_open": ""}]:
        out(f"  {c['kind']}: {c.get('issue') or c.get('product') or ''} ({c['days_open']} days)", markup=False)
    out(f"[bold]Feeling:[/] {data['feeling']['mood']}")
    for r in data["recent"]:
        out(f"  {str(r['occurred_at'])[:10]} {r.get('sentiment') or ''}: {str(r.get('text') or '')[:160]}", markup=False)
    out("[bold]What would help:[/]")
    for h in data["would_help"]:
        out(f"  - {h['do']}", markup=False)


def token(
    role: Annotated[str, typer.Argument(help="agent, field_engineer, salesperson, cx_lead, compliance, marketing, customer or admin.")],
    store: StoreOption = default_store(),
    customer: Annotated[str | None, typer.Option("--customer", help="The customer a customer's token is for.")] = None,
    team: Annotated[str | None, typer.Option(help="The team whose feed the token reads.")] = None,
    days: Annotated[int, typer.Option(help="Days until the token expires.")] = 30,
    as_json: JsonOption = False,
) -> None:
    """Issue a bearer token for a role, signed with this store's server secret (or $GOODWILL_SECRET).

    Example: goodwill token customer --customer telco:7590-VHVEG
    """
    from goodwill.serve import issue_token, server_secret

    try:
        with open_cli_store(store) as s:
            tok = issue_token(server_secret(s), role, customer_id=customer, team=team, ttl_seconds=days * 86400)
    except StoreLockedError:
        tok = _through_server("token", {"role": role, "customer_id": customer, "team": team, "ttl_seconds": days * 86400}, store)["token"]
    if as_json:
        emit_json({"role": role, "customer_id": customer, "team": team, "token": tok})
        return
    print(tok)
